"""How every shotsmith command talks: results on `console` (stdout), problems on `errors` (stderr).

`fail` ends a command with one `error: ...` line and an exit code; `fail_on` does so for an error the tools,
graphs or sessions raised, with the code it carries (2, or 1 when it stopped work under way).
"""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

from tools.errors import ShotsmithError

console = Console()
"""Where commands print what they made and what they are doing (stdout)."""

errors = Console(stderr=True)
"""Where commands print errors and the notices that go with them (stderr)."""

def fail(message: str, code: int = 2) -> NoReturn:
    """Print one line on stderr and exit."""
    errors.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def say(text: str) -> None:
    """Print one line on stdout as it is, with no markup or highlighting and no wrapping."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def warn(text: str) -> None:
    """Print one line on stderr as it is, with no markup or highlighting and no wrapping."""
    errors.print(text, markup=False, highlight=False, soft_wrap=True)


def fail_on(error: ShotsmithError, after: str = "") -> NoReturn:
    """End the command with the error's one line (and `after`, if given) and the exit code it carries."""
    fail(f"{error}{after}", error.exit_code)
