"""What the terminal chat shows besides messages: the shot list as a table, and the sessions kept on disk."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from rich.table import Table

from graphs.frames.document import shown_names
from graphs.state import Storyboard
from prompts.shot_types import shot_by_slug
from tools.files.bounded import STORYBOARD_LIMIT, read_text

SESSIONS = Path("out")
"""Where chat sessions are kept by default, one folder each; `--session ID` names a folder here."""

PROMPT_WIDTH = 60
"""The most characters of each frame's prompt the plan table shows; a narrow terminal cuts it shorter."""


def plan_table(state: Storyboard, width: int = 80) -> Table:
    """Return the shot list as a table: frame number, shot type, who is in frame and the prompt's start.

    Each prompt is cut to fit one line of a console `width` characters wide (at most PROMPT_WIDTH).
    """
    rows, shown = [], shown_names(state.scene.characters)
    for i, frame in enumerate(state.frames):
        spec = frame.spec
        try:
            shot = shot_by_slug(spec.shot_type).name
        except ValueError:
            shot = spec.shot_type
        rows.append((str(i), shot, ", ".join(shown.get(p.name, p.name) for p in spec.characters) or "-", spec.prompt))
    shot_width = max(len("shot"), *(len(row[1]) for row in rows))
    cast_width = min(24, max(len("characters"), *(len(row[2]) for row in rows)))
    # 13 = five rules between and around four columns, plus one space of padding on each side of each
    room = max(12, min(PROMPT_WIDTH, width - 13 - len("frame") - shot_width - cast_width))
    table = Table(title=state.scene.title, title_justify="left")
    table.add_column("frame", justify="right")
    table.add_column("shot")
    table.add_column("characters", max_width=cast_width)
    table.add_column("prompt")
    for number, shot, people, prompt in rows:
        table.add_row(number, shot, people, _shorten(prompt, room))
    return table


def list_sessions(roots: Iterable[Path]) -> list[tuple[Path, str]]:
    """Return the folders directly under the given roots that keep a session, with their scene titles."""
    found: dict[Path, tuple[Path, str]] = {}
    for root in roots:
        if not root.is_dir():
            continue
        for folder in sorted(root.iterdir()):
            if folder.resolve() in found or not (folder / "session.json").is_file():
                continue
            found[folder.resolve()] = (folder, _title(folder))
    return list(found.values())


def _title(folder: Path) -> str:
    try:
        return str(json.loads(read_text(folder / "storyboard.json", STORYBOARD_LIMIT, "storyboard.json"))["title"])
    except (OSError, ValueError, KeyError, TypeError):
        return "(nothing drawn yet)"


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
