"""The `shotsmith discord` and `shotsmith slack` commands: read the settings, build the bot, run it.

They live apart from the bots so that the other commands start without loading discord.py or Bolt.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Optional

import typer

from graphs.context import Context
from graphs.state import Scene
from tools.files.roots import Roots


def lora_roots(library: Path | None) -> Roots:
    """Return where LoRA files named by scenes sent in chat may come from: the library's folder and SHOTSMITH_ROOTS."""
    return Roots.around(library.resolve().parent if library is not None else None, "the model library's folder")


def discord_cmd(
    guild: Annotated[Optional[int], typer.Option(help="Server (guild) id to sync the commands to at once; "
                                                      "without it they are synced globally.")] = None,
    out: Annotated[Path, typer.Option(help="Folder that keeps one session folder per channel.")] = Path("out/discord"),
    planner: Annotated[str, typer.Option(help="auto, rules or openai.")] = "auto",
    llm_model: Annotated[Optional[str], typer.Option(help="Chat model for --planner openai.")] = None,
    renderer: Annotated[str, typer.Option(help="auto, sketch or diffusers.")] = "auto",
    library: Annotated[Optional[Path], typer.Option(help="Model library (library.toml).")] = None,
) -> None:
    """Run the Discord bot (token in DISCORD_TOKEN): one storyboard per channel, driven by slash commands."""
    from agent.cli import app as cli  # imported here: agent.cli.app registers this command at its end, so it must load first
    from agent.config import ConfigError, make_context
    from agent.bots.discord_bot import build_bot  # discord.py loads only when the bot runs
    from tools.models.library import LibraryError, load_library

    token = os.environ.get("DISCORD_TOKEN", "").strip()
    if not token:
        cli.fail("DISCORD_TOKEN is not set; expected the bot token from the Discord developer portal")
    try:
        loaded = load_library(library) if library is not None else None
        choice = make_context(planner, renderer, loaded, False, llm_model)
    except (ConfigError, LibraryError) as error:
        cli.fail(str(error))
    for notice in choice.notices:
        cli.console.print(f"notice: {notice}", markup=False, highlight=False, soft_wrap=True)
    base = choice.context

    def context_for(scene: Scene) -> Context:
        """Share one renderer between channels; a scene's own LoRAs go into its copy of the library."""
        loras = {c.name: c.lora for c in scene.characters if c.lora}
        if base.library is None or not loras:
            return base
        return replace(base, library=base.library.with_cast(loras))

    out = out.absolute()  # fixed now: a later change of working folder cannot split a channel's session
    cli.console.print(f"shotsmith discord: keeping each channel's storyboard under {out}", markup=False,
                      highlight=False, soft_wrap=True)
    client, _ = build_bot(context_for, out, guild, lora_roots(library))
    client.run(token)


def slack(
    out: Annotated[Path, typer.Option(help="Folder that keeps one session folder per Slack thread.")] = Path("out/slack"),
    port: Annotated[int, typer.Option(help="HTTP port for Slack's events (without SLACK_APP_TOKEN).")] = 3000,
    planner: Annotated[str, typer.Option(help="auto, rules or openai.")] = "auto",
    llm_model: Annotated[Optional[str], typer.Option(help="Chat model for --planner openai "
                                                          "(default: SHOTSMITH_LLM_MODEL, else gpt-4o-mini).")] = None,
    renderer: Annotated[str, typer.Option(help="auto, sketch or diffusers.")] = "auto",
    library: Annotated[Optional[Path], typer.Option(help="Model library (library.toml) for every session.")] = None,
    max_sessions: Annotated[int, typer.Option(help="Unfinished storyboards one person may have at once.")] = 2,
    allow_pickle: Annotated[bool, typer.Option("--allow-pickle", help="Also load .ckpt/.bin weights, "
                                                                       "which can run code.")] = False,
) -> None:
    """Serve storyboards in Slack: SLACK_BOT_TOKEN plus SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET."""
    from agent.cli import app as cli  # imported here: agent.cli.app registers this command at its end, so it must load first
    from agent.config import RENDERERS, ConfigError, make_context, make_planner, read_library
    from agent.bots.slack import build_app, log  # Bolt loads only when the bot runs

    token = os.environ.get("SLACK_BOT_TOKEN", "").strip()
    app_token = os.environ.get("SLACK_APP_TOKEN", "").strip()
    secret = os.environ.get("SLACK_SIGNING_SECRET", "").strip()
    if not token or not (app_token or secret):
        cli.fail("expected SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET in the environment "
                 "(or SLACK_BOT_TOKEN and SLACK_APP_TOKEN for Socket Mode)")
    if library is not None and not library.is_file():
        cli.fail(f"--library {library}: no such file")
    if renderer not in RENDERERS:
        cli.fail(f"--renderer: expected one of {', '.join(RENDERERS)}, got {renderer!r}")
    try:
        make_planner(planner, llm_model)
    except ConfigError as error:
        cli.fail(str(error))

    def context_for(scene: Scene) -> Context:
        lib = read_library(library, library, scene) if library is not None else None
        choice = make_context(planner, renderer, lib, allow_pickle, llm_model)
        for notice in choice.notices:
            log.warning("%s", notice)
        return choice.context

    def listed(name: str) -> list[str] | None:
        return [part.strip() for part in os.environ.get(name, "").split(",") if part.strip()] or None

    out = out.absolute()  # fixed now: a later change of working folder cannot split a thread's session
    cli.console.print(f"shotsmith slack: keeping each thread's storyboard under {out}", markup=False,
                      highlight=False, soft_wrap=True)
    app = build_app(context_for, out, token=token, signing_secret=secret,
                    allow_channels=listed("SHOTSMITH_SLACK_CHANNELS"), allow_users=listed("SHOTSMITH_SLACK_USERS"),
                    max_sessions_per_user=max_sessions, lora_roots=lora_roots(library))
    if app_token:
        from slack_bolt.adapter.socket_mode import SocketModeHandler
        cli.console.print("shotsmith slack: connected over Socket Mode", markup=False, highlight=False)
        SocketModeHandler(app, app_token).start()
    else:
        cli.console.print(f"shotsmith slack: listening for Slack events on port {port} (/slack/events)",
                          markup=False, highlight=False)
        app.start(port=port)
