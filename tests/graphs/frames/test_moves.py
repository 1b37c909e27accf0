"""A frame's place in the storyboard is no part of its image: swapping, removing, moving and duplicating frames
on a sketch board draw nothing again for the frames that only moved, and the image a frame shows is the same
file, byte for byte, wherever it stands. The sheet, not the sketch, prints each frame's caption."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from boards import board, send
from counting import CountingRenderer
from PIL import Image

from graphs.state import Storyboard
from tools.export.grid import Panel, compose_grid

FRAMES = 5
SIZE = 128


@pytest.fixture
def renderer():
    return CountingRenderer()


@pytest.fixture
def session(tmp_path, renderer):
    with board(tmp_path, renderer, FRAMES, SIZE) as session:
        yield session


def shots(out: Path) -> list[bytes]:
    """The published shot_<i>.png files, in frame order."""
    count = len(list((out / "frames").glob("shot_*.png")))
    return [(out / "frames" / f"shot_{i}.png").read_bytes() for i in range(count)]


def images(state: Storyboard) -> list[str]:
    """The version file each frame shows, in frame order."""
    return [frame.image().path for frame in state.frames]


def test_swap_draws_nothing_and_the_images_change_places(session, tmp_path, renderer):
    before, files = session.state(), shots(tmp_path)
    after = send(session, "swap 2 and 4")
    assert renderer.calls == FRAMES
    order = [0, 1, 4, 3, 2]
    assert [f.id for f in after.frames] == [before.frames[i].id for i in order]
    assert images(after) == [images(before)[i] for i in order]
    assert shots(tmp_path) == [files[i] for i in order]


def test_remove_draws_nothing_for_the_frames_that_move_up(session, tmp_path, renderer):
    before, files = session.state(), shots(tmp_path)
    after = send(session, "remove 1")
    assert renderer.calls == FRAMES
    assert images(after) == images(before)[:1] + images(before)[2:]
    assert shots(tmp_path) == files[:1] + files[2:]


def test_move_and_undo_draw_nothing(session, tmp_path, renderer):
    files = shots(tmp_path)
    send(session, "move frame 4 to 0")
    assert shots(tmp_path) == [files[4], *files[:4]]
    send(session, "undo")
    assert renderer.calls == FRAMES
    assert shots(tmp_path) == files


def test_duplicate_draws_only_the_copy(session, tmp_path, renderer):
    """The copy has a new seed (test_new_edits.py), so it is drawn; the frames after it only move down."""
    before, files = session.state(), shots(tmp_path)
    after = send(session, "duplicate frame 1")
    assert renderer.calls == FRAMES + 1
    assert images(after) == images(before)[:2] + [after.frames[2].image().path] + images(before)[2:]
    assert shots(tmp_path) == files[:2] + [shots(tmp_path)[2]] + files[2:]
    assert shots(tmp_path)[2] != files[1]


def test_the_sheet_prints_each_caption_under_its_panel(session, tmp_path):
    """The sketch carries no caption (tests/tools/render/test_sketch.py), so the sheet's line is the only one."""
    with Image.open(tmp_path / "storyboard.png") as sheet:
        pixels = np.asarray(sheet.convert("RGB"))
    blank = [Panel(tmp_path / "frames" / f"shot_{i}.png", "", "") for i in range(FRAMES)]
    plain = np.asarray(compose_grid(blank, session.state().scene.title))
    assert plain.shape == pixels.shape
    assert np.any(plain != pixels), "the sheet prints captions under its panels"
