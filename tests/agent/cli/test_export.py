"""`shotsmith export` and the `export` correction: every format written from one storyboard, read back independently."""

from __future__ import annotations

import json
from pathlib import Path

import imageio_ffmpeg
import opentimelineio as otio
import pytest
from typer.testing import CliRunner

from agent.cli.app import app
from tools.export.animatic import FPS, frame_counts
from tools.export.shot_list import COLUMNS, read_board, read_csv, rows

ROOT = Path(__file__).resolve().parents[3]
SCENE = ROOT / "examples" / "investigation.toml"
SMALL = ["--width", "96", "--height", "64", "--frames", "4"]


def invoke(*args: object):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output + result.stderr, result.output + result.stderr
    return result


def one_error(result, code: int = 2) -> str:
    assert result.exit_code == code, (result.exit_code, result.output, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def board(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export") / "o"
    result = invoke("run", SCENE, "--out", out, *SMALL, "--then", "frame 1: 2.5s")
    assert result.exit_code == 0, result.output + result.stderr
    return out


def test_run_writes_the_pdf_sheet_beside_the_png_and_json(board):
    for name in ("storyboard.png", "storyboard.json", "storyboard.pdf"):
        assert (board / name).is_file()
    assert (board / "storyboard.pdf").read_bytes().startswith(b"%PDF")


def test_every_format_is_written_and_reads_back(board):
    result = invoke("export", board, "--timeline", "edl")
    assert result.exit_code == 0, result.output + result.stderr
    names = ["storyboard.pdf", "shot_list.csv", "shot_list.json", "animatic.mp4", "animatic.gif", "timeline.otio",
             "timeline.edl"]
    for name in names:
        assert f"wrote {board / name}" in result.output

    shots = read_board(board)
    durations = [s.duration for s in shots.shots]
    assert durations[1] == 2.5  # set in chat, and carried into every format

    table = read_csv(board / "shot_list.csv")
    assert list(table[0]) == list(COLUMNS)
    assert [int(r["number"]) for r in table] == [0, 1, 2, 3]
    assert [float(r["duration"]) for r in table] == durations
    assert [r["image"] for r in table] == [f"frames/shot_{i}.png" for i in range(4)]
    listing = json.loads((board / "shot_list.json").read_text())
    assert listing["shots"] == rows(shots)
    assert listing["running_time"] == pytest.approx(sum(durations))

    frames, seconds = imageio_ffmpeg.count_frames_and_secs(str(board / "animatic.mp4"))
    assert frames == sum(frame_counts(shots))
    assert abs(frames / FPS - sum(durations)) <= 1 / FPS

    timeline = otio.adapters.read_from_file(str(board / "timeline.otio"))
    clips = list(timeline.find_clips())
    assert len(clips) == 4
    assert [round(c.duration().to_seconds() * FPS) for c in clips] == frame_counts(shots)
    assert clips[1].duration().to_seconds() == pytest.approx(2.5, abs=1 / FPS)
    assert len(list(otio.adapters.read_from_file(str(board / "timeline.edl"), rate=FPS).find_clips())) == 4


def test_the_export_correction_writes_the_formats_asked_for(tmp_path):
    out = tmp_path / "o"
    result = invoke("run", SCENE, "--out", out, *SMALL, "--then", "export mp4, timeline")
    assert result.exit_code == 0, result.output + result.stderr
    assert "storyboard exported (with mp4, otio)" in result.output
    assert (out / "animatic.mp4").is_file() and (out / "timeline.otio").is_file()
    assert not (out / "animatic.gif").exists()


def test_a_failed_export_keeps_the_session_open(tmp_path):
    out = tmp_path / "o"
    (out / "animatic.mp4").mkdir(parents=True)  # a folder where the animatic should go: the write must fail
    result = invoke("run", SCENE, "--out", out, *SMALL, "--then", "export mp4")
    assert result.exit_code == 1
    assert "nothing is lost" in result.stderr
    result = invoke("run", SCENE, "--out", out, "--resume", "--then", "frame 0: close-up")
    assert result.exit_code == 0, result.output + result.stderr
    assert json.loads((out / "storyboard.json").read_text())["frames"][0]["shot_type"] == "close_up"


@pytest.mark.parametrize(("args", "expected"), [
    (["--format", "docx"], "unknown format 'docx'"),
    (["--format", "pdf", "--panels", "13"], "1 to 12"),
    (["--format", "pdf", "--orientation", "sideways"], "landscape or portrait"),
    (["--format", "otio", "--timeline", "doc"], ".doc"),
])
def test_bad_options_are_refused_in_one_line(board, args, expected):
    assert expected in one_error(invoke("export", board, *args))


def test_a_folder_without_a_storyboard_is_refused_in_one_line(tmp_path):
    assert "no storyboard.json" in one_error(invoke("export", tmp_path))


def test_people_read_the_cast_by_name_in_every_format(board, tmp_path):
    """The training tokens stay in the prompts; every file a crew reads names Kaito and Ji-yeon."""
    result = invoke("export", board, "--timeline", "edl", "--format", "pdf,csv,json,otio")
    assert result.exit_code == 0, result.output + result.stderr
    tokens = ("kaitoyosuke", "jiyeonmun")
    document = json.loads((board / "storyboard.json").read_text(encoding="utf-8"))
    assert any("kaitoyosuke man" in frame["prompt"] for frame in document["frames"])
    for frame in document["frames"]:
        assert not any(token in frame["action"].lower() for token in tokens), frame["action"]
        assert all(person["shown"] in ("Kaito", "Ji-yeon") for person in frame["characters"])
    shown = {name for shot in read_board(board).shots for name, _ in shot.characters}
    assert shown and shown <= {"Kaito", "Ji-yeon"}
    for name in ("shot_list.csv", "shot_list.json", "timeline.edl"):
        text = (board / name).read_text(encoding="utf-8").lower()
        assert not any(token in text for token in tokens), name
    timeline = otio.adapters.read_from_file(str(board / "timeline.otio"))
    for clip in timeline.find_clips():
        words = json.dumps(dict(clip.metadata["shotsmith"]), default=str).lower()
        assert not any(token in words for token in tokens), words


def test_the_camera_reaches_the_shot_list_and_the_timeline(board):
    result = invoke("export", board, "--format", "csv,json,otio")
    assert result.exit_code == 0, result.output + result.stderr
    shots = read_board(board).shots
    document = json.loads((board / "storyboard.json").read_text(encoding="utf-8"))
    assert [s.framing for s in shots] == [f["framing"] for f in document["frames"]]
    assert any(s.camera for s in shots) and shots[0].angle == "high" and shots[0].camera == "high angle"
    table = read_csv(board / "shot_list.csv")
    assert [(r["framing"], r["angle"], r["movement"], r["camera"]) for r in table] == [
        (s.framing, s.angle, s.movement, s.camera) for s in shots]
    listed = json.loads((board / "shot_list.json").read_text(encoding="utf-8"))["shots"]
    assert [r["camera"] for r in listed] == [s.camera for s in shots]
    timeline = otio.adapters.read_from_file(str(board / "timeline.otio"))
    assert [clip.metadata["shotsmith"]["camera"] for clip in timeline.find_clips()] == [s.camera for s in shots]
