"""Compose frames into one storyboard sheet: a titled grid of numbered, captioned panels.

Text in any script is drawn with the font chain of tools/fonts.py. write_grid writes the sheet as a PNG one
strip at a time (the title, then each row of panels) and keeps each strip's compressed bytes, so a correction
to one frame of a long storyboard redraws and recompresses one row, not the whole sheet.
"""

from __future__ import annotations

import math
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from tools.files import atomic

from tools import fonts
from tools.memo import Memo

_PAPER = (245, 243, 238)
_INK = (30, 30, 34)
_MUTED = (95, 95, 105)


@dataclass(frozen=True)
class Panel:
    """One frame of the sheet: its image file and the lines printed under it.

    The caption is the sheet's alone: a rendered image holds no frame number or caption, so it stays the same
    file wherever the frame stands.
    """

    image: Path
    title: str
    """First caption line ("3 · Close-up")."""
    detail: str = ""
    """Second caption line (who is in frame)."""


@dataclass(frozen=True)
class _Layout:
    """Where everything of a sheet goes, in pixels."""

    count: int
    columns: int
    thumb: int
    thumb_h: int
    gap: int = 16
    caption_h: int = 44
    header_h: int = 56

    @property
    def rows(self) -> int:
        return math.ceil(self.count / self.columns)

    @property
    def pitch(self) -> int:
        """Height of one row of panels with its captions and the gap under it."""
        return self.thumb_h + self.caption_h + self.gap

    @property
    def width(self) -> int:
        return self.columns * self.thumb + (self.columns + 1) * self.gap

    @property
    def height(self) -> int:
        return self.header_h + self.rows * self.pitch + self.gap

    def place(self, i: int) -> tuple[int, int]:
        """Return the top left corner of panel i's picture."""
        return self.gap + (i % self.columns) * (self.thumb + self.gap), self.header_h + (i // self.columns) * self.pitch

    def strips(self) -> list[tuple[int, int]]:
        """Return the sheet cut across into (top, bottom) strips: the title, then one per row of panels.

        Each row's strip starts a pixel above its pictures, where their frame lines are drawn; the last one
        runs to the bottom of the sheet.
        """
        tops = [0] + [self.header_h - 1 + r * self.pitch for r in range(self.rows)]
        return list(zip(tops, tops[1:] + [self.height]))


def _layout(panels: list[Panel], columns: int | None, thumb: int) -> _Layout:
    if not panels:
        raise ValueError("a storyboard sheet needs at least one frame")
    columns = columns or min(4, max(1, math.ceil(math.sqrt(len(panels)))))
    with Image.open(panels[0].image) as first:
        thumb_h = round(thumb * first.height / first.width)
    return _Layout(len(panels), columns, thumb, thumb_h)


def _draw(sheet: Image.Image, layout: _Layout, panels: list[Panel], title: str | None, first: int = 0,
          top: int = 0) -> None:
    """Draw the title (unless None) and panels onto `sheet`, whose first pixel row is row `top` of the whole
    sheet; panels[0] is panel number `first` of the sheet."""
    draw = ImageDraw.Draw(sheet)
    width, thumb, thumb_h = layout.width, layout.thumb, layout.thumb_h
    if title is not None:
        fonts.draw_text(draw, (layout.gap, 12 - top), fonts.fit(title, 24, width - 2 * layout.gap), 24, _INK,
                        width - 2 * layout.gap)
    for i, panel in enumerate(panels, first):
        x, y = layout.place(i)
        y -= top
        with Image.open(panel.image) as image:
            sheet.paste(image.convert("RGB").resize((thumb, thumb_h), Image.Resampling.LANCZOS), (x, y))
        draw.rectangle((x - 1, y - 1, x + thumb, y + thumb_h), outline=_INK)
        fonts.draw_text(draw, (x, y + thumb_h + 2), fonts.fit(panel.title, 15, thumb), 15, _INK, thumb)
        fonts.draw_text(draw, (x, y + thumb_h + 22), fonts.fit(panel.detail, 13, thumb), 13, _MUTED, thumb)


def compose_grid(panels: list[Panel], title: str, columns: int | None = None, thumb: int = 256) -> Image.Image:
    """Return a sheet with every panel scaled to `thumb` pixels wide, in rows of `columns`."""
    layout = _layout(panels, columns, thumb)
    sheet = Image.new("RGB", (layout.width, layout.height), _PAPER)
    _draw(sheet, layout, panels, title)
    return sheet


_STRIPS = Memo(64 * 2**20, weight=lambda known: len(known[0]))
"""What each strip drawn lately became: its IDAT chunk, the Adler-32 of its filtered rows and their length; up
to 64 MiB of chunks (always the newest strip)."""
_ADLER = 65521


def _file_identity(path: Path) -> tuple:
    """What stat says of an image file; a file written again (same bytes or not) has another identity."""
    stat = os.stat(path)
    return os.fspath(path), stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))


