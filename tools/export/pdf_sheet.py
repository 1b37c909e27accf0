"""The storyboard as a printable PDF sheet: a header on every page, then a grid of panels, each one a frame's
image with its notes (frame number, shot, characters, action, dialogue, duration) under it.

This module lays the pages out; tools/export/pdf_text.py draws and fits the text (fonts for any script, shaping,
bold) and tools/export/pdf_memo.py keeps what one sheet worked out for the next.
"""

from __future__ import annotations

import datetime
import math
from pathlib import Path

from PIL import Image

from tools.errors import ExportFailed, ExportRefused
from tools.export.pdf_memo import LINES, file_stamp
from tools.export.pdf_text import SheetPDF, needed_text
from tools.export.shot_list import Board, Shot
from tools.files import atomic

PANEL_CHOICES = range(1, 13)
"""How many panels a page may hold."""
GRIDS = {1: (1, 1), 2: (2, 1), 3: (3, 1), 4: (2, 2), 5: (3, 2), 6: (3, 2), 7: (4, 2), 8: (4, 2), 9: (3, 3),
         10: (4, 3), 11: (4, 3), 12: (4, 3)}
"""(columns, rows) for each panel count on a landscape page; a portrait page swaps them."""
MARGIN, GAP, HEADER = 10.0, 4.0, 19.0
"""Page margin, space between panels and height of the header, in millimetres."""


def write_pdf(board: Board, path: Path, panels: int = 6, orientation: str = "landscape",
              date: str | None = None) -> int:
    """Write the storyboard as an A4 PDF with `panels` frames a page; return the number of pages written."""
    if not isinstance(panels, int) or panels not in PANEL_CHOICES:
        raise ExportRefused(f"panels must be a whole number from {PANEL_CHOICES[0]} to {PANEL_CHOICES[-1]}, "
                          f"not {panels!r}")
    if orientation not in ("landscape", "portrait"):
        raise ExportRefused(f"orientation must be landscape or portrait, not {orientation!r}")
    if not board.shots:
        raise ExportRefused(f"{board.folder}: the storyboard has no frames to put on a sheet")
    date = str(date) if date else datetime.date.today().isoformat()
    pdf = SheetPDF(orientation, *needed_text(_parts(board)), margin=MARGIN)
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
        parts += [shot.shot_name, shot.camera, shot.action, *(f"{n} {p}" for n, p in shot.characters)]
        parts += [said.line() for said in shot.dialogue]
    return parts


def _header(pdf: SheetPDF, board: Board, date: str, page: int, pages: int) -> None:
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
    key = ("aspect", *file_stamp(path))
    aspect = LINES.get(key)
    if aspect is None:
        with Image.open(path) as image:
            aspect = image.width / image.height
        LINES.put(key, aspect)
    return aspect


def _panel(pdf: SheetPDF, board: Board, shot: Shot, x: float, y: float, width: float, height: float) -> None:
    """Draw one frame in its box: the image fitted into the top part, the notes under it, cut to fit."""
    try:
        aspect = _aspect(board.image(shot))
    except (OSError, ValueError, ZeroDivisionError) as error:
        raise ExportFailed(f"{board.image(shot)}: cannot read the image of frame {shot.number} ({error})") from None
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
    who = pdf.cut(pdf.wrap(pdf.clean(shot.camera), width), width, 1) + who if shot.camera else who
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
