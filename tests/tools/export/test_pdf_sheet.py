"""The PDF storyboard sheet, read back the way a person would see it: every frame's image on the right page
(each frame is repainted one solid colour, then the pages are rasterised and searched for it), the header
and panel text as pdftotext extracts it, and odd text that must neither crash nor break the layout."""

from __future__ import annotations

import dataclasses
import datetime
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from agent.cli.app import app
from tools.errors import ExportError
from tools.export import pdf_text
from tools.export.pdf_sheet import GAP, GRIDS, HEADER, MARGIN, PANEL_CHOICES, write_pdf
from tools.export.shot_list import Board, Said, read_board

ROOT = Path(__file__).resolve().parents[3]
SCENE = ROOT / "examples" / "investigation.toml"
FRAMES = 8
COLOURS = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
           (70, 240, 240), (240, 50, 230)]
"""One distinctive colour per frame, far from each other and from the greys of text and borders."""
MIN_PIXELS = 500
"""Pixels of a frame's colour a page must show at 40 dpi (the smallest panel image is about 2,800)."""
DATE = "2024-05-01"

needs_pdftoppm = pytest.mark.skipif(shutil.which("pdftoppm") is None,
                                    reason="needs pdftoppm (poppler-utils) to rasterise the PDF")
needs_pdftotext = pytest.mark.skipif(shutil.which("pdftotext") is None,
                                     reason="needs pdftotext (poppler-utils) to read the PDF's text")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """Render the example scene with the sketch renderer once, then paint frame i solid COLOURS[i]."""
    out = tmp_path_factory.mktemp("pdf_sheet") / "board"
    result = CliRunner().invoke(app, ["run", str(SCENE), "--out", str(out), "--frames", str(FRAMES)])
    assert result.exit_code == 0, result.output
    for i, colour in enumerate(COLOURS):
        path = out / "frames" / f"shot_{i}.png"
        with Image.open(path) as image:
            size = image.size
        Image.new("RGB", size, colour).save(path)
    return out


@pytest.fixture
def board(folder) -> Board:
    board = read_board(folder)
    assert len(board.shots) == FRAMES
    return board


