"""`shotsmith run --resume`: a run killed mid-render finishes without redrawing what it had finished, and a
finished run takes only the corrections it has not applied yet."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli.app import app

ROOT = Path(__file__).resolve().parents[3]
SHOTSMITH = ROOT / ".venv" / "bin" / "shotsmith"
SCENE = ROOT / "examples" / "investigation.toml"
FRAMES = 24
BIG = ["--frames", str(FRAMES), "--width", "1024", "--height", "1024"]


def finished_versions(out: Path) -> list[Path]:
    folder = out / "frames" / "versions"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix == ".png" and not p.name.startswith("."))


def kill_mid_render(out: Path, attempts: int = 3) -> tuple[Path, dict[str, tuple[int, bytes]]]:
    """Start a big run and SIGKILL it once at least 3 frames are on disk.

    Return the output folder and the mtime and bytes of every version file finished before the kill.
    """
    for _ in range(attempts):
        process = subprocess.Popen([str(SHOTSMITH), "run", str(SCENE), "--out", str(out), *BIG],
                                   cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while len(finished_versions(out)) < 3:
                if process.poll() is not None or time.monotonic() > deadline:
                    break
                time.sleep(0.002)
            os.kill(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        finally:
            process.wait(timeout=30)
        done = finished_versions(out)
        if 3 <= len(done) < FRAMES and process.returncode == -signal.SIGKILL:
            return out, {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in done}
        # The run finished before it could be killed; start again in a fresh folder.
        out = out.with_name(out.name + "-again")
    pytest.fail("could not kill the run while it was rendering")


def test_killed_run_resumes_without_rerendering(tmp_path):
    out, finished = kill_mid_render(tmp_path / "out")
    assert not (out / "storyboard.json").exists()

    result = subprocess.run([str(SHOTSMITH), "run", str(SCENE), "--out", str(out), *BIG, "--resume"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    for i in range(FRAMES):
        assert (out / "frames" / f"shot_{i}.png").is_file(), i
    assert not (out / "frames" / f"shot_{FRAMES}.png").exists()
    for name, (mtime, data) in finished.items():
        path = out / "frames" / "versions" / name
        assert path.stat().st_mtime_ns == mtime, name
        assert path.read_bytes() == data, name
    assert len(finished_versions(out)) == FRAMES

    summary = re.search(r"\((\d+) rendered, (\d+) reused from files already on disk\)", result.stdout)
    assert summary, result.stdout
    rendered, reused = int(summary.group(1)), int(summary.group(2))
    assert rendered == FRAMES - len(finished)
    assert reused == len(finished)

    data = json.loads((out / "storyboard.json").read_text(encoding="utf-8"))
    assert len(data["frames"]) == FRAMES
    assert (data["width"], data["height"]) == (1024, 1024)
    for i, frame in enumerate(data["frames"]):
        assert len(frame["versions"]) == 1
        assert (out / frame["image"]).read_bytes() == (out / frame["versions"][0]["path"]).read_bytes()


def test_resume_without_a_session_exits_2(cli, tmp_path):
    result = cli("run", SCENE, "--out", tmp_path / "empty", "--resume")
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "Traceback" not in result.output


def test_resume_of_a_session_that_never_started_exits_2(cli, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "session.json").write_text(json.dumps({"thread_id": "run:never"}), encoding="utf-8")
    result = cli("run", SCENE, "--out", out, "--resume")
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")


def test_resume_applies_only_new_corrections(cli, tmp_path):
    out = tmp_path / "o"
    first = cli("run", SCENE, "--out", out, "--frames", "3", "--then", "frame 1: close-up")
    assert first.exit_code == 0, first.output
    before = json.loads((out / "storyboard.json").read_text(encoding="utf-8"))
    assert before["corrections"] == ["frame 1: close-up"]
    assert len(before["frames"][1]["versions"]) == 2

    again = cli("run", SCENE, "--out", out, "--frames", "3", "--resume",
                "--then", "frame 1: close-up", "--then", "regenerate 0")
    assert again.exit_code == 0, again.output
    after = json.loads((out / "storyboard.json").read_text(encoding="utf-8"))
    assert after["corrections"] == ["frame 1: close-up", "regenerate 0"]
    assert len(after["frames"][1]["versions"]) == 2
    assert len(after["frames"][0]["versions"]) == 2
    assert "1 rendered" in again.output


def test_resume_of_a_finished_run_with_nothing_new(cli, tmp_path):
    out = tmp_path / "o"
    assert cli("run", SCENE, "--out", out, "--frames", "2").exit_code == 0
    shots = {p.name: p.read_bytes() for p in (out / "frames").glob("shot_*.png")}
    result = cli("run", SCENE, "--out", out, "--resume")
    assert result.exit_code == 0
    assert "0 rendered, 0 reused" in result.output
    assert {p.name: p.read_bytes() for p in (out / "frames").glob("shot_*.png")} == shots


def test_resume_after_export_refuses_new_corrections_cleanly(cli, tmp_path):
    """A session ended with `export` cannot take more corrections; say so on one line, no traceback."""
    out = tmp_path / "o"
    args = ["run", str(SCENE), "--out", str(out), "--frames", "2"]
    assert cli(*args, "--then", "export").exit_code == 0
    again = CliRunner().invoke(app, args + ["--resume", "--then", "export", "--then", "frame 1: close-up"])
    assert again.exception is None or isinstance(again.exception, SystemExit), repr(again.exception)
    assert again.exit_code in (1, 2)
    lines = again.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), again.stderr
