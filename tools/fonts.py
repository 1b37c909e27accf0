"""Text in any script: a chain of fonts tried in order for each character, and Pillow drawing that uses it.

The chain is Noto Sans (Latin, Greek, Cyrillic), Noto Sans Arabic, Noto Sans Devanagari, Noto Emoji,
Noto Sans CJK JP (Japanese, Chinese, Korean) and, where the system has it, DejaVu Sans. All but Noto
Emoji come from pip packages; Noto Emoji ships in tools/font_files/. A line is split into runs of
characters that one font draws, the runs are put in visual order (right-to-left runs reversed), and
each run is shaped by Pillow's Raqm layout, so Arabic is joined and Devanagari conjuncts form.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fontTools.ttLib import TTFont
from PIL import ImageDraw, ImageFont, features

EMOJI_FILE = Path(__file__).resolve().parent / "font_files" / "NotoEmoji-Regular.ttf"
SYSTEM_FILES = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/dejavu/DejaVuSans.ttf",
                "/usr/share/fonts/TTF/DejaVuSans.ttf", "/Library/Fonts/DejaVuSans.ttf",
                "C:/Windows/Fonts/DejaVuSans.ttf")
"""Where DejaVu Sans, the last font of the chain, may be."""
KEEP = frozenset("\u200c\u200d")
"""Format characters kept in text: the zero-width non-joiner and joiner (emoji sequences, Indic, Persian)."""
_NEUTRAL = frozenset({"WS", "ON", "CS", "ES", "ET", "EN", "AN", "BN", "S"})
"""Bidi classes of spaces, digits and punctuation: they stay in the run around them when its font has them."""
RAQM = features.check("raqm")
"""Whether Pillow can shape text (Raqm); without it Arabic is drawn unjoined, left to right."""


@dataclass(frozen=True)
class Face:
    """One font of the chain: its name and its file."""

    name: str
    path: Path


def _packaged(family: str) -> Path | None:
    import fontpkg

    try:
        return Path(fontpkg.path(family))
    except fontpkg.FontpkgError:
        return None


def _japanese() -> Path | None:
    try:
        import noto_cjk_sans_jp_regular
    except ImportError:
        return None
    return Path(str(noto_cjk_sans_jp_regular.FONT_PATH))


@lru_cache(maxsize=1)
def chain() -> tuple[Face, ...]:
    """Return the fonts that are installed, in the order they are tried."""
    found = [(name, _packaged(name)) for name in ("Noto Sans", "Noto Sans Arabic", "Noto Sans Devanagari")]
    found += [("Noto Emoji", EMOJI_FILE), ("Noto Sans CJK JP", _japanese())]
    found.append(("DejaVu Sans", next((Path(p) for p in SYSTEM_FILES if Path(p).is_file()), None)))
    return tuple(Face(name, path) for name, path in found if path is not None and path.is_file())


@lru_cache(maxsize=16)
def glyphs(path: Path) -> frozenset[int]:
    """Return the code points a font file has glyphs for."""
    with TTFont(path, lazy=True) as font:
        return frozenset(font.getBestCmap() or {})


def printable(text: str) -> str:
    """Return text on one line (NFC, runs of white space made one space) without control or format
    characters, except the zero-width joiner and non-joiner."""
    text = " ".join(unicodedata.normalize("NFC", str(text)).split())
    return "".join(c for c in text if c in KEEP or c.isprintable())


def _ignorable(c: str) -> bool:
    """Tell whether a character draws nothing by itself (joiners, variation selectors, tags)."""
    point = ord(c)
    return unicodedata.category(c) == "Cf" or 0xFE00 <= point <= 0xFE0F or 0xE0100 <= point <= 0xE01EF


def _joins(c: str) -> bool:
    """Tell whether a character belongs with the one before it: marks, joiners, skin tones, digits, spaces."""
    return (unicodedata.category(c) in ("Mn", "Me", "Cf") or 0x1F3FB <= ord(c) <= 0x1F3FF
            or (unicodedata.bidirectional(c) in _NEUTRAL and unicodedata.category(c) != "So"))


def face_for(c: str, emoji: bool = False) -> Face | None:
    """Return the first font of the chain that draws a character (Noto Emoji first when `emoji`)."""
    faces = chain()
    if emoji:
        faces = tuple(sorted(faces, key=lambda face: face.name != "Noto Emoji"))
    return next((face for face in faces if ord(c) in glyphs(face.path)), None)


def runs(text: str) -> list[tuple[Face, str]]:
    """Split text into runs, in reading order, each drawn by one font; characters that draw nothing and
    that the run's font lacks are left out, and a character no font has goes to the first font."""
    out: list[list] = []
    for i, c in enumerate(text):
        current = out[-1][0] if out else None
        emoji = text[i + 1:i + 2] == "\ufe0f"  # the character asks to be drawn as an emoji
        if current is not None and _joins(c) and not emoji and ord(c) in glyphs(current.path) \
                and not (c.isspace() and current.name == "Noto Emoji"):  # its space is an emoji wide
            out[-1][1] += c
            continue
        if _ignorable(c):
            continue
        face = face_for(c, emoji) or chain()[0]
        if face == current:
            out[-1][1] += c
        else:
            out.append([face, c])
    return [(face, part) for face, part in out]


