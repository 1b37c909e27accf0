"""One terminal conversation with a session: read a line, hand it to the session, show what it did.

Plain lines go to the session as corrections; lines that start with a slash steer the chat itself (SLASH).
Everything is printed on the shared consoles of agent.cli.output.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from agent.bots.shot_files import changed, shot_files
from agent.cli.chat_views import SESSIONS, list_sessions, plan_table
from agent.cli.display import Report, show
from agent.cli.output import console, errors, say, warn
from agent.cli.steps import cancel_on_interrupt, summary
from agent.session import Event, Session
from graphs.commands import HELP
from graphs.events import FrameDrawn, Progress, Published
from graphs.state import Scene, Settings, Storyboard
from tools.errors import Cancelled, ShotsmithError

SLASH = {
    "/help": "show the corrections you can type and these commands",
    "/plan": "show the shot list again",
    "/undo": "take back the last correction",
    "/export": "finish the storyboard and leave",
    "/sessions": f"list the sessions kept under {SESSIONS}/",
    "/quit": "leave now; the session can be taken up again with --session",
}
"""The chat's own commands and what each does, in the order /help lists them."""


@dataclass
class Seen:
    """What one stretch of session work showed: whether it published and whether the plan was printed."""

    published: bool = False
    planned: bool = False


class Conversation:
    """One terminal conversation with the session kept in `folder`."""

    def __init__(self, session: Session, folder: Path):
        self.session = session
        self.folder = folder
        self.report = Report()

    # --- output -----------------------------------------------------------------------------------------

    def complain(self, text: str) -> None:
        warn(f"error: {text}")

    def table(self, state: Storyboard | None = None) -> None:
        state = state or self.session.state()
        if state is None or not state.frames:
            say("no shot list yet")
            return
        console.print(plan_table(state, console.width))

    # --- the conversation -------------------------------------------------------------------------------

    def hold(self, story: Scene | None, settings: Settings) -> None:
        """Begin, then take lines until the person leaves; the session is closed however the chat ends."""
        try:
            self.begin(story, settings)
            self.loop()
        finally:
            self.session.close()

    def begin(self, story: Scene | None, settings: Settings) -> None:
        """Draw a new scene, or pick up a kept session where it stopped."""
        state = self.session.state()
        if state is None:
            self.work(lambda: self.session.start(story, settings), plan=True, every_shot=True)
        else:
            say(f"taking up the session in {self.folder}: {len(state.frames)} frames, "
                f"{len(state.applied)} correction(s) so far")
            if self.session.unfinished():
                say("finishing the work that was cut off first")
                self.work(self.session.carry_on, plan=True, every_shot=True)
            else:
                self.table(state)
        say('type a correction such as "frame 3: close-up", or /help')

    def loop(self) -> None:
        """Read and act on lines until the person leaves or the storyboard is exported."""
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
            line = console.input("> ", markup=False)
        except (EOFError, KeyboardInterrupt):
            say("")
            return None
        if not sys.stdin.isatty():
            say(line)  # piped or scripted input is not echoed by a terminal; keep the transcript readable
        return line.strip()

    def slash(self, line: str) -> bool:
        """Carry out a slash command; return True when the chat should end."""
        name = line.split()[0].lower()
        if name == "/help":
            say(f"corrections: {HELP}")
            for command, meaning in SLASH.items():
                say(f"  {command:<10} {meaning}")
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
            say("finishing the work that was cut off first")
            if not self.work(self.session.carry_on):
                return False
        try:
            events = self.session.send(text)
        except ShotsmithError as error:
            self.complain(str(error))
            return False
        self.work(lambda: events)
        state = self.session.state()
        if state is not None and state.done:
            summary(state, self.folder, self.report)
            say(f"exported: the storyboard is in {self.folder}")
            return True
        return False

    def work(self, events: Callable[[], Iterable[Event]], plan: bool = False, every_shot: bool = False) -> bool:
        """Show a stretch of session work, letting Ctrl-C stop a render; return False if it was stopped.

        `events` is called inside the interrupt guard, so a session that fails to start is caught too.
        """
        before = shot_files(self.folder)
        seen = Seen()
        context = self.session.context
        try:
            with cancel_on_interrupt(context.renderer, context.inpainter):
                show(self.watch(events(), seen, plan), console, errors, self.report)
        except (Cancelled, KeyboardInterrupt):
            say("")
            say("stopped; frames finished before stay on disk, and the next correction first finishes "
                "the cut-off work (/quit keeps the session for later)")
            return False
        except ShotsmithError as error:  # a model, the GPU or a full disk: the session stays as it was
            self.complain(f"{error} (frames finished before this stay on disk)")
            return False
        if plan and not seen.planned:
            self.table()
        if seen.published:
            for path in changed({} if every_shot else before, shot_files(self.folder)):
                say(f"wrote {path}")
        return True

    def watch(self, events: Iterable[Event], seen: Seen, plan: bool) -> Iterator[Event]:
        """Pass events through, printing the plan table once drawing starts and noting a publish."""
        for event in events:
            if plan and not seen.planned and isinstance(event, (Progress, FrameDrawn)):
                seen.planned = True
                self.table()
            if isinstance(event, Published):
                seen.published = True
            yield event

    def sessions(self) -> None:
        """List the sessions kept on disk, marking this one."""
        rows = list_sessions([SESSIONS, self.folder.parent])
        if not rows:
            say(f"no sessions under {SESSIONS}/")
        here = self.folder.resolve()
        for folder, title in rows:
            mark = "  (this chat)" if folder.resolve() == here else ""
            say(f"{folder}  {title}{mark}")

    def leave(self) -> None:
        say(f"the session stays in {self.folder}; go on with: shotsmith chat {resume_args(self.folder)}")


def resume_args(folder: Path) -> str:
    """Return the options that take up the session in `folder` again: --session, and --out unless under SESSIONS."""
    try:
        if folder.resolve().parent == SESSIONS.resolve():
            return f"--session {folder.name}"
    except OSError:
        pass
    return f"--session {folder.name} --out {folder}"
