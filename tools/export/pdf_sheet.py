"""The storyboard as a printable PDF sheet: a header on every page, then a grid of panels, each one a frame's
image with its notes (frame number, shot, characters, action, dialogue, duration) under it.

Text in any script is drawn with the font chain of tools/fonts.py: Noto Sans first, and fpdf2 takes each
character the first font lacks from the next font that has it; HarfBuzz (uharfbuzz) shapes it, so Arabic is
joined and set right to left. Bold is the regular face drawn with a thin outline, so every script gets it.
Without any of those fonts the PDF core font Helvetica is used after the text is reduced to latin-1.
Characters no font has print as "?", so no text can break the export.
"""

from __future__ import annotations

import datetime
import math
import os
import re
import threading
import unicodedata
from collections import OrderedDict
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import MethodReturnValue, TextMode
from fpdf.errors import FPDFException
from PIL import Image

from tools.files import atomic

from tools import fonts
from tools.export.shot_list import Board, ExportError, Shot

PANEL_CHOICES = range(1, 13)
"""How many panels a page may hold."""
GRIDS = {1: (1, 1), 2: (2, 1), 3: (3, 1), 4: (2, 2), 5: (3, 2), 6: (3, 2), 7: (4, 2), 8: (4, 2), 9: (3, 3),
         10: (4, 3), 11: (4, 3), 12: (4, 3)}
"""(columns, rows) for each panel count on a landscape page; a portrait page swaps them."""
MARGIN, GAP, HEADER = 10.0, 4.0, 19.0
"""Page margin, space between panels and height of the header, in millimetres."""
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


def _plain(text: str) -> bool:
    """Tell whether text can be measured and drawn without HarfBuzz, which costs ten times as much per line:
    a sheet whose every text is plain is written without shaping."""
    return _NOT_PLAIN.search(text) is None


_VARIATION_TABLES = ("gvar", "cvar", "HVAR", "VVAR", "MVAR", "avar", "fvar", "STAT")
"""What makes a font variable; a PDF uses the default instance, which the outlines already are."""
_LAYOUT_TABLES = ("GDEF", "GSUB", "GPOS")
"""OpenType layout tables, which fpdf2 drops from the fonts it embeds (the PDF holds glyphs already placed)."""


class _Memo:
    """A bounded store shared by every sheet written in this process: a 200-frame storyboard wraps the same
    notes and embeds the same images at every correction, and only what changed need be worked out again."""

    def __init__(self, most: int):
        self.most = most
        self.items: OrderedDict = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key):
        with self.lock:
            value = self.items.get(key)
            if value is not None:
                self.items.move_to_end(key)
            return value

    def put(self, key, value) -> None:
        with self.lock:
            self.items[key] = value
            while len(self.items) > self.most:
                self.items.popitem(last=False)


_LINES = _Memo(20_000)
"""(fonts, font, size, text, width) -> the text's wrapped lines, or its shortened form."""
_IMAGES = _Memo(400)
"""(image file, what stat says of it) -> fpdf2's decoded and compressed image, ready to embed again."""


def _font_files() -> tuple[Path, ...] | None:
    """Return the chain's font files in the order they are tried, or None when none is installed."""
    return tuple(face.path for face in fonts.chain()) or None


