"""The `shotsmith discord` command: a Discord bot that keeps one storyboard session per channel.

The bot speaks through slash commands only, so it needs no privileged intents. Each command first tells
Discord it is working (a "thinking" reply, inside Discord's 3-second window), then runs the session in a
worker thread so the gateway heartbeat keeps going while frames render, and finally posts the text and the
images. Images over the server's upload limit are shrunk before they are attached.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Optional

import discord
from discord import app_commands

from agent.bots.discord_channels import Channels, Reply
from agent.bots.discord_files import Attached, attachment, fetch, upload_limit
from agent.bots.sessions import ContextFactory
from agent.scenes.scene_file import MAX_FRAMES
from tools.files.roots import Roots

FILES_PER_MESSAGE = 10
"""Discord accepts at most this many attachments on one message."""

Answer = Callable[..., Awaitable[None]]
"""Runs one command's work for an interaction: answer(interaction, work, *args, before=None)."""


def build_bot(context_factory: ContextFactory, out_root: Path, guild_id: int | None = None,
              lora_roots: Roots | None = None) -> tuple[discord.Client, app_commands.CommandTree]:
    """Return a Discord client and its slash commands; nothing connects until the client is run.

    `lora_roots` are the folders LoRA files named by a scene sent in Discord may come from (by default only
    those listed in SHOTSMITH_ROOTS).
    """
    client = _Bot(guild_id)
    channels = Channels(context_factory, out_root, lora_roots)
    answer = answering(channels)
    add_start(client.tree, answer, channels)
    add_session_commands(client.tree, answer, channels)
    client.storyboards = channels  # the per-channel sessions, for whoever runs the bot
    return client, client.tree


def answering(channels: Channels) -> Answer:
    """Return the function every command answers through: defer, wait for the channel's turn, work, post."""
    async def answer(interaction: discord.Interaction, work: Callable[..., Reply], *args: object,
                     before: Callable[[], Awaitable[object]] | None = None) -> None:
        await interaction.response.defer(thinking=True)  # first: Discord wants a sign of life within 3 s
        if before is not None:  # slow fetching (an attachment) comes after the defer too
            args = (*args, await before())
        async with channels.lock(interaction.channel_id):
            reply = await asyncio.to_thread(work, interaction.channel_id, *args)
        await _post(interaction, reply)
    return answer


def add_start(tree: app_commands.CommandTree, answer: Answer, channels: Channels) -> None:
    """Add /storyboard, which draws a new storyboard for the channel from a scene."""
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


def add_session_commands(tree: app_commands.CommandTree, answer: Answer, channels: Channels) -> None:
    """Add /fix, /pick and /export, which reach the channel's session as corrections, and /status."""
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
