"""The shotsmith command: every command registered on one typer app, in the order --help lists them.

Each command is a plain function in its own module. What they share: agent.cli.output (printing and failing),
agent.cli.steps (the steps of a render) and agent.cli.options (the options several of them take).
"""

from __future__ import annotations

import typer

from agent.cli.bots import discord_cmd, slack
from agent.cli.chat import chat
from agent.cli.export import export
from agent.cli.lint import lint
from agent.cli.plan import plan
from agent.cli.run import run
from agent.cli.script import script
from agent.cli.train import train_app

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Shotsmith: storyboards from a scene.")

app.command("run")(run)
app.command("plan")(plan)
app.command("lint")(lint)
app.command("script")(script)
app.command("chat")(chat)
app.command("discord")(discord_cmd)
app.command("slack")(slack)
app.command("export")(export)
app.add_typer(train_app, name="train")
