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
import unicodedata
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import MethodReturnValue, TextMode
from fpdf.errors import FPDFException
from PIL import Image

from tools import atomic, fonts
from tools.shot_list import Board, ExportError, Shot

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


def _font_files() -> tuple[Path, ...] | None:
    """Return the chain's font files in the order they are tried, or None when none is installed."""
    return tuple(face.path for face in fonts.chain()) or None


class _Sheet(FPDF):
    """An A4 page set up for the sheet, with the text cleaned for whichever font it writes with."""

    def __init__(self, orientation: str, text: str = ""):
        super().__init__(orientation="L" if orientation == "landscape" else "P", unit="mm", format="A4")
        self.set_auto_page_break(False)
        self.set_margins(MARGIN, MARGIN)
        self.c_margin = 0  # text starts at the panel's edge, so measured widths are drawn widths
        self.unicode, self.bold, self.grey, self.emoji_font = False, False, 0, None
        files = _font_files()
        if files is not None:
            try:
                self._add_fonts([face for face in fonts.needed(text) if face.path in files])
                self.unicode = True
            except Exception:  # a broken or unsupported font file: write with the core font instead
                self.fonts.clear()
                self.set_fallback_fonts([])
        if self.unicode:
            try:
                self.set_text_shaping(True)
            except FPDFException:
                pass  # no uharfbuzz: every script still prints, Arabic unjoined
        self.sheet_font = "Sheet" if self.unicode else "Helvetica"

    def _add_fonts(self, faces: list[fonts.Face]) -> None:
        """Add the first font as the sheet's (regular and bold) and the others as fallbacks. With an emoji
        font among them, the joiners and modifiers of emoji sequences are left to it, so they join."""
        emoji = next((f"Fallback{i}" for i, face in enumerate(faces[1:]) if face.name == "Noto Emoji"), None)
        own = sorted(fonts.glyphs(faces[0].path) - GLUE) if emoji else None
        self.add_font("Sheet", "", faces[0].path, unicode_range=own)
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
        return [line.strip() for line in self.multi_cell(width, 1, text, dry_run=True, output=MethodReturnValue.LINES)]

    def cut(self, lines: list[str], width: float, most: int) -> list[str]:
        """Keep at most `most` lines; when some are left out, end the last one kept with an ellipsis."""
        if len(lines) <= most:
            return lines
        return lines[:most - 1] + [self.fit(lines[most - 1], width, True)] if most > 0 else []

    def fit(self, text: str, width: float, cut: bool = False) -> str:
        """Return text shortened to a width with an ellipsis at its end if it was, or if `cut` says so."""
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
    pdf = _Sheet(orientation, _all_text(board))
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


def _all_text(board: Board) -> str:
    """Return every text the sheet may print, so the fonts it needs can be added up front."""
    parts = [board.title, board.description]
    for shot in board.shots:
        parts += [shot.shot_name, shot.action, *(f"{n} {p}" for n, p in shot.characters)]
        parts += [said.line() for said in shot.dialogue]
    return " ".join(parts)


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


def _panel(pdf: _Sheet, board: Board, shot: Shot, x: float, y: float, width: float, height: float) -> None:
    """Draw one frame in its box: the image fitted into the top part, the notes under it, cut to fit."""
    try:
        with Image.open(board.image(shot)) as image:
            aspect = image.width / image.height
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
