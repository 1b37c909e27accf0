"""The `shotsmith discord` and `shotsmith slack` commands: read the settings, build the bot, run it.

They live apart from the bots so that the other commands start without loading discord.py or Bolt: each
bot module is imported only when its command runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Optional

import typer

from agent.cli.options import AllowPickle, LlmModel, Planner, Renderer
from agent.cli.output import console, fail, fail_on, say
from agent.config import RENDERERS, make_context, make_planner, read_library
from graphs.context import Context
from graphs.state import Scene
from tools.errors import ShotsmithError
from tools.files.roots import Roots
from tools.models.library import load_library


def lora_roots(library: Path | None) -> Roots:
    """Return where LoRA files named by scenes sent in chat may come from: the library's folder and SHOTSMITH_ROOTS."""
    return Roots.around(library.resolve().parent if library is not None else None, "the model library's folder")


def discord_cmd(
    guild: Annotated[Optional[int], typer.Option(help="Server (guild) id to sync the commands to at once; "
                                                      "without it they are synced globally.")] = None,
    out: Annotated[Path, typer.Option(help="Folder that keeps one session folder per channel.")] = Path("out/discord"),
    planner: Planner = "auto",
    llm_model: Annotated[Optional[str], typer.Option(help="Chat model for --planner openai.")] = None,
    renderer: Renderer = "auto",
    library: Annotated[Optional[Path], typer.Option(help="Model library (library.toml).")] = None,
) -> None:
    """Run the Discord bot (token in DISCORD_TOKEN): one storyboard per channel, driven by slash commands."""
    from agent.bots.discord_bot import build_bot  # discord.py loads only when the bot runs

    token = os.environ.get("DISCORD_TOKEN", "").strip()
    if not token:
        fail("DISCORD_TOKEN is not set; expected the bot token from the Discord developer portal")
    try:
        loaded = load_library(library) if library is not None else None
        choice = make_context(planner, renderer, loaded, False, llm_model)
    except ShotsmithError as error:
        fail_on(error)
    for notice in choice.notices:
        say(f"notice: {notice}")
    out = out.absolute()  # fixed now: a later change of working folder cannot split a channel's session
    say(f"shotsmith discord: keeping each channel's storyboard under {out}")
    client, _ = build_bot(shared_context(choice.context), out, guild, lora_roots(library))
    client.run(token)


def shared_context(base: Context) -> Callable[[Scene], Context]:
    """Share one renderer between channels; a scene's own LoRAs go into its copy of the library."""
    def context_for(scene: Scene) -> Context:
        loras = {c.name: c.lora for c in scene.characters if c.lora}
        if base.library is None or not loras:
            return base
        return replace(base, library=base.library.with_cast(loras))
    return context_for


def slack(
    out: Annotated[Path, typer.Option(help="Folder that keeps one session folder per Slack thread.")] = Path("out/slack"),
    port: Annotated[int, typer.Option(help="HTTP port for Slack's events (without SLACK_APP_TOKEN).")] = 3000,
    planner: Planner = "auto",
    llm_model: LlmModel = None,
    renderer: Renderer = "auto",
    library: Annotated[Optional[Path], typer.Option(help="Model library (library.toml) for every session.")] = None,
    max_sessions: Annotated[int, typer.Option(help="Unfinished storyboards one person may have at once.")] = 2,
    allow_pickle: AllowPickle = False,
) -> None:
    """Serve storyboards in Slack: SLACK_BOT_TOKEN plus SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET."""
    from agent.bots.slack import build_app  # Bolt loads only when the bot runs

    token, app_token, secret = _slack_secrets()
    _check_slack_options(library, renderer, planner, llm_model)
    out = out.absolute()  # fixed now: a later change of working folder cannot split a thread's session
    say(f"shotsmith slack: keeping each thread's storyboard under {out}")
    context_for = fresh_context(planner, renderer, library, allow_pickle, llm_model)
    app = build_app(context_for, out, token=token, signing_secret=secret,
                    allow_channels=_listed("SHOTSMITH_SLACK_CHANNELS"), allow_users=_listed("SHOTSMITH_SLACK_USERS"),
                    max_sessions_per_user=max_sessions, lora_roots=lora_roots(library))
    if app_token:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        console.print("shotsmith slack: connected over Socket Mode", markup=False, highlight=False)
        SocketModeHandler(app, app_token).start()
    else:
        console.print(f"shotsmith slack: listening for Slack events on port {port} (/slack/events)",
                      markup=False, highlight=False)
        app.start(port=port)


def _slack_secrets() -> tuple[str, str, str]:
    """Return the bot token, the app token and the signing secret; fail unless the bot token and one other are set."""
    token = os.environ.get("SLACK_BOT_TOKEN", "").strip()
    app_token = os.environ.get("SLACK_APP_TOKEN", "").strip()
    secret = os.environ.get("SLACK_SIGNING_SECRET", "").strip()
    if not token or not (app_token or secret):
        fail("expected SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET in the environment "
             "(or SLACK_BOT_TOKEN and SLACK_APP_TOKEN for Socket Mode)")
    return token, app_token, secret


def _check_slack_options(library: Path | None, renderer: str, planner: str, llm_model: str | None) -> None:
    """Refuse a missing library, an unknown renderer or an unusable planner before the bot starts."""
    if library is not None and not library.is_file():
        fail(f"--library {library}: no such file")
    if renderer not in RENDERERS:
        fail(f"--renderer: expected one of {', '.join(RENDERERS)}, got {renderer!r}")
    try:
        make_planner(planner, llm_model)
    except ShotsmithError as error:
        fail_on(error)


def fresh_context(planner: str, renderer: str, library: Path | None, allow_pickle: bool,
                  llm_model: str | None) -> Callable[[Scene], Context]:
    """Return a context factory that reads the library afresh for each scene, logging what auto fell back from."""
    from agent.bots.slack import log  # the Slack bot's logger; Bolt loads only when the bot runs

    def context_for(scene: Scene) -> Context:
        lib = read_library(library, library, scene) if library is not None else None
        choice = make_context(planner, renderer, lib, allow_pickle, llm_model)
        for notice in choice.notices:
            log.warning("%s", notice)
        return choice.context
    return context_for


def _listed(name: str) -> list[str] | None:
    """Read a comma-separated list from the environment; None when it is unset or empty."""
    return [part.strip() for part in os.environ.get(name, "").split(",") if part.strip()] or None
