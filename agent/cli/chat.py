"""The `shotsmith chat` command: talk to a storyboard in the terminal, one correction per line.

A chat draws the scene (or picks up a session kept in an output folder), shows the shot list as a table,
and then reads lines until the person leaves: plain lines go to the session as corrections, lines that
start with a slash steer the chat itself. The session is checkpointed in its folder after every step, so
leaving at any point keeps it, and `--session` takes it up again later.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

import typer

from agent.config import ConfigError, make_context, read_library
from agent.cli.display import Report, show
from agent.session import Event, Session, SessionError
from agent.cli.chat_views import list_sessions, plan_table
from agent.cli.options import CastFile, SceneNumber
from agent.bots.shot_files import changed, shot_files
from graphs.commands import HELP
from graphs.state import Storyboard
from tools.render.diffusion import Cancelled
from tools.models.library import LibraryError

SESSIONS = Path("out")
"""Where sessions are kept by default, one folder each; `--session ID` names a folder here."""

SLASH = {
    "/help": "show the corrections you can type and these commands",
    "/plan": "show the shot list again",
    "/undo": "take back the last correction",
    "/export": "finish the storyboard and leave",
    "/sessions": f"list the sessions kept under {SESSIONS}/",
    "/quit": "leave now; the session can be taken up again with --session",
}
"""The chat's own commands and what each does, in the order /help lists them."""


def chat(
    scene: Annotated[Optional[Path], typer.Argument(help="Scene file (TOML) or screenplay (.fountain) for a new "
                                                         "session.")] = None,
    scene_number: SceneNumber = None,
    cast: CastFile = None,
    session_id: Annotated[Optional[str], typer.Option("--session", help="Go on with the session kept in "
                                                      "out/ID (or in --out).")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Output folder; default out/<scene name>, "
                                                     "or out/<ID> with --session.")] = None,
    frames: Annotated[Optional[int], typer.Option(help="Number of frames (overrides the scene).")] = None,
    shots: Annotated[Optional[str], typer.Option(help="Shot numbers such as 2,3,8 (overrides the scene).")] = None,
    planner: Annotated[str, typer.Option(help="auto, rules or openai.")] = "auto",
    llm_model: Annotated[Optional[str], typer.Option(help="Chat model for --planner openai "
                                                          "(default: SHOTSMITH_LLM_MODEL, else gpt-4o-mini).")] = None,
    renderer: Annotated[str, typer.Option(help="auto, sketch or diffusers.")] = "auto",
    library: Annotated[Optional[Path], typer.Option(help="Model library (library.toml); default: "
                                                          "the one beside the scene.")] = None,
    width: Annotated[int, typer.Option(help="Frame width in pixels (new sessions).")] = 512,
    height: Annotated[int, typer.Option(help="Frame height in pixels (new sessions).")] = 512,
    steps: Annotated[int, typer.Option(help="Denoising steps.")] = 25,
    guidance: Annotated[float, typer.Option(help="Guidance scale.")] = 7.5,
    scheduler: Annotated[str, typer.Option(help="dpm++, ddim or euler_a.")] = "dpm++",
    candidates: Annotated[int, typer.Option(help="Images per frame; the first becomes the shot.")] = 1,
    seed: Annotated[Optional[int], typer.Option(help="Base seed; frame seeds follow from it.")] = None,
    allow_pickle: Annotated[bool, typer.Option("--allow-pickle", help="Also load .ckpt/.bin weights, "
                                                                       "which can run code.")] = False,
) -> None:
    """Draw a scene, then take corrections typed one per line until /export or /quit."""
    from agent.cli import app as cli  # imported here: agent.cli.app registers this command at its end, so it must load first

    if scene is None and session_id is None:
        cli.fail("expected a scene file to start a chat (shotsmith chat SCENE.toml) or --session ID to go on "
                 f"with one kept under {SESSIONS}/")
    if session_id is not None and not session_id.strip():
        cli.fail("--session: expected the name of a session folder, such as investigation")
    settings = cli._settings(width, height, steps, guidance, scheduler, candidates)
    story = cli._scene(scene, frames, shots, seed, scene_number, cast) if scene is not None else None
    folder = out or (SESSIONS / session_id if session_id is not None else cli._default_out(scene, scene_number))

    if session_id is not None:
        session = _reopen(cli, folder)
        state = session.state()
        cast = state.scene if state is not None else story
        refusal = (f"{folder}: that session never started; give the scene file too to start it there"
                   if cast is None else f"{folder}: that session was exported and is finished; start a new one "
                   "with shotsmith chat SCENE.toml" if state is not None and state.done else None)
        if refusal:
            session.close()
            cli.fail(refusal)
    else:
        session, cast = None, story
    try:
        choice = make_context(planner, renderer, _library(library, scene, cast), allow_pickle, llm_model)
    except (ConfigError, LibraryError) as error:
        if session is not None:
            session.close()
        cli.fail(str(error))
    if session is None:
        session = cli._open(folder, choice.context, False)
    else:
        session.context = choice.context  # opened before the context existed, to read the scene it holds
    for notice in choice.notices:
        cli.console.print(f"notice: {notice}", markup=False, highlight=False, soft_wrap=True)

    talk = _Chat(cli, session, folder)
    try:
        talk.begin(story, settings)
        talk.loop()
    finally:
        session.close()


