"""The animatic: frame counts that never drift, MP4 and GIF files whose length and pictures match the board
when read back independently, captions, push-ins, and failures that leave nothing half-written."""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import replace
from pathlib import Path

import imageio.v2 as imageio
import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image, ImageSequence

from tools.errors import ExportError
from tools.export import animatic
from tools.export.animatic import FPS, frame_counts, split_on_total, write_animatic
from tools.export.exports import write_exports
from tools.export.shot_list import Board, Said, Shot

RED, GREEN, BLUE, GREY = (220, 30, 30), (30, 200, 40), (30, 40, 220), (128, 128, 128)


def make_board(folder: Path, shots: list[tuple], size: tuple[int, int] = (64, 48)) -> Board:
    """A board of solid-colour (or checkered, colour None) images: shots are (colour, seconds, shot type)."""
    (folder / "frames").mkdir(parents=True, exist_ok=True)
    made = []
    for number, (colour, seconds, shot_type) in enumerate(shots):
        image = checker(size) if colour is None else Image.new("RGB", size, colour)
        image.save(folder / "frames" / f"shot_{number}.png")
        made.append(Shot(number=number, shot_type=shot_type, shot_name=shot_type.replace("_", " ").capitalize(),
                         characters=[("Ada", "centre")], setting="a lab", lighting="noon",
                         action="Ada opens the box.", dialogue=[Said("ADA", "What is this?")] if number else [],
                         duration=seconds, image=f"frames/shot_{number}.png", seed=number))
    return Board(title="Test scene", description="", folder=folder, shots=made)


