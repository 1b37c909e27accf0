"""A damaged checkpoint file, a read-only folder and a full disk each get one line and a way forward.

A damaged session.sqlite is set aside (kept for a look) and the copy saved when the session last waited is
put in its place, so the picks survive; a folder that cannot be written is refused before anything is
half-written; a disk that fills during a run stops it with one line, and `--resume` finishes it once there
is room again.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
SCENE = ROOT / "examples" / "investigation.toml"
SHOTSMITH = str(Path(sys.executable).with_name("shotsmith"))


def invoke(*args, text: str = ""):
    return CliRunner().invoke(app, [str(a) for a in args], input=text, catch_exceptions=False)


def one_error_line(stderr: str, output: str = "") -> str:
    lines = [line for line in stderr.splitlines() if not line.startswith("notice: no model library")]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr + output
    return lines[0]


def frame_types(folder: Path) -> list[str]:
    return [f["shot_type"] for f in json.loads((folder / "storyboard.json").read_text(encoding="utf-8"))["frames"]]


def damage(path: Path, kind: str) -> None:
    data = bytearray(path.read_bytes())
    if kind == "truncated":
        data = data[: len(data) // 2 + 100]
    elif kind == "bit-flipped":
        for offset in range(16, 24):  # page size, format versions and reserved space in the header
            data[offset] ^= 0xFF
    else:
        data = bytearray(b"this was never a database\n" * 40)
    path.write_bytes(bytes(data))


def write_turns(folder: Path) -> Path:
    path = folder / "story.turns.yaml"
    path.write_text(f"scene: {SCENE}\nrenderer: sketch\nturns:\n  - \"frame 1: close-up\"\n", encoding="utf-8")
    return path


@pytest.fixture
def board(tmp_path) -> Path:
    """A session of the example with one pick made (frame 1 a close-up), as `script` leaves it."""
    out = tmp_path / "o"
    result = invoke("script", write_turns(tmp_path), "--out", out)
    assert result.exit_code == 0, result.stderr
    assert frame_types(out)[1] == "close_up"
    assert (out / "session.good.sqlite").is_file()
    return out


KINDS = ["truncated", "bit-flipped", "not-a-database"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("command", ["run --resume", "chat --session", "script --resume"])
def test_a_damaged_store_is_set_aside_and_the_session_carries_on_from_its_good_copy(board, tmp_path, kind,
                                                                                    command):
    damage(board / "session.sqlite", kind)
    if command == "run --resume":
        result = invoke("run", SCENE, "--out", board, "--resume", "--then", "frame 0: close-up")
    elif command == "chat --session":
        result = invoke("chat", "--session", "o", "--out", board, "--renderer", "sketch",
                        text="frame 0: close-up\n/quit\n")
    else:
        result = invoke("script", tmp_path / "story.turns.yaml", "--out", board, "--resume")
    assert result.exit_code == 0, (result.output, result.stderr)
    assert "Traceback" not in result.output + result.stderr
    notices = [line for line in result.stderr.splitlines() if "session.sqlite was damaged" in line]
    assert len(notices) == 1 and "carrying on from the copy" in notices[0], result.stderr
    assert len(list(board.glob("session.sqlite.damaged-*"))) == 1  # kept for a look, not deleted
    types = frame_types(board)
    assert types[1] == "close_up"  # the pick made before the damage survived
    if command != "script --resume":
        assert types[0] == "close_up"


@pytest.mark.parametrize("kind", KINDS)
def test_a_fresh_run_into_a_folder_with_a_damaged_store_starts_afresh(board, kind):
    damage(board / "session.sqlite", kind)
    result = invoke("run", SCENE, "--out", board, "--frames", 3, "--renderer", "sketch")
    assert result.exit_code == 0, (result.output, result.stderr)
    assert "Traceback" not in result.output + result.stderr
    assert "starts a fresh one" in result.stderr
    assert len(frame_types(board)) == 3


def test_without_a_good_copy_the_line_says_what_is_lost_and_what_to_run(board):
    (board / "session.good.sqlite").unlink()
    damage(board / "session.sqlite", "truncated")
    result = invoke("run", SCENE, "--out", board, "--resume", "--then", "frame 0: close-up")
    assert result.exit_code == 2
    line = one_error_line(result.stderr, result.output)
    assert "no good copy" in line and "picks and undo history are lost" in line and "without --resume" in line
    again = invoke("chat", "--session", "o", "--out", board, "--renderer", "sketch", text="/quit\n")
    assert again.exit_code == 2 and "Traceback" not in again.stderr  # nothing half-opened was left behind
    result = invoke("run", SCENE, "--out", board, "--renderer", "sketch")
    assert result.exit_code == 0, result.stderr


# --- a folder that cannot be written --------------------------------------------------------------------


def _without_root_powers() -> list[str]:
    """A prefix that makes permission bits bite: root reads and writes anything unless it drops the powers."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv, so a read-only folder cannot be made here")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("command", [
    ["run", str(SCENE), "--out", "{out}", "--resume", "--then", "frame 0: close-up"],
    ["chat", "--session", "o", "--out", "{out}", "--renderer", "sketch"],
    ["export", "{out}", "--format", "pdf,csv"],
], ids=["run --resume", "chat --session", "export"])
def test_a_read_only_session_folder_is_refused_with_one_line_and_left_as_it_was(board, command):
    before = _snapshot(board)
    for path in [board, *board.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)
    try:
        result = subprocess.run([*_without_root_powers(), SHOTSMITH, *[a.replace("{out}", str(board)) for a in command]],
                                input="frame 0: close-up\n/quit\n", capture_output=True, text=True, timeout=120, cwd=ROOT)
    finally:
        for path in [board, *board.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)
    assert result.returncode == 2, (result.stdout, result.stderr)
    line = one_error_line(result.stderr, result.stdout)
    assert "cannot write" in line and "Permission denied" in line and str(board) in line
    assert _snapshot(board) == before