def needed(text: str) -> list[Face]:
    """Return the chain's first font and every other font that draws some character of text."""
    used = {face for face, _ in runs(printable(text))}
    return [face for i, face in enumerate(chain()) if i == 0 or face in used]


def _strong(text: str) -> str | None:
    """Return "R" or "L" for the first letter with a direction in text, None when there is none."""
    for c in text:
        kind = unicodedata.bidirectional(c)
        if kind in ("R", "AL"):
            return "R"
        if kind == "L":
            return "L"
    return None


def direction(text: str) -> str:
    """Return the direction a line of text reads in: "R" when its first letter is right-to-left, else "L"."""
    return _strong(text) or "L"


def _trimmed(face: Face, part: str) -> list[tuple[Face, str]]:
    """Split the spaces and punctuation off both ends of a right-to-left run, so they can go with the
    runs beside it (digits stay: they read with the letters before them)."""
    if _strong(part) != "R":
        return [(face, part)]
    loose = [unicodedata.bidirectional(c) in _NEUTRAL - {"EN", "AN"} for c in part]
    start = loose.index(False)
    end = len(part) - loose[::-1].index(False)
    return [(face, piece) for piece in (part[:start], part[start:end], part[end:]) if piece]


def visual(text: str) -> list[tuple[Face, str, str]]:
    """Return the runs of a line in the order they are drawn from left to right, each with "ltr" or
    "rtl" for the way its own characters go."""
    parts = [piece for face, part in runs(printable(text)) for piece in _trimmed(face, part)]
    ways = [_strong(part) for _, part in parts]
    base = next((way for way in ways if way), "L")
    for i, way in enumerate(ways):
        if way is None:  # a run of emoji or punctuation takes the direction of the runs on both sides
            before = next((w for w in reversed(ways[:i]) if w), base)
            after = next((w for w in ways[i + 1:] if w), base)
            ways[i] = before if before == after else base
    levels = [(1 if way == "R" else 2) if base == "R" else (1 if way == "R" else 0) for way in ways]
    order = list(range(len(parts)))
    for level in range(max(levels, default=0), 0, -1):  # reverse every stretch at or above each level
        i = 0
        while i < len(order):
            if levels[order[i]] < level:
                i += 1
                continue
            end = i
            while end < len(order) and levels[order[end]] >= level:
                end += 1
            order[i:end] = order[i:end][::-1]
            i = end
    return [(parts[k][0], parts[k][1], "rtl" if ways[k] == "R" else "ltr") for k in order]


@lru_cache(maxsize=64)
def pillow_font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    """Return a font file at a size in pixels, shaped by Raqm where Pillow has it."""
    engine = ImageFont.Layout.RAQM if RAQM else ImageFont.Layout.BASIC
    return ImageFont.truetype(str(path), size, layout_engine=engine)


def _length(face: Face, part: str, way: str, size: int) -> float:
    return pillow_font(face.path, size).getlength(part, direction=way if RAQM else None)


def text_length(text: str, size: int) -> float:
    """Return how wide a line of text is drawn at a size in pixels."""
    return sum(_length(face, part, way, size) for face, part, way in visual(text))


def fit(text: str, size: int, width: float) -> str:
    """Return text (made printable) shortened with an ellipsis at its end until it fits a width."""
    text = printable(text)
    if text_length(text, size) <= width:
        return text
    low, high = 0, len(text)  # the longest start that fits with the ellipsis after it
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if text_length(text[:middle] + "\u2026", size) <= width else (low, middle - 1)
    return text[:low].rstrip() + "\u2026" if low else ""


def line_height(size: int) -> int:
    """Return the height of a line at a size in pixels: the first font's ascent and descent."""
    ascent, descent = pillow_font(chain()[0].path, size).getmetrics()
    return ascent + descent


def draw_text(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, size: int, fill,
              width: float | None = None) -> None:
    """Draw one line of text with its top left at `xy`; within `width`, a right-to-left line is set
    against the right edge."""
    x, top = xy
    pieces = visual(text)
    if width is not None and direction(printable(text)) == "R":
        x += max(0.0, width - sum(_length(face, part, way, size) for face, part, way in pieces))
    baseline = top + pillow_font(chain()[0].path, size).getmetrics()[0]
    for face, part, way in pieces:
        font = pillow_font(face.path, size)
        draw.text((x, baseline), part, font=font, fill=fill, anchor="ls", direction=way if RAQM else None)
        x += _length(face, part, way, size)
