"""The timeline: one clip per shot whose length is the animatic's frame count, read back from every format
the installed adapters write, and agreeing with the animatic on a storyboard the shotsmith command made."""

from __future__ import annotations

from pathlib import Path

import imageio_ffmpeg
import opentimelineio as otio
import pytest
from PIL import Image

from tools.errors import ExportError
from tools.export.animatic import FPS, frame_counts, write_animatic
from tools.export.shot_list import Board, Said, Shot, read_board
from tools.export.timeline import clip_name, timeline, timeline_suffixes, write_timeline

ROOT = Path(__file__).resolve().parents[3]
SECONDS = [2.55, 1 / 3, 0.1, 1.25]
NAMES = ["Extreme long shot", "Close-up", "Plan général", "Detail shot"]


@pytest.fixture
def board(tmp_path) -> Board:
    """Four tiny shots with awkward durations, one with a name outside ASCII."""
    (tmp_path / "frames").mkdir()
    shots = []
    for number, (seconds, name) in enumerate(zip(SECONDS, NAMES)):
        Image.new("RGB", (16, 16), (40 * number, 90, 160)).save(tmp_path / "frames" / f"shot_{number}.png")
        shots.append(Shot(number=number, shot_type="close_up", shot_name=name, characters=[("Ada", "left")],
                          setting="a lab", lighting="noon", action=f"Ada does thing {number}.",
                          dialogue=[Said("ADA", "Look.", "quietly")], duration=seconds,
                          image=f"frames/shot_{number}.png", seed=7 + number))
    return Board(title="Scène test", description="A test.", folder=tmp_path, shots=shots)


def read_clips(path: Path, **options) -> tuple[object, list]:
    result = otio.adapters.read_from_file(str(path), **options)
    return result, list(result.find_clips())


def check_clips(clips: list, board: Board, fps: int = FPS) -> None:
    """Each clip lasts its shot's frame count and carries the shot's name."""
    counts = frame_counts(board, fps)
    assert len(clips) == len(board.shots)
    for clip, shot, count in zip(clips, board.shots, counts):
        assert clip.name == clip_name(shot)
        assert clip.duration().to_seconds() == pytest.approx(count / fps)


def test_timeline_has_one_clip_per_shot(board):
    result = timeline(board)
    assert result.name == board.title
    assert len(result.tracks) == 1 and result.tracks[0].kind == otio.schema.TrackKind.Video
    check_clips(list(result.find_clips()), board)
    assert [clip.name for clip in result.find_clips()] == [
        "Frame 0 - Extreme long shot", "Frame 1 - Close-up", "Frame 2 - Plan general", "Frame 3 - Detail shot"]
    clip = result.tracks[0][1]
    assert clip.source_range.duration.value == frame_counts(board)[1] and clip.source_range.duration.rate == FPS
    assert clip.media_reference.target_url == (board.folder / "frames" / "shot_1.png").resolve().as_uri()
    assert clip.media_reference.available_range == clip.source_range
    words = clip.metadata["shotsmith"]
    assert words["action"] == "Ada does thing 1." and list(words["dialogue"]) == ["ADA (quietly): Look."]
    assert [dict(who) for who in words["characters"]] == [{"name": "Ada", "position": "left"}]


def test_otio_round_trip(board, tmp_path):
    path = tmp_path / "timeline.otio"
    write_timeline(board, path)
    result, clips = read_clips(path)
    assert result.name == board.title and len(result.tracks) == 1
    check_clips(clips, board)
    assert result.duration().to_seconds() == pytest.approx(sum(frame_counts(board)) / FPS)
    assert abs(result.duration().to_seconds() - board.running_time()) <= 1 / FPS
    assert clips[2].metadata["shotsmith"]["shot_name"] == "Plan général"


@pytest.mark.parametrize("suffix, options", [(".edl", {"rate": FPS}), (".xml", {}), (".xges", {}),
                                             (".otioz", {}), (".ale", {"fps": FPS})])
def test_other_formats_round_trip(board, tmp_path, suffix, options):
    if suffix not in timeline_suffixes():
        pytest.skip(f"no adapter writes {suffix} here")
    path = tmp_path / f"timeline{suffix}"
    write_timeline(board, path)
    result, clips = read_clips(path, **options)
    check_clips(clips, board)
    if suffix != ".ale":  # a clip log, not a sequence: it has clips but no track or title
        assert len(result.tracks) == 1
        assert result.duration().to_seconds() == pytest.approx(sum(frame_counts(board)) / FPS)


def test_edl_is_plain_ascii_at_any_rate(board, tmp_path):
    if ".edl" not in timeline_suffixes():
        pytest.skip("no EDL writer here")
    path = tmp_path / "timeline.edl"
    write_timeline(board, path, fps=25)
    text = path.read_bytes().decode("ascii")
    assert text.startswith("TITLE: Scene test")
    assert [line.split()[1] for line in text.splitlines() if line[:3].isdigit()] == [
        "SHOT0000", "SHOT0001", "SHOT0002", "SHOT0003"]
    _, clips = read_clips(path, rate=25)
    check_clips(clips, board, fps=25)


def test_svg_draws_the_timeline(board, tmp_path):
    if ".svg" not in timeline_suffixes():
        pytest.skip("no SVG writer here")
    write_timeline(board, tmp_path / "timeline.svg")
    assert "<svg" in (tmp_path / "timeline.svg").read_text(encoding="utf-8")[:500]


def test_suffixes_leave_out_writers_that_cannot_serve(board):
    suffixes = timeline_suffixes()
    assert ".otio" in suffixes and suffixes == sorted(suffixes)
    assert not {".aaf", ".otiod", ".ma", ".mb"} & set(suffixes)


@pytest.mark.parametrize("name", ["timeline.mov", "timeline.aaf", "timeline"])
def test_unknown_suffix_lists_the_known_ones(board, tmp_path, name):
    with pytest.raises(ExportError, match=r"expected one of .*\.otio"):
        write_timeline(board, tmp_path / name)
    assert not (tmp_path / name).exists()


def test_a_failed_write_keeps_the_old_file(board, tmp_path, monkeypatch):
    path = tmp_path / "timeline.otio"
    write_timeline(board, path)
    before = path.read_bytes()

    def half_write(result, filepath, **_):
        Path(filepath).write_text("{ half", encoding="utf-8")
        raise RuntimeError("disk full\nmore detail")

    monkeypatch.setattr(otio.adapters, "write_to_file", half_write)
    with pytest.raises(ExportError, match=r"cannot write the timeline \(disk full\)$"):
        write_timeline(board, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames", "timeline.otio"]


def test_timeline_and_animatic_agree_on_a_cli_storyboard(cli, tmp_path):
    out = tmp_path / "out"
    result = cli("run", ROOT / "examples" / "investigation.toml", "--out", out, "--frames", "3",
                 "--width", "96", "--height", "64", "--renderer", "sketch")
    assert result.exit_code == 0, result.output
    board = read_board(out)
    seconds = write_animatic(board, out / "animatic.mp4", captions=True, push_in=True)
    write_timeline(board, out / "timeline.otio")
    frames, _ = imageio_ffmpeg.count_frames_and_secs(str(out / "animatic.mp4"))
    _, clips = read_clips(out / "timeline.otio")
    check_clips(clips, board)
    assert sum(clip.duration().to_frames() for clip in clips) == frames == round(seconds * FPS)
    assert abs(frames / FPS - board.running_time()) <= 1 / FPS
    assert clips[0].media_reference.target_url == (out / board.shots[0].image).resolve().as_uri()
