"""The PDF sheet's fonts and text: an A4 fpdf2 document that draws text in any script, and the cleaning,
wrapping and shortening of every text it prints.

Text in any script is drawn with the font chain of tools/fonts.py: Noto Sans first, and fpdf2 takes each
character the first font lacks from the next font that has it; HarfBuzz (uharfbuzz) shapes it, so Arabic is
joined and set right to left. Bold is the regular face drawn with a thin outline, so every script gets it.
Without any of those fonts the PDF core font Helvetica is used after the text is reduced to latin-1.
Characters no font has print as "?", so no text can break the export.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from fpdf.enums import MethodReturnValue, TextMode
from fpdf.errors import FPDFException

from tools import fonts
from tools.export.pdf_memo import LINES, ReusingFPDF

PLAIN = str.maketrans({**dict.fromkeys("\u2018\u2019\u201a\u2032", "'"), "\u2026": "...", "\u2022": "*",
                       **dict.fromkeys("\u201c\u201d\u201e\u2033", '"'),
                       **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2212", "-")})
"""ASCII stand-ins for the typographic characters the core fonts lack."""
GLUE = frozenset([0x200D, 0xFE0F, 0x20E3, *range(0x1F3FB, 0x1F400), *range(0xE0020, 0xE0080)])
"""What holds an emoji sequence together: the joiner, the emoji selector, the keycap, skin tones, tags."""
BOLD_STROKE = 0.035
"""Width of the outline that makes text bold, as a share of the font size."""

_PLAIN_RANGES = ((0x0000, 0x02FF), (0x0370, 0x04FF), (0x2010, 0x2027), (0x2030, 0x205E))
"""Latin, Greek, Cyrillic and common punctuation: letters drawn one by one, which need no shaping."""
_NOT_PLAIN = re.compile("[^" + "".join(f"\\U{low:08x}-\\U{high:08x}" for low, high in _PLAIN_RANGES) + "]")
_VARIATION_TABLES = ("gvar", "cvar", "HVAR", "VVAR", "MVAR", "avar", "fvar", "STAT")
"""What makes a font variable; a PDF uses the default instance, which the outlines already are."""
_LAYOUT_TABLES = ("GDEF", "GSUB", "GPOS")
"""OpenType layout tables, which fpdf2 drops from the fonts it embeds (the PDF holds glyphs already placed)."""


def plain(text: str) -> bool:
    """Tell whether text can be measured and drawn without HarfBuzz, which costs ten times as much per line:
    a sheet whose every text is plain is written without shaping."""
    return _NOT_PLAIN.search(text) is None


def font_files() -> tuple[Path, ...] | None:
    """Return the chain's font files in the order they are tried, or None when none is installed."""
    return tuple(face.path for face in fonts.chain()) or None


def needed_text(parts: list[str]) -> tuple[str, bool]:
    """Return a short text that needs the same fonts as every one of `parts` (a sample from each font), and
    whether any of them needs shaping.

    A sheet is shaped all through or not at all: fpdf2 2.8 gives back the wrong letters for some text when one
    font is drawn both ways in a document. Working out the fonts of a long storyboard's text takes a while, so
    each text's are kept for the next sheet.
    """
    samples: dict[str, str] = {}
    shape = False
    for part in dict.fromkeys(parts):
        key = ("fonts", part)
        found = LINES.get(key)
        if found is None:
            printed = fonts.printable(part)
            found = (tuple((face.name, text[:2]) for face, text in fonts.runs(printed)), not plain(printed))
            LINES.put(key, found)
        runs, shaped = found
        shape = shape or shaped
        for name, first in runs:
            samples.setdefault(name, first)
    return " ".join(samples.values()), shape