class _Sheet(FPDF):
    """An A4 page set up for the sheet, with the text cleaned for whichever font it writes with."""

    def __init__(self, orientation: str, text: str = "", shape: bool = True):
        super().__init__(orientation="L" if orientation == "landscape" else "P", unit="mm", format="A4")
        self.set_auto_page_break(False)
        self.set_margins(MARGIN, MARGIN)
        self.c_margin = 0  # text starts at the panel's edge, so measured widths are drawn widths
        self.unicode, self.bold, self.grey, self.emoji_font = False, False, 0, None
        faces: list[fonts.Face] = []
        files = _font_files()
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

    def image(self, name, *args, **kwargs):
        """Embed an image file, reusing what an earlier sheet of this process made of the same file."""
        if not isinstance(name, str) or name in self.image_cache.images:
            return super().image(name, *args, **kwargs)
        try:
            stat = os.stat(name)
            key = (name, stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
        except OSError:
            return super().image(name, *args, **kwargs)
        known = _IMAGES.get(key)
        if known is not None:
            self.image_cache.images[name] = type(known)({**known, "i": len(self.image_cache.images) + 1,
                                                         "usages": 0, "iccp_i": None})
        placed = super().image(name, *args, **kwargs)
        info = self.image_cache.images.get(name)
        if known is None and info is not None and info.get("iccp") is None:
            _IMAGES.put(key, type(info)({k: v for k, v in info.items() if k not in ("i", "usages", "iccp_i")}))
        return placed

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
        known = _LINES.get(key)
        if known is None:
            known = self._clean(text)
            _LINES.put(key, known)
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
        lines = _LINES.get(key)
        if lines is None:
            lines = tuple(line.strip() for line in
                          self.multi_cell(width, 1, text, dry_run=True, output=MethodReturnValue.LINES))
            _LINES.put(key, lines)
        return list(lines)

    def cut(self, lines: list[str], width: float, most: int) -> list[str]:
        """Keep at most `most` lines; when some are left out, end the last one kept with an ellipsis."""
        if len(lines) <= most:
            return lines
        return lines[:most - 1] + [self.fit(lines[most - 1], width, True)] if most > 0 else []

    def fit(self, text: str, width: float, cut: bool = False) -> str:
        """Return text shortened to a width with an ellipsis at its end if it was, or if `cut` says so."""
        key = ("fit", self.memo_key, self.font_family, self.font_style, self.font_size_pt, text, width, cut)
        known = _LINES.get(key)
        if known is None:
            known = self._fit(text, width, cut)
            _LINES.put(key, known)
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


def write_pdf(board: Board, path: Path, panels: int = 6, orientation: str = "landscape",
              date: str | None = None) -> int:
    """Write the storyboard as an A4 PDF with `panels` frames a page; return the number of pages written."""
    if not isinstance(panels, int) or panels not in PANEL_CHOICES:
        raise ExportError(f"panels must be a whole number from {PANEL_CHOICES[0]} to {PANEL_CHOICES[-1]}, "
                          f"not {panels!r}")
    if orientation not in ("landscape", "portrait"):
        raise ExportError(f"orientation must be landscape or portrait, not {orientation!r}")
    if not board.shots:
        raise ExportError(f"{board.folder}: the storyboard has no frames to put on a sheet")
    date = str(date) if date else datetime.date.today().isoformat()
    pdf = _Sheet(orientation, *_needed_text(board))
    try:
        made = datetime.datetime.fromisoformat(date)
        pdf.set_creation_date(made if made.tzinfo else made.replace(tzinfo=datetime.timezone.utc))
    except ValueError:
        pass  # a date that is not ISO is printed as given, and the file keeps the time it was made
    pages = math.ceil(len(board.shots) / panels)
    columns, rows = GRIDS[panels] if orientation == "landscape" else GRIDS[panels][::-1]
    for page in range(pages):
        pdf.add_page()
        _header(pdf, board, date, page + 1, pages)
        width = (pdf.w - 2 * MARGIN - GAP * (columns - 1)) / columns
        height = (pdf.h - 2 * MARGIN - HEADER - GAP * (rows - 1)) / rows
        for slot, shot in enumerate(board.shots[page * panels:(page + 1) * panels]):
            row, column = divmod(slot, columns)
            _panel(pdf, board, shot, MARGIN + column * (width + GAP), MARGIN + HEADER + row * (height + GAP),
                   width, height)
    atomic.write_bytes(path, bytes(pdf.output()))
    return pages


def _parts(board: Board) -> list[str]:
    """Return every text the sheet may print."""
    parts = [board.title, board.description]
    for shot in board.shots:
        parts += [shot.shot_name, shot.action, *(f"{n} {p}" for n, p in shot.characters)]
        parts += [said.line() for said in shot.dialogue]
    return parts


def _needed_text(board: Board) -> tuple[str, bool]:
    """Return a short text that needs the same fonts as every text of the sheet (a sample from each font), and
    whether any text needs shaping.

    A sheet is shaped all through or not at all: fpdf2 2.8 gives back the wrong letters for some text when one
    font is drawn both ways in a document. Working out the fonts of a long storyboard's text takes a while, so
    each text's are kept for the next sheet.
    """
    samples: dict[str, str] = {}
    shape = False
    for part in dict.fromkeys(_parts(board)):
        key = ("fonts", part)
        found = _LINES.get(key)
        if found is None:
            printed = fonts.printable(part)
            found = (tuple((face.name, text[:2]) for face, text in fonts.runs(printed)), not _plain(printed))
            _LINES.put(key, found)
        runs, shaped = found
        shape = shape or shaped
        for name, first in runs:
            samples.setdefault(name, first)
    return " ".join(samples.values()), shape


def _header(pdf: _Sheet, board: Board, date: str, page: int, pages: int) -> None:
    """Draw the title, the scene, the date and the page number across the top of the page."""
    full = pdf.w - 2 * MARGIN
    pdf.use(8, grey=80)
    corner = [pdf.fit(pdf.clean(date), 45), f"page {page} of {pages}"]
    right = max(pdf.get_string_width(text) for text in corner) + 4
    for y, text in zip((MARGIN, MARGIN + 5), corner):
        pdf.set_xy(pdf.w - MARGIN - right, y)
        pdf.cell(right, 5, text, align="R")
    pdf.use(13, bold=True)
    pdf.set_xy(MARGIN, MARGIN)
    pdf.cell_line(full - right - 2, 6, pdf.fit(pdf.clean(board.title), full - right - 2))
    pdf.use(8, grey=60)
    for i, line in enumerate(pdf.cut(pdf.wrap(pdf.clean(board.description), full - right - 2), full - right - 2, 2)):
        pdf.set_xy(MARGIN, MARGIN + 6.5 + 3.6 * i)
        pdf.cell_line(full - right - 2, 3.6, line)
    pdf.set_draw_color(160)
    pdf.line(MARGIN, MARGIN + HEADER - 2.5, pdf.w - MARGIN, MARGIN + HEADER - 2.5)


def _aspect(path: Path) -> float:
    """Return an image's width over its height, kept for the next sheet while the file stays as it is."""
    stat = os.stat(path)
    key = ("aspect", os.fspath(path), stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
    aspect = _LINES.get(key)
    if aspect is None:
        with Image.open(path) as image:
            aspect = image.width / image.height
        _LINES.put(key, aspect)
    return aspect


def _panel(pdf: _Sheet, board: Board, shot: Shot, x: float, y: float, width: float, height: float) -> None:
    """Draw one frame in its box: the image fitted into the top part, the notes under it, cut to fit."""
    try:
        aspect = _aspect(board.image(shot))
    except (OSError, ValueError, ZeroDivisionError) as error:
        raise ExportError(f"{board.image(shot)}: cannot read the image of frame {shot.number} ({error})") from None
    box = min(height * 0.62, width / aspect)
    shown = (width, width / aspect) if width / aspect <= box else (box * aspect, box)
    pdf.set_draw_color(190)
    pdf.rect(x, y, width, box)
    pdf.image(str(board.image(shot)), x + (width - shown[0]) / 2, y + (box - shown[1]) / 2, *shown)
    size = max(5.5, min(9.0, height / 9))
    step = size * 0.42
    pdf.use(size, bold=True)
    duration = f"{round(shot.duration, 2):g} s"
    heading = pdf.clean(f"Frame {shot.number} \u00b7 {shot.shot_name}")
    pdf.set_xy(x, y + box + 1)
    pdf.cell_line(width, step, pdf.fit(heading, width - pdf.get_string_width(duration) - 3), align="L")
    pdf.set_xy(x, y + box + 1)
    pdf.cell_line(width, step, duration, align="R")
    pdf.use(size, grey=90)
    budget = int((height - box - 1) / step) - 1
    who = pdf.cut(pdf.wrap(pdf.clean(", ".join(f"{n} ({p})" for n, p in shot.characters)), width), width, 1)
    action = pdf.wrap(pdf.clean(shot.action), width)
    spoken = [line for said in shot.dialogue for line in pdf.wrap(pdf.clean(said.line()), width)]
    room = budget - len(who)
    keep = min(len(spoken), max(room // 2, room - len(action)))
    notes = [(line, 90) for line in who[:budget]] + [(line, 0) for line in pdf.cut(action, width, room - keep)]
    notes += [(line, 20) for line in pdf.cut(spoken, width, keep)]
    for i, (line, grey) in enumerate(notes):
        pdf.use(size, grey=grey)
        pdf.set_xy(x, y + box + 1 + step * (i + 1))
        pdf.cell_line(width, step, line)
