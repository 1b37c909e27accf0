"""Prompt files shipped with the package, rendered strictly: a missing value is an error."""

from __future__ import annotations

import string
from importlib import resources


class MissingVariable(KeyError):
    """Raised when a template names a value the caller did not give."""


def load(name: str) -> str:
    """Return the text of a prompt file in this package, such as "planner.txt"."""
    return resources.files("prompts").joinpath(name).read_text(encoding="utf-8")


def render(template: str, **values: object) -> str:
    """Fill $name placeholders; raise MissingVariable naming the first one not given."""
    names = {m.group("named") or m.group("braced") for m in string.Template.pattern.finditer(template)}
    missing = sorted(n for n in names if n and n not in values)
    if missing:
        raise MissingVariable(f"prompt template needs a value for {missing[0]!r}")
    return string.Template(template).substitute({k: str(v) for k, v in values.items()})