class SheetPDF(ReusingFPDF):
    """An A4 document set up for the sheet, with the text cleaned for whichever font it writes with.

    `text` needs the same fonts as everything the sheet prints (see needed_text); `shape` says whether any of it
    needs HarfBuzz. `margin` is the page margin in millimetres.
    """

    def __init__(self, orientation: str, text: str = "", shape: bool = True, margin: float = 10.0):
        super().__init__(orientation="L" if orientation == "landscape" else "P", unit="mm", format="A4")
        self.set_auto_page_break(False)
        self.set_margins(margin, margin)
        self.c_margin = 0  # text starts at the panel's edge, so measured widths are drawn widths
        self.unicode, self.bold, self.grey, self.emoji_font = False, False, 0, None
        faces: list[fonts.Face] = []
        files = font_files()
        if files is not None:
            try:
                faces = [face for face in fonts.needed(text) if face.path in files]
                self._add_fonts(faces)
                self.unicode = True
            except Exception:  # a broken or unsupported font file: write with the core font instead
                self.fonts.clear()
                self.set_fallback_fonts([])
        if self.unicode and shape:
            try:
                self.set_text_shaping(True)
            except FPDFException:
                pass  # no uharfbuzz: every script still prints, Arabic unjoined
        self.sheet_font = "Sheet" if self.unicode else "Helvetica"
        self.memo_key = (self.unicode, tuple(str(face.path) for face in faces) if self.unicode else (),
                         self.text_shaping is not None)
        """What wrapped lines depend on besides the font in use: for sharing them with other sheets."""

    def output(self, *args, **kwargs):
        """Write the document, first taking out of each font what the PDF would not use.

        A PDF draws a variable font at its default instance, so the variation tables go (fontTools spends most of
        a long sheet's output reading and writing them for nothing). Unshaped, the layout tables go as well:
        fpdf2 drops them from every embedded font, but only after fontTools 4.68 has read them whole. (Shaped,
        they stay: taking them out before fpdf2 subsets changes the letters the PDF gives back.)
        """
        drop = _VARIATION_TABLES + (_LAYOUT_TABLES if self.text_shaping is None else ())
        for font in self.fonts.values():
            ttfont = getattr(font, "ttfont", None)
            for tag in drop:
                if ttfont is not None and tag in ttfont:
                    del ttfont[tag]
        return super().output(*args, **kwargs)

    def _add_fonts(self, faces: list[fonts.Face]) -> None:
        """Add the first font as the sheet's (regular and bold) and the others as fallbacks. With an emoji
        font among them, the joiners and modifiers of emoji sequences are left to it, so they join."""
        emoji = next((f"Fallback{i}" for i, face in enumerate(faces[1:]) if face.name == "Noto Emoji"), None)
        own = sorted(fonts.glyphs(faces[0].path) - GLUE) if emoji else None
        self.add_font("Sheet", "", faces[0].path, unicode_range=own)
        # Bold is drawn outlined (cell_line) from a second copy of the font: one copy for both loses letters of
        # some Devanagari clusters from the text the PDF gives back (fpdf2 2.8's ToUnicode map).
        self.add_font("Sheet", "B", faces[0].path, unicode_range=own)
        for i, face in enumerate(faces[1:]):
            self.add_font(f"Fallback{i}", "", face.path)
        self.set_fallback_fonts([f"Fallback{i}" for i in range(len(faces) - 1)], exact_match=False)
        self.emoji_font = emoji and emoji.lower()

    def get_fallback_font(self, char: str, style: str = "") -> str | None:
        """Take the joiners and modifiers of emoji sequences from the emoji font, the rest as fpdf2 does."""
        if self.emoji_font and ord(char) in GLUE:
            return self.emoji_font
        return super().get_fallback_font(char, style)

    def clean(self, text: str) -> str:
        """Return text on one line with only characters a font can draw ("?" for the rest)."""
        key = ("clean", self.unicode, text)
        known = LINES.get(key)
        if known is None:
            known = self._clean(text)
            LINES.put(key, known)
        return known

    def _clean(self, text: str) -> str:
        text = fonts.printable(text)
        if not self.unicode:
            text = "".join(c for c in text if c not in fonts.KEEP)
            return text.translate(PLAIN).encode("latin-1", "replace").decode("latin-1")
        return "".join(c if fonts.face_for(c) else "" if unicodedata.category(c) in ("Cf", "Mn") else "?"
                       for c in text)

    def use(self, size: float, bold: bool = False, grey: int = 0) -> None:
        """Switch to the sheet's font at a size in points, bold or not, in a shade of grey."""
        self.set_font(self.sheet_font, "B" if bold else "", size)
        self.set_text_color(grey)
        self.bold, self.grey = bold, grey

    def cell_line(self, width: float, height: float, text: str, align: str = "") -> None:
        """Write one line in a cell, against the right edge when the line reads right to left."""
        align = align or ("R" if fonts.direction(text) == "R" else "L")
        if not (self.unicode and self.bold):
            self.cell(width, height, text, align=align)
            return
        stroke = self.font_size_pt * BOLD_STROKE / self.k  # the Unicode fonts have no bold face: outline them
        with self.local_context(text_mode=TextMode.FILL_STROKE, line_width=stroke, draw_color=self.grey):
            self.cell(width, height, text, align=align)

    def wrap(self, text: str, width: float) -> list[str]:
        """Return cleaned text wrapped to a width in the current font, one string a line."""
        if not text:
            return []
        key = ("wrap", self.memo_key, self.font_family, self.font_style, self.font_size_pt, text, width)
        lines = LINES.get(key)
        if lines is None:
            lines = tuple(line.strip() for line in
                          self.multi_cell(width, 1, text, dry_run=True, output=MethodReturnValue.LINES))
            LINES.put(key, lines)
        return list(lines)

    def cut(self, lines: list[str], width: float, most: int) -> list[str]:
        """Keep at most `most` lines; when some are left out, end the last one kept with an ellipsis."""
        if len(lines) <= most:
            return lines
        return lines[:most - 1] + [self.fit(lines[most - 1], width, True)] if most > 0 else []

    def fit(self, text: str, width: float, cut: bool = False) -> str:
        """Return text shortened to a width with an ellipsis at its end if it was, or if `cut` says so."""
        key = ("fit", self.memo_key, self.font_family, self.font_style, self.font_size_pt, text, width, cut)
        known = LINES.get(key)
        if known is None:
            known = self._fit(text, width, cut)
            LINES.put(key, known)
        return known

    def _fit(self, text: str, width: float, cut: bool) -> str:
        dots = "\u2026" if self.unicode else "..."
        if not cut and self.get_string_width(text) <= width:
            return text
        low, high = 0, len(text)  # the longest start of the text that fits with the ellipsis after it
        while low < high:
            middle = (low + high + 1) // 2
            low, high = (middle, high) if self.get_string_width(text[:middle] + dots) <= width else (low, middle - 1)
        return text[:low].rstrip() + dots