# --- a full disk ----------------------------------------------------------------------------------------


FILL = """
set -e
mkdir -p "$DISK"
mount -t tmpfs -o size=$SIZE tmpfs "$DISK"
set +e
"$SHOTSMITH" run "$SCENE" --out "$DISK/o" --renderer sketch --frames 3 > "$LOG/first.out" 2> "$LOG/first.err"
echo $? > "$LOG/first.rc"
(cd "$DISK/o" && find . -type f | sort) > "$LOG/first.files"
mount -o remount,size=20m "$DISK"
"$SHOTSMITH" run "$SCENE" --out "$DISK/o" --renderer sketch --frames 3 --resume > "$LOG/second.out" 2> "$LOG/second.err"
echo $? > "$LOG/second.rc"
(cd "$DISK/o" && find . -type f | sort) > "$LOG/second.files"
"""


@pytest.mark.parametrize("size", ["120k", "300k"])
def test_a_disk_that_fills_during_a_run_stops_it_with_one_line_and_resume_finishes(tmp_path, size):
    """A small tmpfs, private to a user and mount namespace, stands in for the full disk."""
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode:
        pytest.skip("no unshare with user namespaces here, so a small disk cannot be mounted")
    log = tmp_path / "log"
    log.mkdir()
    env = {**os.environ, "DISK": str(tmp_path / "disk"), "SIZE": size, "LOG": str(log), "SHOTSMITH": SHOTSMITH,
           "SCENE": str(SCENE)}
    subprocess.run(["unshare", "-rm", "sh", "-c", FILL], env=env, check=True, timeout=300, cwd=ROOT)
    assert (log / "first.rc").read_text().strip() == "1", (log / "first.err").read_text()
    line = one_error_line((log / "first.err").read_text(), (log / "first.out").read_text())
    assert "the disk is full" in line and "--resume" in line
    left = (log / "first.files").read_text().split()
    assert not [name for name in left if name.endswith(".tmp") or Path(name).name.startswith(".storyboard")], left
    assert (log / "second.rc").read_text().strip() == "0", (log / "second.err").read_text()
    finished = (log / "second.files").read_text().split()
    assert {"./storyboard.json", "./storyboard.png", "./frames/shot_0.png", "./frames/shot_2.png"} <= set(finished)
