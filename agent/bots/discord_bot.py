"""The `shotsmith discord` command: a Discord bot that keeps one storyboard session per channel.

The bot speaks through slash commands only, so it needs no privileged intents. Each command first tells
Discord it is working (a "thinking" reply, inside Discord's 3-second window), then runs the session in a
worker thread so the gateway heartbeat keeps going while frames render, and finally posts the text and the
images. Images over the server's upload limit are shrunk before they are attached.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import discord
from discord import app_commands

from agent.scenes.scene_file import MAX_FRAMES, SceneError, reads_as_correction, scene_from_message
from agent.session import Event, Session, SessionError
from agent.bots import uploads
from agent.bots.discord_files import Attached, upload_limit, attachment, fetch
from agent.bots.shot_files import changed, shot_files
from graphs.context import Context
from graphs.state import Scene
from tools.render.diffusion import Cancelled
from tools.models.library import LibraryError
from tools.files.roots import Roots

ContextFactory = Callable[[Scene], Context]
"""Builds the graph's Context for a scene (the scene may bring its own character LoRAs)."""

FILES_PER_MESSAGE = 10
"""Discord accepts at most this many attachments on one message."""

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
        self.out_root = Path(out_root).absolute()  # the folder as given at startup, whatever the cwd does later
        self.lora_roots = lora_roots or Roots.around(None, "the model library's folder")
        """Where LoRA files named by a scene sent in Discord may come from (relative paths start at the first)."""
        self.sessions: dict[int, Session] = {}
        self.locks: dict[int, asyncio.Lock] = {}
        self.notices: dict[int, list[str]] = {}
        """What reopening a channel's session had to mend, said with the channel's next reply."""

    def folder(self, channel_id: int) -> Path:
        return self.out_root / f"{channel_id}"

    def lock(self, channel_id: int) -> asyncio.Lock:
        return self.locks.setdefault(channel_id, asyncio.Lock())

    def find(self, channel_id: int) -> Session | None:
        """Return the channel's session, taking up one kept on disk by an earlier run of the bot.

        Raises SessionError when the kept session cannot be opened (another process writes there, say).
        """
        session = self.sessions.get(channel_id)
        folder = self.folder(channel_id)
        if session is None and (folder / "session.json").is_file():
            session = Session.reopen(folder, None)
            self.notices[channel_id] = [f"Note: {notice}" for notice in session.notices]
            state = session.state()
            if state is None:
                session.close()
                return None
            session.context = self.context_factory(state.scene)
            self.sessions[channel_id] = session
        return session

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
        roots = self.lora_roots
        try:
            if file is not None:
                scene = uploads.scene_from_attachment(file.name, file.text, self.folder(channel_id), number, frames,
                                                      roots)
            else:
                base = roots.folders[0] if roots.folders else self.folder(channel_id)
                scene = scene_from_message(scene_text or "", base, frames, roots=roots)
            if scene is None:
                return Reply([NO_SCENE])
            context = self.context_factory(scene)
        except (SceneError, LibraryError, ValueError) as error:
            uploads.discard(self.folder(channel_id))
            return Reply([f"Cannot start this scene: {error}"])
        old = self.sessions.pop(channel_id, None)
        if old is not None:
            old.close()
        try:
            session = Session.create(self.folder(channel_id), context)
        except SessionError as error:
            return Reply([f"Cannot start this scene: {error}"])
        self.sessions[channel_id] = session
        reply = self._drive(session, lambda: session.start(scene), every_shot=True)
        reply.lines.insert(0, f"Storyboard started: {scene.title}")
        return reply

    def close(self) -> None:
        """Close every channel's session, releasing their folders for another process (the bot is shutting down)."""
        for session in self.sessions.values():
            session.close()
        self.sessions.clear()

    def _found(self, channel_id: int) -> Session | str:
        """The channel's session, or what to tell the channel instead."""
        try:
            session = self.find(channel_id)
        except SessionError as error:
            return f"I could not pick this storyboard up again: {error}"
        return NO_SESSION if session is None else session

    def send(self, channel_id: int, text: str) -> Reply:
        """Hand a correction to the channel's session and collect what it changed."""
        session = self._found(channel_id)
        if isinstance(session, str):
            return Reply([session])
        if session.unfinished():
            self._drive(session, session.carry_on)
        try:
            events = session.send(text)
        except SessionError as error:
            return Reply([f"Not applied: {error}"])
        reply = self._drive(session, lambda: events)
        reply.lines[:0] = self.notices.pop(channel_id, [])
        state = session.state()
        if state is not None and state.done:
            reply.lines.append(f"Exported: the storyboard is in {session.out_dir}")
        return reply

    def status(self, channel_id: int) -> Reply:
        """Describe the channel's storyboard and whether a render waits for the GPU."""
        session = self._found(channel_id)
        if isinstance(session, str):
            return Reply([session])
        notices = self.notices.pop(channel_id, [])
        state = session.state()
        if state is None:
            return Reply(notices + ["The storyboard here has not been drawn yet."])
        waiting = session.context.gpu_lock.waiting() if session.context is not None else 0
        queue = (f"{waiting} render(s) wait in the GPU queue" if waiting else "no render waits in the GPU queue")
        stage = "exported" if state.done else "open for corrections"
        return Reply(notices + [f"{state.scene.title}: {len(state.frames)} frames, planner {state.planner or '-'}, "
                      f"renderer {state.renderer or '-'}, {len(state.applied)} correction(s) applied, {stage}; "
                      f"{queue}"])

    def _drive(self, session: Session, events: Callable[[], Iterable[Event]], every_shot: bool = False) -> Reply:
        """Run the session's events to the next pause, keeping its messages and the shots that changed."""
        before = {} if every_shot else shot_files(session.out_dir)
        reply, published = Reply(), False
        try:
            for event in events():
                kind = event.get("type")
                if kind in ("message", "critique", "notice", "error", "question"):
                    text = event.get("summary") if kind == "critique" else event.get("message")
                    label = {"error": "Error: ", "question": "Question: "}.get(kind, "")
                    reply.lines.append(f"{label}{text}")
                elif kind == "plan":
                    reply.lines.append(f"Planned {event['frames']} frames with the {event['planner']} planner")
                elif kind == "published":
                    published = True
                elif kind == "done":  # the finished storyboard's files: sheet, data, PDF and any exports asked for
                    reply.images += [Path(f) for f in event.get("files", []) if Path(f).is_file()]
        except (LibraryError, Cancelled) as error:
            reply.lines.append(f"Error: {error} (frames finished before this stay on disk)")
        if published:
            redrawn = changed(before, shot_files(session.out_dir))
            grid = session.out_dir / "storyboard.png"
            reply.images = ([grid] if grid.is_file() else []) + redrawn
        return reply


