"""Compose frames into one storyboard sheet: a titled grid of numbered, captioned panels.

Text in any script is drawn with the font chain of tools/fonts.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from tools import fonts

_PAPER = (245, 243, 238)
_INK = (30, 30, 34)
_MUTED = (95, 95, 105)


@dataclass(frozen=True)
class Panel:
    """One frame of the sheet: its image file and the lines printed under it."""

    image: Path
    title: str
    """First caption line ("3 · Close-up")."""
    detail: str = ""
    """Second caption line (who is in frame)."""


def compose_grid(panels: list[Panel], title: str, columns: int | None = None, thumb: int = 256) -> Image.Image:
    """Return a sheet with every panel scaled to `thumb` pixels wide, in rows of `columns`."""
    if not panels:
        raise ValueError("a storyboard sheet needs at least one frame")
    columns = columns or min(4, max(1, math.ceil(math.sqrt(len(panels)))))
    with Image.open(panels[0].image) as first:
        thumb_h = round(thumb * first.height / first.width)
    gap, caption_h, header_h = 16, 44, 56
    rows = math.ceil(len(panels) / columns)
    width = columns * thumb + (columns + 1) * gap
    height = header_h + rows * (thumb_h + caption_h + gap) + gap
    sheet = Image.new("RGB", (width, height), _PAPER)
    draw = ImageDraw.Draw(sheet)
    fonts.draw_text(draw, (gap, 12), fonts.fit(title, 24, width - 2 * gap), 24, _INK, width - 2 * gap)
    for i, panel in enumerate(panels):
        x = gap + (i % columns) * (thumb + gap)
        y = header_h + (i // columns) * (thumb_h + caption_h + gap)
        with Image.open(panel.image) as image:
            sheet.paste(image.convert("RGB").resize((thumb, thumb_h), Image.Resampling.LANCZOS), (x, y))
        draw.rectangle((x - 1, y - 1, x + thumb, y + thumb_h), outline=_INK)
        fonts.draw_text(draw, (x, y + thumb_h + 2), fonts.fit(panel.title, 15, thumb), 15, _INK, thumb)
        fonts.draw_text(draw, (x, y + thumb_h + 22), fonts.fit(panel.detail, 13, thumb), 13, _MUTED, thumb)
    return sheet
