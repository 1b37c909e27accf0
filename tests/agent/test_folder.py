"""The output folder is the session: copies and moves carry on where they are, and one writer at a time.

The folder a command is given is where everything goes, never a path remembered in the checkpoint; and
while `run`, `chat`, `script`, `export` or a bot writes into a folder, a second writer is refused with one
line naming the process in the way, before it touches anything.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli.app import app
from tools.files.folder_lock import LOCK_NAME, FolderLock

ROOT = Path(__file__).resolve().parents[2]
SCENE = ROOT / "examples" / "investigation.toml"
OTHER = ROOT / "examples" / "chase.toml"
SKETCH = ["--renderer", "sketch"]
SHOTSMITH = [str(Path(sys.executable).with_name("shotsmith"))]


def invoke(*args, text: str = ""):
    return CliRunner().invoke(app, [str(a) for a in args], input=text, catch_exceptions=False)


def ok(result) -> str:
    assert result.exit_code == 0, (result.exit_code, result.output, result.stderr)
    assert "Traceback" not in result.output + result.stderr
    return result.output


def one_error_line(result, code: int = 2) -> str:
    assert result.exit_code == code, (result.exit_code, result.output, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output + result.stderr
    return lines[0]


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under `folder` with its size and modification time."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def shot_type(folder: Path, number: int) -> str:
    frames = json.loads((folder / "storyboard.json").read_text(encoding="utf-8"))["frames"]
    return next(f["shot_type"] for f in frames if f["index"] == number)


@pytest.fixture
def board(tmp_path) -> Path:
    """A finished 3-frame session in tmp_path/o."""
    out = tmp_path / "o"
    ok(invoke("run", SCENE, "--out", out, "--frames", 3, *SKETCH))
    return out


# --- the folder as it is now ----------------------------------------------------------------------------


def test_a_copied_session_resumes_into_the_copy_and_leaves_the_original_alone(board, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(board, copy)
    before = snapshot(board)
    ok(invoke("run", SCENE, "--out", copy, "--resume", "--then", "frame 2: close-up"))
    assert snapshot(board) == before
    assert shot_type(copy, 2) == "close_up" and shot_type(board, 2) != "close_up"
    assert (copy / "frames" / "shot_2.png").read_bytes() != (board / "frames" / "shot_2.png").read_bytes()


def test_a_moved_session_resumes_where_it_now_is(board, tmp_path):
    moved = tmp_path / "elsewhere" / "moved"
    moved.parent.mkdir()
    board.rename(moved)
    ok(invoke("run", SCENE, "--out", moved, "--resume", "--then", "frame 2: close-up"))
    assert not board.exists()
    assert shot_type(moved, 2) == "close_up"
    sheet = json.loads((moved / "storyboard.json").read_text(encoding="utf-8"))
    assert all(not Path(f["image"]).is_absolute() for f in sheet["frames"])


def test_a_relative_out_resumed_from_another_folder_stays_one_session(tmp_path, monkeypatch):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir(), second.mkdir()
    monkeypatch.chdir(first)
    ok(invoke("run", SCENE, "--out", "boards/o", "--frames", 3, *SKETCH))
    monkeypatch.chdir(second)
    ok(invoke("run", SCENE, "--out", "../first/boards/o", "--resume", "--then", "frame 2: close-up"))
    assert list(second.iterdir()) == []
    assert shot_type(first / "boards" / "o", 2) == "close_up"


def test_a_session_chat_takes_up_after_a_move_writes_where_it_is(board, tmp_path):
    moved = tmp_path / "moved"
    board.rename(moved)
    ok(invoke("chat", "--session", "o", "--out", moved, *SKETCH, text="frame 1: close-up\n/quit\n"))
    assert not board.exists() and shot_type(moved, 1) == "close_up"


# --- one writer per folder ------------------------------------------------------------------------------


def write_turns(folder: Path) -> Path:
    path = folder / "story.turns.yaml"
    path.write_text(f"scene: {SCENE}\nrenderer: sketch\nturns:\n  - \"frame 1: close-up\"\n",
                    encoding="utf-8")
    return path


def test_every_writer_is_refused_while_another_holds_the_folder_and_touches_nothing(board, tmp_path):
    turns = write_turns(tmp_path)
    before = snapshot(board)
    holder = FolderLock(board)  # this test process stands in for a run still drawing there
    try:
        attempts = {
            "run": invoke("run", OTHER, "--out", board, "--frames", 2, *SKETCH),
            "run --resume": invoke("run", SCENE, "--out", board, "--resume", "--then", "frame 0: wide"),
            "chat": invoke("chat", OTHER, "--out", board, *SKETCH, text="/quit\n"),
            "chat --session": invoke("chat", "--session", "o", "--out", board, *SKETCH, text="/quit\n"),
            "script": invoke("script", turns, "--out", board),
            "script --resume": invoke("script", turns, "--out", board, "--resume"),
            "export": invoke("export", board, "--format", "csv,json"),
        }
        for name, result in attempts.items():
            line = one_error_line(result)
            assert f"process {os.getpid()}" in line and "writing into this folder" in line, (name, line)
    finally:
        holder.release()
    after = snapshot(board)
    after.pop(LOCK_NAME), before.pop(LOCK_NAME)  # the holder wrote its pid there
    assert after == before
    ok(invoke("run", SCENE, "--out", board, "--resume", "--then", "frame 0: wide"))  # free again


def _wait_for_lock(out: Path, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not (out / LOCK_NAME).is_file() or not (out / LOCK_NAME).read_text().startswith(f"{process.pid} "):
        assert process.poll() is None and time.monotonic() < deadline, "the first run never took the folder"
        time.sleep(0.01)


def test_two_runs_at_once_on_one_folder_the_second_exits_2_naming_the_first(tmp_path):
    out = tmp_path / "o"
    first = subprocess.Popen([*SHOTSMITH, "run", str(SCENE), "--out", str(out), "--frames", "60",
                              "--width", "768", "--height", "768", *SKETCH],
                             cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_lock(out, first)
        second = subprocess.run([*SHOTSMITH, "run", str(OTHER), "--out", str(out), "--frames", "2", *SKETCH],
                                cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert first.poll() is None, "the first run ended before the second began: the race was not tried"
    finally:
        _, errors = first.communicate(timeout=300)
    assert second.returncode == 2, second.stderr
    assert second.stderr.count("\n") == 1 and f"process {first.pid} (" in second.stderr
    assert first.returncode == 0, errors
    document = json.loads((out / "storyboard.json").read_text(encoding="utf-8"))
    assert document["title"] == "House investigation" and len(document["frames"]) == 60


def test_a_killed_writer_leaves_no_lock_behind(tmp_path):
    out = tmp_path / "o"
    first = subprocess.Popen([*SHOTSMITH, "run", str(SCENE), "--out", str(out), "--frames", "12",
                              "--width", "768", "--height", "768", *SKETCH],
                             cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_lock(out, first)
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    assert (out / LOCK_NAME).is_file()  # the file stays, but the kernel dropped its lock with the process
    ok(invoke("run", SCENE, "--out", out, "--frames", 3, *SKETCH))
    assert len(list((out / "frames").glob("shot_*.png"))) == 3
