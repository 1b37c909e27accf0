"""What the terminal chat shows besides messages: the shot list as a table, and the sessions kept on disk."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterable
from pathlib import Path

from rich.table import Table
from rich.text import Text

from graphs.frames.document import shown_names
from graphs.state import FrameSpec, Storyboard
from prompts.camera import ANGLES, MOVEMENTS, camera_words
from prompts.shot_types import find_shot
from tools.files.bounded import STORYBOARD_LIMIT, read_text

SESSIONS = Path("out")
"""Where chat sessions are kept by default, one folder each; `--session ID` names a folder here."""


def _shot_name(slug: str) -> str:
    shot = find_shot(slug)  # a storyboard.json from elsewhere may name a type this version does not know
    return shot.name if shot else slug


SHORT = {"extreme_close_up": "ECU", "close_up": "CU", "medium_close_up": "MCU", "medium": "MS", "american": "AS",
         "full": "FS", "long": "LS", "extreme_long": "ELS", "detail": "INS"}
"""The shot sizes as a shot list abbreviates them (AS for the American or cowboy shot, INS for a detail insert)."""
NARROW = 72
"""Below this many columns a shot list is printed frame by frame instead of as a table, so nothing is cut."""


def _laid_out(title: str, columns: list[tuple[str, int]], rows: list[list[str]], width: int,
              caption: str = "") -> Table | Text:
    """The rows as a table whose last column (the long text) wraps, each short column at most its given width; on
    a terminal narrower than NARROW, each frame as a line of its short fields with the long text wrapped under it."""
    if width < NARROW:
        lines = [title]
        for number, *short, long in rows:
            lines.append(textwrap.fill(f"{number}: " + " · ".join(short), width, subsequent_indent="   "))
            lines.append(textwrap.fill(long, width, initial_indent="   ", subsequent_indent="   "))
        return Text("\n".join(lines + ([textwrap.fill(caption, width)] if caption else [])))
    table = Table(title=title, title_justify="left", width=width, caption=caption or None, caption_justify="left")
    table.add_column("frame", justify="right", no_wrap=True)
    for name, widest in columns[:-1]:
        table.add_column(name, max_width=widest, overflow="fold")
    table.add_column(columns[-1][0], min_width=columns[-1][1], ratio=1, overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def _who(state: Storyboard, spec: FrameSpec, nobody: str) -> str:
    shown = shown_names(state.scene.characters)
    return ", ".join(shown.get(p.name, p.name) for p in spec.characters) or nobody


def plan_table(state: Storyboard, width: int = 80) -> Table | Text:
    """Return the shot list with whole prompts: frame number, shot type, who is in frame and the prompt, wrapped to
    fit a console `width` characters wide."""
    rows = [[str(i), _shot_name(f.spec.shot_type), _who(state, f.spec, "-"), f.spec.prompt]
            for i, f in enumerate(state.frames)]
    return _laid_out(state.scene.title, [("shot", 16), ("characters", 14), ("prompt", 24)], rows, width)


def shot_list_table(state: Storyboard, width: int = 80) -> Table | Text:
    """Return the shot list as a crew reads it: frame, shot size, framing, angle (and movement, when the camera
    moves), who is in frame, and the action in the scene's words, wrapped to a console `width` characters wide."""
    shown = shown_names(state.scene.characters)
    rows = []
    for i, frame in enumerate(state.frames):
        spec = frame.spec
        framing = camera_words(spec.framing, "eye_level", "static", shown.get(spec.toward, spec.toward),
                               spec.subject) or "single"
        angle = ANGLES[spec.angle].label + ("" if spec.movement == "static" else f", {MOVEMENTS[spec.movement].label}")
        rows.append([str(i), SHORT.get(spec.shot_type, spec.shot_type), framing, angle, _who(state, spec, "nobody"),
                     spec.action or "-"])
    columns = [("shot", 4), ("framing", 14), ("angle / move", 10), ("who", 10), ("action", 24)]
    used = [slug for slug in SHORT if any(f.spec.shot_type == slug for f in state.frames)]
    caption = " · ".join(f"{SHORT[slug]} {_shot_name(slug).lower()}" for slug in used).replace("american", "American")
    return _laid_out(state.scene.title, columns, rows, width, caption)


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