def checker(size: tuple[int, int], cell: int = 8) -> Image.Image:
    """Black and white squares, so any magnification shows."""
    y, x = np.indices((size[1], size[0]))
    return Image.fromarray(((((x // cell) + (y // cell)) % 2) * 255).astype(np.uint8)).convert("RGB")


def centre(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    return frame[h // 4: h // 2, w // 4: 3 * w // 4].reshape(-1, 3).mean(axis=0)


def near(frame: np.ndarray, colour: tuple, tolerance: float = 14) -> bool:
    return bool(np.abs(centre(frame) - np.array(colour)).max() <= tolerance)


def gif_frames(path: Path) -> list[tuple[np.ndarray, int]]:
    """Each picture of a GIF as RGB pixels, with its delay in milliseconds."""
    with Image.open(path) as gif:
        return [(np.asarray(frame.convert("RGB")), frame.info["duration"]) for frame in ImageSequence.Iterator(gif)]


# --- frame counts -------------------------------------------------------------------------------------


@pytest.mark.parametrize("fps", [24, 25, 30])
def test_counts_round_on_the_running_total(fps):
    seconds = [0.1, 2.55, 1 / 3, 1 / 3, 1 / 3, 0.1, 2.55, 1 / 3] * 5
    counts = split_on_total(seconds, fps)
    assert all(count >= 1 for count in counts)
    for i in range(1, len(seconds) + 1):  # never more than half a frame off, wherever the cut falls
        assert abs(sum(counts[:i]) - math.fsum(seconds[:i]) * fps) <= 0.5 + 1e-9


def test_whole_seconds_give_exact_counts(tmp_path):
    board = make_board(tmp_path, [(RED, 2.0, "close_up"), (BLUE, 1.5, "long")])
    assert frame_counts(board) == [48, 36]
    first, second = frame_counts(board, 25)
    assert first == 50 and second in (37, 38)  # 1.5 s is 37.5 frames at 25 fps


def test_a_shot_shorter_than_a_frame_keeps_one(tmp_path):
    assert split_on_total([0.01, 1.0, 0.01], 24) == [1, 23, 1]


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_durations_are_refused(bad):
    with pytest.raises(ExportError, match="positive duration"):
        split_on_total([1.0, bad], 24)


# --- MP4 ------------------------------------------------------------------------------------------------


def test_mp4_length_and_pictures_match_the_board(tmp_path):
    board = make_board(tmp_path, [(RED, 0.5, "close_up"), (GREEN, 1 / 3, "medium"), (BLUE, 0.1, "long"),
                                  (GREY, 0.55, "detail")], size=(63, 41))
    path = tmp_path / "animatic.mp4"
    seconds = write_animatic(board, path)
    counts = frame_counts(board)
    assert seconds == pytest.approx(sum(counts) / FPS)

    frames_found, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
    assert frames_found == sum(counts)
    with imageio.get_reader(path) as reader:
        meta = reader.get_meta_data()
        frames = list(reader.iter_data())
    assert meta["fps"] == FPS and meta["size"] == (62, 40)  # odd sides trimmed to even for yuv420p
    assert len(frames) == sum(counts)
    assert abs(len(frames) / FPS - board.running_time()) <= 1 / FPS
    start = 0
    for colour, count in zip((RED, GREEN, BLUE, GREY), counts):
        assert near(frames[start], colour) and near(frames[start + count - 1], colour), (colour, start)
        start += count


def test_mp4_width_scales_the_frames(tmp_path):
    board = make_board(tmp_path, [(RED, 0.2, "close_up")], size=(64, 48))
    write_animatic(board, tmp_path / "small.mp4", width=32)
    with imageio.get_reader(tmp_path / "small.mp4") as reader:
        assert reader.get_meta_data()["size"] == (32, 24)


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    board = make_board(tmp_path, [(RED, 0.2, "close_up"), (GREEN, 0.2, "close_up")])
    path = tmp_path / "animatic.mp4"
    write_animatic(board, path)
    before = path.read_bytes()
    (tmp_path / "frames" / "shot_1.png").write_bytes(b"not a picture")
    with pytest.raises(ExportError, match="frame 1"):
        write_animatic(board, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["animatic.mp4", "frames"]


def cut_short(writer):
    """A writer that ends as a full disk leaves it: the file cut to a third, and no error from the encoder."""
    def write(board, path, *rest):
        meant = writer(board, path, *rest)
        data = path.read_bytes()
        path.write_bytes(data[:len(data) // 3])
        return meant
    return write


@pytest.mark.parametrize(("name", "writer"), [("animatic.mp4", "_write_mp4"), ("animatic.gif", "_write_gif")])
def test_a_file_cut_short_by_a_full_disk_is_refused_and_the_earlier_file_kept(tmp_path, monkeypatch, name,
                                                                               writer):
    board = make_board(tmp_path, [(RED, 1.0, "close_up"), (GREEN, 1.0, "medium"), (BLUE, 1.0, "long")])
    path = tmp_path / name
    write_animatic(board, path)
    before = path.read_bytes()
    monkeypatch.setattr(animatic, writer, cut_short(getattr(animatic, writer)))
    with pytest.raises(ExportError) as error:
        write_animatic(board, path, captions=True)
    message = str(error.value)
    assert "\n" not in message and message.startswith(str(path)) and "expected" in message
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["frames", name])


def test_an_export_sweeps_what_a_killed_export_left(tmp_path):
    board = make_board(tmp_path, [(RED, 0.5, "close_up")])
    frame = {"index": 0, "shot_type": "close_up", "shot_name": "Close-up", "duration": 0.5, "seed": 0,
             "image": board.shots[0].image}
    (tmp_path / "storyboard.json").write_text(json.dumps({"title": "Test scene", "frames": [frame]}))
    killed = [tmp_path / ".animatic.0a1b2c3d.mp4", tmp_path / ".storyboard.pdf.k2j3h4g5.tmp"]
    live = tmp_path / ".animatic.99aa88bb.mp4"  # another writer's, still being written
    for path in [*killed, live]:
        path.write_bytes(b"half a file")
    for path in killed:
        os.utime(path, (time.time() - 600,) * 2)
    written = write_exports(tmp_path, ["mp4", "pdf"])
    assert written == [tmp_path / "animatic.mp4", tmp_path / "storyboard.pdf"]
    assert not any(path.exists() for path in killed)
    assert live.exists()


def test_unknown_suffix_is_refused(tmp_path):
    board = make_board(tmp_path, [(RED, 0.2, "close_up")])
    with pytest.raises(ExportError, match=r"\.mp4 or \.gif"):
        write_animatic(board, tmp_path / "animatic.avi")


# --- GIF ------------------------------------------------------------------------------------------------


def test_gif_holds_each_shot_for_its_duration(tmp_path):
    board = make_board(tmp_path, [(RED, 2.55, "close_up"), (GREEN, 1 / 3, "medium"), (BLUE, 0.1, "long")])
    seconds = write_animatic(board, tmp_path / "animatic.gif")
    frames = gif_frames(tmp_path / "animatic.gif")
    assert len(frames) == 3
    for (pixels, _), colour in zip(frames, (RED, GREEN, BLUE)):
        assert near(pixels, colour, tolerance=4)
    for (_, delay), count in zip(frames, frame_counts(board)):
        assert abs(delay - count / FPS * 1000) <= 10  # GIF delays are whole hundredths of a second
    total = sum(delay for _, delay in frames)
    assert abs(total - seconds * 1000) <= 5
    assert abs(total - board.running_time() * 1000) <= 1000 / FPS


# --- captions and push-in -------------------------------------------------------------------------------


def test_captions_darken_only_the_bottom_bar(tmp_path):
    board = make_board(tmp_path, [(GREY, 0.5, "close_up"), (GREY, 0.5, "medium")], size=(192, 128))
    write_animatic(board, tmp_path / "plain.gif")
    write_animatic(board, tmp_path / "captioned.gif", captions=True)
    plain, captioned = gif_frames(tmp_path / "plain.gif"), gif_frames(tmp_path / "captioned.gif")
    assert len(plain) == 1 and len(captioned) == 2  # identical plain pictures merge; captions tell them apart
    for pixels, _ in captioned:
        assert np.abs(pixels[:40].astype(int) - plain[0][0][:40]).max() <= 4  # the top is untouched
        bottom = pixels[-12:].astype(int)
        assert bottom.mean() < 100 and bottom.max() > 200  # a dark bar with white letters
    assert not np.array_equal(captioned[0][0][-40:], captioned[1][0][-40:])  # each shot has its own words


def test_push_in_moves_wide_shots_only(tmp_path):
    board = make_board(tmp_path, [(None, 0.5, "long"), (None, 0.5, "close_up")], size=(96, 64))
    path = tmp_path / "push.mp4"
    write_animatic(board, path, push_in=True)
    with imageio.get_reader(path) as reader:
        frames = [frame.astype(int) for frame in reader.iter_data()]
    wide, close = frames[:12], frames[12:]
    assert np.abs(wide[0] - wide[-1]).mean() > 20
    assert np.abs(wide[0] - wide[1]).mean() < np.abs(wide[0] - wide[-1]).mean()  # slow, not a jump
    assert np.abs(close[0] - close[-1]).mean() < 3

    write_animatic(board, tmp_path / "still.mp4")
    with imageio.get_reader(tmp_path / "still.mp4") as reader:
        still = [frame.astype(int) for frame in reader.iter_data()]
    assert np.abs(still[0] - still[11]).mean() < 3  # without push_in the wide shot holds still too


def test_gif_push_in_adds_steps_within_the_shot_length(tmp_path):
    board = make_board(tmp_path, [(None, 1.0, "extreme_long"), (None, 1.0, "close_up")], size=(96, 64))
    write_animatic(board, tmp_path / "push.gif", push_in=True)
    frames = gif_frames(tmp_path / "push.gif")
    assert len(frames) == 6 + 1
    assert sum(delay for _, delay in frames[:6]) == 1000 and frames[6][1] == 1000
    assert np.abs(frames[0][0].astype(int) - frames[5][0]).mean() > 20


def test_each_shot_moves_as_planned_push_in_pull_out_and_pan(tmp_path):
    """A close-up planned to push in magnifies over its length, a pull out goes the other way, a pan slides
    across the picture, and a tracking shot (a still picture cannot track) holds."""
    board = make_board(tmp_path, [(None, 0.5, "close_up")] * 4, size=(96, 64))
    moves = ("push_in", "pull_out", "pan", "tracking")
    board = replace(board, shots=[replace(shot, movement=move) for shot, move in zip(board.shots, moves)])
    write_animatic(board, tmp_path / "moves.mp4")
    with imageio.get_reader(tmp_path / "moves.mp4") as reader:
        frames = [frame.astype(int) for frame in reader.iter_data()]
    push, pull, pan, track = (frames[i * 12:(i + 1) * 12] for i in range(4))
    still = np.asarray(Image.open(tmp_path / "frames" / "shot_0.png").convert("RGB")).astype(int)
    assert np.abs(push[0] - still).mean() < 12 < np.abs(push[-1] - still).mean()
    assert np.abs(pull[-1] - still).mean() < 12 < np.abs(pull[0] - still).mean()
    assert np.abs(pan[0] - pan[-1]).mean() > 20 and np.abs(pan[0] - still).mean() > 12
    assert np.abs(track[0] - track[-1]).mean() < 3