def _adler_join(first: int, second: int, length: int) -> int:
    """Return the Adler-32 of two byte strings one after the other, from theirs and the second's length."""
    rem = length % _ADLER
    low = ((first & 0xFFFF) + (second & 0xFFFF) - 1) % _ADLER
    high = (rem * (first & 0xFFFF) + (first >> 16) + (second >> 16) - rem) % _ADLER
    return low | high << 16


def _strip_bytes(strip: Image.Image) -> tuple[bytes, int, int]:
    """Return a strip's rows as PNG scanlines with the Sub filter, deflated so strips can follow one another.

    Each strip is compressed on its own and flushed to a byte boundary without ending the stream, so the
    strips of a sheet join into one zlib stream once the stream's final block and checksum are added.
    """
    pixels = np.asarray(strip, dtype=np.uint8).reshape(strip.height, strip.width * 3)
    lines = np.empty((strip.height, strip.width * 3 + 1), dtype=np.uint8)
    lines[:, 0] = 1  # filter type Sub: each byte less the same colour byte of the pixel to its left
    lines[:, 1:4] = pixels[:, :3]
    np.subtract(pixels[:, 3:], pixels[:, :-3], out=lines[:, 4:])
    raw = lines.tobytes()
    squeeze = zlib.compressobj(atomic.PNG_LEVEL, zlib.DEFLATED, -15)
    data = squeeze.compress(raw) + squeeze.flush(zlib.Z_FULL_FLUSH)
    return _chunk(b"IDAT", data), zlib.adler32(raw), len(raw)


def write_grid(path: Path, panels: list[Panel], title: str, columns: int | None = None, thumb: int = 256) -> None:
    """Write the sheet compose_grid draws to `path` as a PNG, atomically.

    Strips seen before (same layout, title or panels, and image files not written since) are not drawn again.
    """
    layout = _layout(panels, columns, thumb)
    identities = [(_file_identity(panel.image), panel.title, panel.detail) for panel in panels]
    parts, adler = [], 1
    for row, (top, bottom) in enumerate(layout.strips()):
        if row == 0:
            content: tuple = (title,)
        else:
            content = tuple(identities[(row - 1) * layout.columns:row * layout.columns])
        key = (layout.width, layout.thumb, layout.thumb_h, top, bottom, row == layout.rows, content)
        known = _STRIPS.get(key)
        if known is None:
            strip = Image.new("RGB", (layout.width, bottom - top), _PAPER)
            first = (row - 1) * layout.columns
            if row:
                _draw(strip, layout, panels[first:first + layout.columns], None, first, top)
            else:
                _draw(strip, layout, [], title)
            known = _strip_bytes(strip)
            _STRIPS.put(key, known)
        parts.append(known[0])
        adler = _adler_join(adler, known[1], known[2])
    header = struct.pack(">IIBBBBB", layout.width, layout.height, 8, 2, 0, 0, 0)  # 8-bit RGB, not interlaced
    data = b"".join([b"\x89PNG\r\n\x1a\n", _chunk(b"IHDR", header), _chunk(b"IDAT", b"\x78\x01"), *parts,
                     _chunk(b"IDAT", b"\x03\x00" + struct.pack(">I", adler)), _chunk(b"IEND", b"")])
    atomic.write_bytes(path, data)