def build_bot(context_factory: ContextFactory, out_root: Path, guild_id: int | None = None,
              lora_roots: Roots | None = None) -> tuple[discord.Client, app_commands.CommandTree]:
    """Return a Discord client and its slash commands; nothing connects until the client is run.

    `lora_roots` are the folders LoRA files named by a scene sent in Discord may come from (by default only
    those listed in SHOTSMITH_ROOTS).
    """
    client = _Bot(guild_id)
    tree = client.tree
    channels = Channels(context_factory, out_root, lora_roots)

    async def answer(interaction: discord.Interaction, work: Callable[..., Reply], *args: object,
                     before: Callable[[], Awaitable[object]] | None = None) -> None:
        await interaction.response.defer(thinking=True)  # first: Discord wants a sign of life within 3 s
        if before is not None:  # slow fetching (an attachment) comes after the defer too
            args = (*args, await before())
        async with channels.lock(interaction.channel_id):
            reply = await asyncio.to_thread(work, interaction.channel_id, *args)
        await _post(interaction, reply)

    @tree.command(name="storyboard", description="Draw a storyboard for this channel from a scene")
    @app_commands.describe(scene="The scene in plain words, e.g. \"A detective searches a dark office for a letter\"",
                           file="A scene file (.toml) with its cast, or a screenplay (.fountain)",
                           frames="Number of frames (replaces the scene's own count)",
                           number="Which scene of the screenplay (default: the first)")
    async def storyboard(interaction: discord.Interaction, scene: Optional[str] = None,
                         file: Optional[discord.Attachment] = None, number: Optional[str] = None,
                         frames: Optional[app_commands.Range[int, 1, MAX_FRAMES]] = None) -> None:
        async def read() -> Attached | None:
            return None if file is None else await fetch(file)
        await answer(interaction, channels.start, scene, frames, number, before=read)

    @tree.command(name="fix", description="Send a correction, e.g. \"frame 2: close-up\"")
    @app_commands.describe(text="The correction, in the words the terminal chat accepts")
    async def fix(interaction: discord.Interaction, text: str) -> None:
        await answer(interaction, channels.send, text)

    @tree.command(name="pick", description="Show another candidate image as a frame's shot")
    @app_commands.describe(frame="Frame number (from 0)", candidate="Candidate number (from 0)")
    async def pick(interaction: discord.Interaction, frame: app_commands.Range[int, 0],
                   candidate: app_commands.Range[int, 0]) -> None:
        await answer(interaction, channels.send, f"frame {frame}: candidate {candidate}")

    @tree.command(name="export", description="Finish this channel's storyboard and attach its files")
    @app_commands.describe(formats="Extra formats besides the sheet and PDF, e.g. \"mp4, gif, csv, otio\"")
    async def export(interaction: discord.Interaction, formats: Optional[str] = None) -> None:
        await answer(interaction, channels.send, f"export {formats}" if formats and formats.strip() else "export")

    @tree.command(name="status", description="Frames, planner, renderer and the GPU queue for this channel")
    async def status(interaction: discord.Interaction) -> None:
        await answer(interaction, channels.status)

    client.storyboards = channels  # the per-channel sessions, for whoever runs the bot
    return client, tree


