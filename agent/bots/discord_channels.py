"""The storyboards of Discord channels: one session per channel, and the blocking work each slash command does.

The commands' work (start, send, status) runs in a worker thread, never on the event loop, and returns a
Reply for the bot to post: lines of text and the files worth attaching.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from agent.bots import uploads
from agent.bots.discord_files import Attached
from agent.bots.sessions import ContextFactory, Conversation, Conversations
from agent.bots.shot_files import changed, shot_files
from agent.scenes.scene_file import reads_as_correction, scene_from_message
from agent.session import Event, Session
from graphs import events
from graphs.state import Scene, Storyboard
from tools.errors import Cancelled, ShotsmithError
from tools.files.roots import Roots

TEXT_LIMIT = 2000
"""Discord refuses message text longer than this."""

NO_SESSION = "No storyboard in this channel yet: start one with /storyboard scene:<what happens> (or file:<scene.toml>)."
NO_SCENE = ("Tell me the scene in a sentence or two with scene:<what happens>, or attach a scene file (.toml) "
            "with file:.")


@dataclass
class Reply:
    """What a stretch of session work produced: lines of text and the files worth attaching (images; on export
    also the PDF and any other formats asked for)."""

    lines: list[str] = field(default_factory=list)
    images: list[Path] = field(default_factory=list)

    def text(self) -> str:
        body = "\n".join(self.lines) or "done"
        return body if len(body) <= TEXT_LIMIT else body[: TEXT_LIMIT - 1] + "…"


class Channels:
    """The sessions of every channel, each in its own folder under `out_root`; one command at a time per channel."""

    def __init__(self, context_factory: ContextFactory, out_root: Path, lora_roots: Roots | None = None):
        self.context_factory = context_factory
        self.channels: Conversations[int] = Conversations(out_root, on_event_loop=True)
        self.out_root = self.channels.out_root
        self.lora_roots = lora_roots or Roots.around(None, "the model library's folder")
        """Where LoRA files named by a scene sent in Discord may come from (relative paths start at the first)."""

    def folder(self, channel_id: int) -> Path:
        return self.channels.folder(channel_id)

    def lock(self, channel_id: int) -> asyncio.Lock:
        """The lock the channel's commands take turns with (an asyncio lock, held on the event loop)."""
        return self.channels.entry(channel_id).lock

    def find(self, channel_id: int) -> Session | None:
        """Return the channel's session, taking up one kept on disk by an earlier run of the bot.

        Raises a ShotsmithError when the kept session cannot be opened (another process writes there, say).
        """
        entry = self.channels.entry(channel_id)
        if entry.session is None and self.channels.kept(channel_id):
            entry = self.channels.reopen(channel_id, self.context_factory, _adopt)
        return entry.session

    # --- blocking work, run in a worker thread ----------------------------------------------------------

    def start(self, channel_id: int, scene_text: str | None, frames: int | None, number: str | None = None,
              file: Attached | None = None) -> Reply:
        """Start a new session for the channel from a scene and draw it.

        The scene is plain words or TOML in `scene_text`, or a fetched scene file or screenplay (`number` picks
        the screenplay's scene).
        """
        if file is not None and scene_text:
            return Reply(["Give the scene either as words (scene:) or as a file (file:), not both."])
        if file is not None and file.problem:
            return Reply([f"{file.name}: {file.problem}"])
        if file is None and scene_text and reads_as_correction(scene_text):
            return Reply(["That reads as a correction: send it with /fix. To start a new storyboard, give "
                          "the scene in a sentence or two."])
        try:
            scene = self._scene(channel_id, scene_text, frames, number, file)
            if scene is None:
                return Reply([NO_SCENE])
            context = self.context_factory(scene)
        except ShotsmithError as error:
            uploads.discard(self.folder(channel_id))
            return Reply([f"Cannot start this scene: {error}"])
        try:
            session = self.channels.begin(channel_id, self.channels.entry(channel_id), context)
        except ShotsmithError as error:
            return Reply([f"Cannot start this scene: {error}"])
        reply = self._drive(session, lambda: session.start(scene), every_shot=True)
        reply.lines.insert(0, f"Storyboard started: {scene.title}")
        return reply

    def _scene(self, channel_id: int, scene_text: str | None, frames: int | None, number: str | None,
               file: Attached | None) -> Scene | None:
        """Read the scene from the fetched file, else from the command's words; raises a ShotsmithError."""
        roots = self.lora_roots
        if file is not None:
            return uploads.scene_from_attachment(file.name, file.text, self.folder(channel_id), number, frames, roots)
        base = roots.folders[0] if roots.folders else self.folder(channel_id)
        return scene_from_message(scene_text or "", base, frames, roots=roots)

    def close(self) -> None:
        """Close every channel's session, releasing their folders for another process (the bot is shutting down)."""
        self.channels.close()

    def _found(self, channel_id: int) -> Session | str:
        """The channel's session, or what to tell the channel instead."""
        try:
            session = self.find(channel_id)
        except ShotsmithError as error:
            return f"I could not pick this storyboard up again: {error}"
        return NO_SESSION if session is None else session

    def _notices(self, channel_id: int) -> list[str]:
        """What reopening the channel's session mended, said once."""
        entry = self.channels.entry(channel_id)
        notices, entry.notices = entry.notices, []
        return notices

    def send(self, channel_id: int, text: str) -> Reply:
        """Hand a correction to the channel's session and collect what it changed."""
        session = self._found(channel_id)
        if isinstance(session, str):
            return Reply([session])
        if session.unfinished():
            self._drive(session, session.carry_on)
        try:
            sent = session.send(text)
        except ShotsmithError as error:
            return Reply([f"Not applied: {error}"])
        reply = self._drive(session, lambda: sent)
        reply.lines[:0] = self._notices(channel_id)
        state = session.state()
        if state is not None and state.done:
            reply.lines.append(f"Exported: the storyboard is in {session.out_dir}")
        return reply

    def status(self, channel_id: int) -> Reply:
        """Describe the channel's storyboard and whether a render waits for the GPU."""
        session = self._found(channel_id)
        if isinstance(session, str):
            return Reply([session])
        notices = self._notices(channel_id)
        state = session.state()
        if state is None:
            return Reply(notices + ["The storyboard here has not been drawn yet."])
        waiting = session.context.gpu_lock.waiting() if session.context is not None else 0
        queue = (f"{waiting} render(s) wait in the GPU queue" if waiting else "no render waits in the GPU queue")
        stage = "exported" if state.done else "open for corrections"
        return Reply(notices + [f"{state.scene.title}: {len(state.frames)} frames, planner {state.planner or '-'}, "
                      f"renderer {state.renderer or '-'}, {len(state.applied)} correction(s) applied, {stage}; "
                      f"{queue}"])

    def _drive(self, session: Session, work: Callable[[], Iterable[Event]], every_shot: bool = False) -> Reply:
        """Run the session's events to the next pause, keeping its messages and the shots that changed."""
        before = {} if every_shot else shot_files(session.out_dir)
        reply, published = Reply(), False
        try:
            for event in work():
                published = _note(reply, event) or published
        except (ShotsmithError, Cancelled) as error:
            reply.lines.append(f"Error: {error} (frames finished before this stay on disk)")
        if published:
            redrawn = changed(before, shot_files(session.out_dir))
            grid = session.out_dir / "storyboard.png"
            reply.images = ([grid] if grid.is_file() else []) + redrawn
        return reply


def _note(reply: Reply, event: Event) -> bool:
    """Add what an event says to the reply; return True when it says the storyboard was published."""
    match event:
        case events.Critiqued(summary=text) | events.Reply(message=text) | events.Notice(message=text):
            reply.lines.append(text)
        case events.Problem(message=text):
            reply.lines.append(f"Error: {text}")
        case events.Question(message=text):
            reply.lines.append(f"Question: {text}")
        case events.Planned(frames=frames, planner=planner):
            reply.lines.append(f"Planned {frames} frames with the {planner} planner")
        case events.Published():
            return True
        case events.Done(files=files):  # the finished storyboard's files: sheet, data, PDF and any exports asked for
            reply.images += [Path(f) for f in files if Path(f).is_file()]
    return False


def _adopt(entry: Conversation, state: Storyboard | None) -> None:
    """Keep what reopening mended for the channel's next reply; close a session whose scene was never drawn."""
    entry.notices = [f"Note: {notice}" for notice in entry.session.notices]
    if state is None:
        entry.session.close()
        entry.session = None