def _reopen(cli, folder: Path) -> Session:
    if folder.exists() and not folder.is_dir():
        cli.fail(f"{folder}: expected a session folder, found a file")
    try:
        session = Session.reopen(folder, None)  # the context is set once the library is read
    except SessionError as error:
        if not (folder / "session.json").exists():
            cli.fail(f"{folder}: no session kept here (no session.json); start one with shotsmith chat SCENE.toml")
        cli.fail(str(error))
    for notice in session.notices:
        cli.errors.print(f"notice: {notice}", markup=False, highlight=False, soft_wrap=True)
    return session


def _library(library: Path | None, scene_file: Path | None, scene):
    """Return the model library: --library, else library.toml beside the scene file, else none."""
    if library is None and scene_file is None:
        return None
    return read_library(library, scene_file or library, scene)


@dataclass
class _Pass:
    """What one stretch of session work showed: whether it published and whether the plan was printed."""

    published: bool = False
    planned: bool = False


class _Chat:
    """One terminal conversation with a session; every method prints through the cli module's consoles."""

    def __init__(self, cli, session: Session, folder: Path):
        self.cli = cli
        self.console = cli.console
        self.errors = cli.errors
        self.session = session
        self.folder = folder
        self.report = Report()

    # --- output -----------------------------------------------------------------------------------------

    def say(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def complain(self, text: str) -> None:
        self.errors.print(f"error: {text}", markup=False, highlight=False, soft_wrap=True)

    def table(self, state: Storyboard | None = None) -> None:
        state = state or self.session.state()
        if state is None or not state.frames:
            self.say("no shot list yet")
            return
        self.console.print(plan_table(state, self.console.width))

    # --- the conversation -------------------------------------------------------------------------------

    def begin(self, story, settings) -> None:
        """Draw a new scene, or pick up a kept session where it stopped."""
        state = self.session.state()
        if state is None:
            self.work(lambda: self.session.start(story, settings), plan=True, every_shot=True)
        else:
            self.say(f"taking up the session in {self.folder}: {len(state.frames)} frames, "
                     f"{len(state.applied)} correction(s) so far")
            if self.session.unfinished():
                self.say("finishing the work that was cut off first")
                self.work(self.session.carry_on, plan=True, every_shot=True)
            else:
                self.table(state)
        self.say('type a correction such as "frame 3: close-up", or /help')

    def loop(self) -> None:
        while True:
            line = self.read()
            if line is None:
                self.leave()
                return
            if not line:
                continue
            if line.startswith("/"):
                if self.slash(line):
                    return
            elif self.send(line):
                return

    def read(self) -> str | None:
        """Return the next line, stripped, or None at the end of input or on Ctrl-C."""
        try:
            line = self.console.input("> ", markup=False)
        except (EOFError, KeyboardInterrupt):
            self.say("")
            return None
        if not sys.stdin.isatty():
            self.say(line)  # piped or scripted input is not echoed by a terminal; keep the transcript readable
        return line.strip()

    def slash(self, line: str) -> bool:
        """Carry out a slash command; return True when the chat should end."""
        name = line.split()[0].lower()
        if name == "/help":
            self.say(f"corrections: {HELP}")
            for command, meaning in SLASH.items():
                self.say(f"  {command:<10} {meaning}")
        elif name == "/plan":
            self.table()
        elif name == "/undo":
            return self.send("undo")
        elif name == "/export":
            return self.send("export")
        elif name == "/sessions":
            self.sessions()
        elif name == "/quit":
            self.leave()
            return True
        else:
            self.complain(f"{name}: not a chat command; expected one of {', '.join(SLASH)}")
        return False

    def send(self, text: str) -> bool:
        """Hand a correction to the session and show what it did; return True once the session is finished."""
        if self.session.unfinished():
            self.say("finishing the work that was cut off first")
            if not self.work(self.session.carry_on):
                return False
        try:
            events = self.session.send(text)
        except SessionError as error:
            self.complain(str(error))
            return False
        self.work(lambda: events)
        state = self.session.state()
        if state is not None and state.done:
            self.cli._summary(state, self.folder, self.report)
            self.say(f"exported: the storyboard is in {self.folder}")
            return True
        return False

    def work(self, events, plan: bool = False, every_shot: bool = False) -> bool:
        """Show a stretch of session work, letting Ctrl-C stop a render; return False if it was stopped.

        `events` is called inside the interrupt guard, so a session that fails to start is caught too.
        """
        before = shot_files(self.folder)
        seen = _Pass()
        context = self.session.context
        try:
            with self.cli._cancel_on_interrupt(context.renderer, context.inpainter):
                show(self.watch(events(), seen, plan), self.console, self.errors, self.report)
        except (Cancelled, KeyboardInterrupt):
            self.say("")
            self.say("stopped; frames finished before stay on disk, and the next correction first finishes "
                     "the cut-off work (/quit keeps the session for later)")
            return False
        except LibraryError as error:
            self.complain(f"{error} (frames finished before this stay on disk)")
            return False
        except SessionError as error:  # the folder cannot be written (a full disk); the session stays as it was
            self.complain(str(error))
            return False
        if plan and not seen.planned:
            self.table()
        if seen.published:
            for path in changed({} if every_shot else before, shot_files(self.folder)):
                self.say(f"wrote {path}")
        return True

    def watch(self, events: Iterable[Event], seen: _Pass, plan: bool) -> Iterator[Event]:
        """Pass events through, printing the plan table once drawing starts and noting a publish."""
        for event in events:
            kind = event.get("type")
            if plan and not seen.planned and kind in ("progress", "frame"):
                seen.planned = True
                self.table()
            if kind == "published":
                seen.published = True
            yield event

    def sessions(self) -> None:
        rows = list_sessions([SESSIONS, self.folder.parent])
        if not rows:
            self.say(f"no sessions under {SESSIONS}/")
        here = self.folder.resolve()
        for folder, title in rows:
            mark = "  (this chat)" if folder.resolve() == here else ""
            self.say(f"{folder}  {title}{mark}")

    def leave(self) -> None:
        self.say(f"the session stays in {self.folder}; go on with: shotsmith chat {_resume_args(self.folder)}")


def _resume_args(folder: Path) -> str:
    try:
        if folder.resolve().parent == SESSIONS.resolve():
            return f"--session {folder.name}"
    except OSError:
        pass
    return f"--session {folder.name} --out {folder}"
