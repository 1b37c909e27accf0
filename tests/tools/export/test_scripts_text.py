"""Text in any script on the storyboard sheet (PNG), the PDF sheet and the animatic captions: Japanese,
Arabic, Cyrillic, Devanagari and emoji in the title, the names and the dialogue. The PDF is read back with
pypdf; the pictures are checked for missing-glyph boxes by drawing each word next to a word of the same
length that no font has, and by looking each character up in the font chosen for it."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import numpy as np
import pytest
from fontTools.ttLib import TTFont
from PIL import Image, ImageDraw, ImageSequence, features
from pypdf import PdfReader

from tools import fonts
from tools.export.animatic import write_animatic
from tools.export.grid import Panel, compose_grid
from tools.export.pdf_sheet import write_pdf
from tools.export.pdf_text import SheetPDF
from tools.export.shot_list import Board, Said, Shot

TITLE = "夜の東京 — Ночь в Токио — ليلة في طوكيو — टोक्यो की रात 🌙🎬"
CAST = [("健太", "left"), ("Анна", "right"), ("كريم", "centre"), ("प्रिया", "left"), ("🤖", "right")]
LINES = [Said("健太", "遅いよ！待ってたんだ 😤"), Said("كريم", "مرحبا، كيف حالك اليوم"),
         Said("Анна", "Привет! Как дела 👋🏽"), Said("प्रिया", "नमस्ते दोस्तों 🙏 चलो")]
MIXED = "Hi Привет 東京 مرحبا नमस्ते 🎥 👨‍👩‍👧"
TEXTS = [TITLE, MIXED, *(name for name, _ in CAST), *(said.character for said in LINES), *(s.text for s in LINES)]
NOTDEF = "\ue000"
"""A private-use character no font of the chain has: it draws the missing-glyph box."""


def words(text: str) -> list[str]:
    """The words of a text with the punctuation around them taken off."""
    found = []
    for word in text.split():
        word = "".join(c for c in word if not unicodedata.category(c).startswith("P"))
        if word:
            found.append(word)
    return found


def board(folder: Path) -> Board:
    """Four frames of solid colour, each with a line of dialogue and two of the cast."""
    (folder / "frames").mkdir(parents=True, exist_ok=True)
    shots = []
    for i, said in enumerate(LINES):
        Image.new("RGB", (256, 144), (40 + 50 * i, 90, 160)).save(folder / "frames" / f"shot_{i}.png")
        shots.append(Shot(number=i, shot_type="close_up", shot_name="Close-up", characters=CAST[i:i + 2],
                          setting="", lighting="", action=MIXED, dialogue=[said], duration=1.0,
                          image=f"frames/shot_{i}.png", seed=i))
    return Board(title=TITLE, description=MIXED, folder=folder, shots=shots)


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


# --- the PDF sheet -----------------------------------------------------------------------------------------


def test_pdf_keeps_every_script_and_prints_no_question_marks(tmp_path):
    pdf = tmp_path / "sheet.pdf"
    write_pdf(board(tmp_path), pdf, panels=4, date="2024-05-01")
    text = "".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "?" not in text and "\ufffd" not in text
    # pypdf puts spaces between CJK letters, control characters where glyphs are moved, and the words of a
    # right-to-left line in the order they are drawn: compare words with all of that taken out
    squashed = "".join(c for c in text if not c.isspace() and unicodedata.category(c)[0] not in "PC")
    for source in TEXTS:
        for word in words(source):
            assert word.replace("\u200d", "") in squashed, (word, source)


def test_pdf_shapes_arabic():
    sheet = SheetPDF("landscape", "ببب")
    sheet.use(10)
    assert sheet.get_string_width("ببب") < 3 * sheet.get_string_width("ب") * 0.8, "joined letters are narrower"


# --- the fonts chosen for each character ---------------------------------------------------------------------


def test_every_character_is_drawn_by_a_font_that_has_it():
    for text in TEXTS:
        for face, part in fonts.runs(fonts.printable(text)):
            with TTFont(face.path, lazy=True) as font:
                cmap = font.getBestCmap()
            for c in part:
                assert ord(c) in cmap, (c, hex(ord(c)), face.name, text)
            drawn = []
            for chunk in (part, NOTDEF * len(part)):
                image = Image.new("L", (40 * len(part) + 40, 80), 0)
                ImageDraw.Draw(image).text((10, 60), chunk, font=fonts.pillow_font(face.path, 40), fill=255,
                                           anchor="ls")
                drawn.append(np.asarray(image))
            assert not np.array_equal(*drawn), (part, face.name)


@pytest.mark.skipif(not features.check("raqm"), reason="Pillow here has no Raqm to shape text")
def test_arabic_on_pictures_is_joined_and_reads_right_to_left():
    assert fonts.text_length("ببب", 40) < 3 * fonts.text_length("ب", 40) * 0.8, "joined letters are narrower"
    image = Image.new("L", (200, 100), 0)
    fonts.draw_text(ImageDraw.Draw(image), (10, 10), "اب", 60, 255)  # alef, then beh: alef is on the right
    ink = np.asarray(image) > 128
    columns = np.flatnonzero(ink.any(axis=0))
    tall = np.flatnonzero(ink[:35].any(axis=0))  # only alef reaches this high
    assert tall.size and tall.min() > (columns.min() + columns.max()) / 2
    order = [part for _, part, _ in fonts.visual("مرحبا ABC")]
    assert order.index("ABC") < order.index("مرحبا"), "in a right-to-left line the Latin word goes on the left"


# --- the PNG sheet and the animatic ------------------------------------------------------------------------------


def test_sheet_draws_every_word_instead_of_boxes(tmp_path):
    Image.new("RGB", (128, 72), (200, 200, 200)).save(tmp_path / "frame.png")
    for text in TEXTS:
        for word in words(text):
            sheets = [compose_grid([Panel(tmp_path / "frame.png", title, title)], title, thumb=128)
                      for title in (word, NOTDEF * len(word))]
            assert not np.array_equal(pixels(sheets[0]), pixels(sheets[1])), word


def test_animatic_captions_draw_every_word_instead_of_boxes(tmp_path):
    Image.new("RGB", (192, 96), (90, 90, 90)).save(tmp_path / "frame.png")
    for text in TEXTS:
        for word in words(text):
            bars = []
            for line in (word, NOTDEF * len(word)):
                shot = Shot(number=0, shot_type="close_up", shot_name="Close-up", characters=[], setting="",
                            lighting="", action="", dialogue=[Said("", line)], duration=0.1, image="frame.png",
                            seed=0)
                gif = tmp_path / "caption.gif"
                write_animatic(Board(title="", description="", folder=tmp_path, shots=[shot]), gif, captions=True)
                with Image.open(gif) as picture:
                    bars.append(pixels(next(ImageSequence.Iterator(picture)))[60:])
            assert not np.array_equal(*bars), word
