"""The `shotsmith lint` command: check a storyboard's frame prompts against the planning rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from agent.cli.output import fail, fail_on
from graphs.frames.document import read_plan
from prompts.lint import lint_plan
from tools.errors import ShotsmithError
from tools.files.bounded import STORYBOARD_LIMIT, read_text


def lint(storyboard: Annotated[Path, typer.Argument(help="storyboard.json, or the output of `shotsmith plan`.")]) -> None:
    """Check every frame prompt against the planning rules; exit 1 if any rule is broken."""
    try:
        text = read_text(storyboard, STORYBOARD_LIMIT, "storyboard.json or plan (JSON)")
        cast, specs = read_plan(json.loads(text))
    except FileNotFoundError:
        fail(f"{storyboard}: no such file")
    except ShotsmithError as error:
        fail_on(error)
    except (OSError, ValueError) as error:
        fail(f"{storyboard}: {str(error).splitlines()[0]}")
    violations = lint_plan(specs, cast)
    for violation in violations:
        typer.echo(str(violation))
    typer.echo(f"{len(violations)} violations in {len(specs)} frames")
    if violations:
        raise typer.Exit(1)