class _Bot(discord.Client):
    """A client with a command tree that syncs the commands when it logs in."""

    def __init__(self, guild_id: int | None):
        super().__init__(intents=discord.Intents.default())  # slash commands need no privileged intent
        self.tree = app_commands.CommandTree(self)
        self.guild_id = guild_id

    async def setup_hook(self) -> None:
        if self.guild_id is None:
            await self.tree.sync()  # global commands can take a while to appear everywhere
            return
        guild = discord.Object(id=self.guild_id)
        self.tree.copy_global_to(guild=guild)
        await self.tree.sync(guild=guild)

    async def close(self) -> None:
        """Log out, then close the channels' sessions so their folders are free for the next run."""
        await super().close()
        storyboards = getattr(self, "storyboards", None)
        if storyboards is not None:
            storyboards.close()


async def _post(interaction: discord.Interaction, reply: Reply) -> None:
    """Send the reply as follow-ups: the text with the first ten images, then further images ten at a time."""
    limit = upload_limit(interaction)
    files, skipped = [], []
    for path in reply.images:
        made = attachment(path, limit)
        if made is None:
            skipped.append(path.name)
        else:
            files.append(made)
    if skipped:
        reply.lines.append(f"Too large to attach even shrunk: {', '.join(skipped)}")
    batches = [files[i:i + FILES_PER_MESSAGE] for i in range(0, len(files), FILES_PER_MESSAGE)] or [[]]
    for number, batch in enumerate(batches):
        content = reply.text() if number == 0 else None
        if batch:
            await interaction.followup.send(content=content, files=batch)
        else:
            await interaction.followup.send(content=content)