def render(pdf: Path) -> list[Image.Image]:
    """Rasterise every page at 40 dpi; return the pages in order."""
    prefix = pdf.with_suffix("")
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(prefix)], check=True, timeout=120)
    files = sorted(pdf.parent.glob(f"{prefix.name}-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    return [Image.open(f).convert("RGB") for f in files]


def text(pdf: Path) -> list[str]:
    """Return the text of every page, in order."""
    result = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True, timeout=60)
    return result.stdout.split("\f")[:-1]


def pixels(page: Image.Image, colour: tuple[int, int, int], tolerance: int = 12) -> int:
    """Count the pixels of a page within `tolerance` of a colour in every channel."""
    return sum(n for n, c in page.getcolors(page.width * page.height)
               if max(abs(a - b) for a, b in zip(c, colour)) <= tolerance)


def frames_on(page: Image.Image) -> list[int]:
    """Return the numbers of the frames whose colour shows on a page."""
    return [i for i, colour in enumerate(COLOURS) if pixels(page, colour) >= MIN_PIXELS]


def words(pdf: Path) -> list[tuple[float, float, list[tuple[float, float, float, float, str]]]]:
    """Return each page's width, height and words with their boxes (xMin, yMin, xMax, yMax, word) in points."""
    result = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True,
                            timeout=60)
    pages = []
    for page in re.findall(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', result.stdout, re.S):
        boxes = re.findall(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>',
                           page[2])
        pages.append((float(page[0]), float(page[1]), [(*map(float, box[:4]), box[4]) for box in boxes]))
    return pages


def image_boxes(page: Image.Image) -> list[tuple[float, float, float, float]]:
    """Return the box, in points, of every frame colour on a rendered page (40 dpi), trimmed by a pixel."""
    pixels_ = np.asarray(page).astype(int)
    boxes = []
    for colour in COLOURS:
        ys, xs = np.nonzero((np.abs(pixels_ - colour) <= 12).all(axis=-1))
        if len(xs) >= MIN_PIXELS:
            boxes.append(tuple(v * 72 / 40 for v in (xs.min() + 1, ys.min() + 1, xs.max(), ys.max())))
    return boxes


def assert_text_stays_in_panels(pdf: Path, rendered: list[Image.Image], panels: int, orientation: str) -> None:
    """Check no word leaves its column, covers a frame's image or runs off the bottom of the page."""
    columns = GRIDS[panels][0] if orientation == "landscape" else GRIDS[panels][1]
    mm = 72 / 25.4
    for (width, height, boxes), page in zip(words(pdf), rendered, strict=True):
        column = (width - 2 * MARGIN * mm - GAP * mm * (columns - 1)) / columns
        lefts = [MARGIN * mm + c * (column + GAP * mm) for c in range(columns)]
        images = image_boxes(page)
        for x0, y0, x1, y1, word in boxes:
            assert y1 <= height - MARGIN * mm / 2, word
            if y0 < (MARGIN + HEADER) * mm:
                continue  # the header spans the page
            assert any(left - 1 <= x0 and x1 <= left + column + 1 for left in lefts), word
            for a0, b0, a1, b1 in images:
                assert x1 <= a0 or a1 <= x0 or y1 <= b0 or b1 <= y0, word


def odd(board: Board) -> Board:
    """The board with hostile text everywhere: emoji, CJK, curly quotes, control characters, a lone surrogate,
    a 2,000-character action and a very long speech."""
    action = ("Zoë’s “odd” line — 東京タワーで会いましょう 🎬😀\x00\t\n\ud800 " + "lorem ipsum " * 200)[:2000]
    shots = [dataclasses.replace(shot, action=action, shot_name=f"Clôse‑up “{i}” 🎥",
                                 characters=[("李小龙", "left"), ("Zoë “Z”", "right")],
                                 dialogue=[Said("ホレイショ", "“Stay” " + "illusion! " * 300, "quietly 😶"),
                                           Said("Zoë", "\u200d\u202eétrange\u0301")])
             for i, shot in enumerate(board.shots)]
    return dataclasses.replace(board, title="🎬 Ünïcode “title” " + "x" * 400, description="描述 " * 500,
                               shots=shots)


# --- pages and frames -----------------------------------------------------------------------------


@needs_pdftoppm
@pytest.mark.parametrize(("panels", "orientation", "per_page"), [
    (1, "landscape", [[i] for i in range(FRAMES)]),
    (6, "landscape", [list(range(6)), [6, 7]]),
    (12, "landscape", [list(range(FRAMES))]),
    (6, "portrait", [list(range(6)), [6, 7]]),
    (12, "portrait", [list(range(FRAMES))]),
    (5, "landscape", [list(range(5)), [5, 6, 7]]),
])
def test_every_frame_is_on_its_page(board, tmp_path, panels, orientation, per_page):
    pdf = tmp_path / "sheet.pdf"
    assert write_pdf(board, pdf, panels=panels, orientation=orientation, date=DATE) == len(per_page)
    pages = render(pdf)
    assert [frames_on(page) for page in pages] == per_page
    if shutil.which("pdftotext"):
        assert_text_stays_in_panels(pdf, pages, panels, orientation)
    for page in pages:
        assert (page.width > page.height) == (orientation == "landscape")


@needs_pdftotext
def test_header_and_panel_text(board, tmp_path):
    pdf = tmp_path / "sheet.pdf"
    assert write_pdf(board, pdf, date=DATE) == 2
    pages = text(pdf)
    assert len(pages) == 2
    for number, page in enumerate(pages, 1):
        assert "House investigation" in page
        assert "Kaito pushes open the creaking door" in page
        assert DATE in page
        assert f"page {number} of 2" in page
    for shot in board.shots:
        page = pages[shot.number // 6]
        assert re.search(rf"\bFrame {shot.number}\b", page), shot.number
        assert shot.shot_name in page
        assert f"{shot.duration:g} s" in page
    people = [f"{name} ({position})" for name, position in board.shots[0].characters]
    assert all(person in pages[0] for person in people)


@needs_pdftotext
def test_dialogue_and_duration_show(board, tmp_path):
    shots = [dataclasses.replace(shot, duration=2.5, dialogue=[Said("HORATIO", "Stay, illusion!", "quietly"),
                                                               Said("MARCELLUS", "Shall I strike at it?")])
             for shot in board.shots[:3]]
    pdf = tmp_path / "said.pdf"
    assert write_pdf(dataclasses.replace(board, shots=shots), pdf, date=DATE) == 1
    page = " ".join(text(pdf)[0].split())
    assert page.count("HORATIO (quietly): Stay, illusion!") == 3
    assert page.count("MARCELLUS: Shall I strike at it?") == 3
    assert page.count("2.5 s") == 3
    assert "page 1 of 1" in page


@needs_pdftotext
def test_dialogue_from_storyboard_json(folder, tmp_path):
    copy = tmp_path / "board"
    shutil.copytree(folder, copy)
    document = json.loads((copy / "storyboard.json").read_text(encoding="utf-8"))
    document["frames"][2]["dialogue"] = [{"character": "JI-YEON", "text": "Look at this.", "parenthetical": "whispers"}]
    (copy / "storyboard.json").write_text(json.dumps(document), encoding="utf-8")
    pdf = tmp_path / "sheet.pdf"
    write_pdf(read_board(copy), pdf, date=DATE)
    assert "JI-YEON (whispers): Look at this." in text(pdf)[0]


# --- odd text ---------------------------------------------------------------------------------------


@needs_pdftoppm
@needs_pdftotext
@pytest.mark.parametrize(("panels", "orientation", "pages"), [(6, "landscape", 2), (1, "portrait", 8),
                                                              (12, "landscape", 1)])
def test_odd_text_neither_crashes_nor_spills(board, tmp_path, panels, orientation, pages):
    pdf = tmp_path / "odd.pdf"
    assert write_pdf(odd(board), pdf, panels=panels, orientation=orientation, date=DATE) == pages
    found = text(pdf)
    assert len(found) == pages
    rendered = render(pdf)
    assert sorted(i for page in rendered for i in frames_on(page)) == list(range(FRAMES))
    assert_text_stays_in_panels(pdf, rendered, panels, orientation)
    for number, page in enumerate(found, 1):
        assert f"page {number} of {pages}" in page
        assert "\u2026" in page or "..." in page  # the long texts were cut, not spilled
    everything = "\n".join(found)
    for i in range(FRAMES):
        assert re.search(rf"\bFrame {i}\b", everything), i


@needs_pdftotext
def test_unicode_font_keeps_the_characters(board, tmp_path):
    if pdf_text.font_files() is None:
        pytest.skip("no font of tools/fonts.py's chain is installed; the core-font path is tested below")
    pdf = tmp_path / "odd.pdf"
    write_pdf(odd(board), pdf, date=DATE)
    page = text(pdf)[0]
    assert "Zoë’s “odd” line — " in page
    assert "Ünïcode “title”" in page


@needs_pdftotext
def test_without_a_unicode_font_text_is_made_latin1(board, tmp_path, monkeypatch):
    monkeypatch.setattr(pdf_text, "font_files", lambda: None)
    pdf = tmp_path / "core.pdf"
    assert write_pdf(odd(board), pdf, date=DATE) == 2
    page = text(pdf)[0]
    assert "Zoë's \"odd\" line - ?" in page
    assert "Ünïcode \"title\"" in page
    assert "Clôse-up \"0\" ?" in page
    assert "page 1 of 2" in page


# --- arguments, dates and the file itself ------------------------------------------------------------


@pytest.mark.parametrize("panels", [0, 13, -1, 100, 6.5, "6", None])
def test_bad_panel_counts_are_refused(board, tmp_path, panels):
    with pytest.raises(ExportError) as error:
        write_pdf(board, tmp_path / "sheet.pdf", panels=panels)
    assert "\n" not in str(error.value) and "panels" in str(error.value)
    assert not (tmp_path / "sheet.pdf").exists()


@pytest.mark.parametrize("orientation", ["sideways", "Landscape", "", "l"])
def test_bad_orientations_are_refused(board, tmp_path, orientation):
    with pytest.raises(ExportError) as error:
        write_pdf(board, tmp_path / "sheet.pdf", orientation=orientation)
    assert "\n" not in str(error.value) and "orientation" in str(error.value)
    assert not (tmp_path / "sheet.pdf").exists()


def test_every_panel_choice_works_and_counts_its_pages(board, tmp_path):
    assert list(PANEL_CHOICES) == list(range(1, 13))
    for panels in PANEL_CHOICES:
        pdf = tmp_path / f"sheet_{panels}.pdf"
        assert write_pdf(board, pdf, panels=panels, date=DATE) == -(-FRAMES // panels)
        assert pdf.read_bytes().startswith(b"%PDF")


def test_a_board_without_frames_is_refused(board, tmp_path):
    with pytest.raises(ExportError):
        write_pdf(dataclasses.replace(board, shots=[]), tmp_path / "sheet.pdf")


def test_an_unreadable_image_is_an_export_error(folder, tmp_path):
    copy = tmp_path / "board"
    shutil.copytree(folder, copy)
    (copy / "frames" / "shot_3.png").write_bytes(b"not a png")
    with pytest.raises(ExportError, match="frame 3"):
        write_pdf(read_board(copy), tmp_path / "sheet.pdf")
    assert not (tmp_path / "sheet.pdf").exists()


@needs_pdftotext
def test_date_defaults_to_today(board, tmp_path):
    before = datetime.date.today().isoformat()
    write_pdf(board, tmp_path / "sheet.pdf")
    page = text(tmp_path / "sheet.pdf")[0]
    assert before in page or datetime.date.today().isoformat() in page


def test_same_input_same_bytes_and_no_leftovers(board, tmp_path):
    first, second = tmp_path / "a" / "deep" / "one.pdf", tmp_path / "two.pdf"
    write_pdf(board, first, date=DATE)
    write_pdf(board, second, date=DATE)
    assert first.read_bytes() == second.read_bytes()
    assert [p.name for p in tmp_path.rglob("*.tmp")] == []
