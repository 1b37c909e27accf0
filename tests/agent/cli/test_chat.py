"""`shotsmith chat`: a typed conversation with a storyboard. Corrections change the files on disk exactly as the
same corrections passed to `shotsmith run` would, slash commands steer the chat, mistakes and Ctrl-C leave it
running, and a session left without exporting can be taken up again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli.app import app
from agent.session import Session
from tools.errors import Cancelled
from tools.render.sketch import SketchRenderer

ROOT = Path(__file__).resolve().parents[3]
SCENE = ROOT / "examples" / "investigation.toml"
FRAMES = 8
SKETCH = ["--renderer", "sketch"]


def chat(*args, lines: list[str] | None = None):
    """Run `shotsmith chat` with the given lines as its input (no closing /quit unless given)."""
    text = "".join(f"{line}\n" for line in lines or [])
    return CliRunner().invoke(app, ["chat", *map(str, args)], input=text, catch_exceptions=False)


def ok(result) -> str:
    assert result.exit_code == 0, (result.exit_code, result.output, result.stderr)
    assert "Traceback" not in result.output + result.stderr
    return result.output


def one_error_line(result, code: int = 2) -> str:
    assert result.exit_code == code, (result.exit_code, result.output, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output + result.stderr
    return lines[0]


def shots(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((out / "frames").glob("shot_*.png"))}


def document(out: Path) -> dict:
    return json.loads((out / "storyboard.json").read_text(encoding="utf-8"))


def state(out: Path):
    session = Session.reopen(out, None)  # reading the checkpoint needs no planner or renderer
    try:
        return session.state(), session.waiting()
    finally:
        session.close()


def shows_plan_table(output: str) -> bool:
    header = next((line for line in output.splitlines() if "characters" in line), "")
    return all(word in header for word in ("frame", "shot", "characters", "prompt"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The scene drawn by `shotsmith run` with no correction and with "frame 1: close-up" alone."""
    folder = tmp_path_factory.mktemp("runs")
    runner = CliRunner()
    for name, extra in (("plain", []), ("close", ["--then", "frame 1: close-up"])):
        result = runner.invoke(app, ["run", str(SCENE), "--out", str(folder / name), *SKETCH, *extra])
        assert result.exit_code == 0, result.output
    return folder / "plain", folder / "close"


def test_corrections_undo_and_export_match_run(tmp_path, runs):
    plain, close = runs
    out = tmp_path / "chat"
    output = ok(chat(SCENE, "--out", out, *SKETCH,
                     lines=["frame 1: close-up", "swap 2 and 3", "/undo", "/export", "never read"]))

    assert output.splitlines()[0] == f"planned {FRAMES} frames with the rules planner"
    assert shows_plan_table(output) and "House investigation" in output
    for i in range(FRAMES):
        assert f"wrote {out / 'frames' / f'shot_{i}.png'}" in output
    for said, reply in (("frame 1: close-up", "frame 1 is now a close-up"), ("swap 2 and 3", "swapped frames 2 and 3"),
                        ("/undo", "undid the last correction"), ("/export", "storyboard exported")):
        assert f"> {said}" in output and reply in output
        assert output.index(f"> {said}") < output.index(reply)
    assert "> never read" not in output, "the chat ends at /export"
    assert f"exported: the storyboard is in {out}" in output

    after = shots(out)
    assert after["shot_1.png"] != shots(plain)["shot_1.png"]
    assert {k: v for k, v in after.items() if k != "shot_1.png"} == \
        {k: v for k, v in shots(plain).items() if k != "shot_1.png"}
    assert after == shots(close)  # undo took back the swap, and nothing else
    assert document(out)["corrections"] == ["frame 1: close-up", "swap 2 and 3", "undo"]
    assert document(close)["corrections"] == ["frame 1: close-up"]
    assert document(out)["frames"] == document(close)["frames"]

    board, waiting = state(out)
    assert board.done and not waiting
    refused = one_error_line(chat("--session", "x", "--out", out, lines=["/quit"]))
    assert "exported" in refused


def test_quit_keeps_the_session_and_session_takes_it_up(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # sessions live under out/ in the current folder
    first = ok(chat(SCENE, *SKETCH, lines=["frame 1: close-up", "/sessions", "/quit", "swap 2 and 3"]))
    out = tmp_path / "out" / SCENE.stem
    assert f"{Path('out') / SCENE.stem}  House investigation  (this chat)" in first
    assert "shotsmith chat --session investigation" in first
    assert "> swap 2 and 3" not in first
    board, waiting = state(out)
    assert board.applied == ["frame 1: close-up"] and waiting and not board.done

    again = ok(chat("--session", SCENE.stem, *SKETCH, lines=["/plan", "swap 2 and 3", "/quit"]))
    assert "1 correction(s) so far" in again
    assert shows_plan_table(again)
    assert "swapped frames 2 and 3" in again
    board, waiting = state(out)
    assert board.applied == ["frame 1: close-up", "swap 2 and 3"] and waiting


def test_help_lists_the_slash_commands_and_the_corrections(tmp_path):
    output = ok(chat(SCENE, "--out", tmp_path / "o", *SKETCH, "--frames", "2", lines=["/help", "/quit"]))
    help_text = output[output.index("> /help"):]
    for command in ("/help", "/plan", "/undo", "/export", "/sessions", "/quit"):
        assert command in help_text
    assert "frame 3: close-up" in help_text and "swap 2 and 4" in help_text


def test_plan_prints_the_current_table(tmp_path):
    output = ok(chat(SCENE, "--out", tmp_path / "o", *SKETCH, lines=["frame 1: close-up", "/plan", "/quit"]))
    again = output[output.index("> /plan"):]
    assert shows_plan_table(again)
    row = next(line for line in again.splitlines() if line.strip("│ ").startswith("1 "))
    assert "Close-up" in row


def test_a_bad_correction_prints_one_error_and_the_chat_goes_on(tmp_path):
    out = tmp_path / "o"
    result = chat(SCENE, "--out", out, *SKETCH, lines=["frame 99: close-up", "", "frame 1: close-up", "/quit"])
    line = one_error_line(result, 0)
    assert "99" in line
    assert "frame 1 is now a close-up" in result.output
    assert state(out)[0].applied == ["frame 1: close-up"]


def test_a_question_is_asked_not_reported_as_an_error(tmp_path):
    out = tmp_path / "o"
    result = chat(SCENE, "--out", out, *SKETCH, "--frames", "2", lines=["make it a close up", "frame 1: close-up",
                                                                        "/quit"])
    assert result.exit_code == 0 and result.stderr == ""
    assert "question: which frame should be a close-up?" in result.output
    assert state(out)[0].applied == ["frame 1: close-up"]


def test_an_unknown_slash_command_is_refused_and_the_chat_goes_on(tmp_path):
    result = chat(SCENE, "--out", tmp_path / "o", *SKETCH, "--frames", "2", lines=["/nope", "/plan", "/quit"])
    line = one_error_line(result, 0)
    assert "/nope" in line and "/help" in line
    assert shows_plan_table(result.output[result.output.index("> /plan"):])


def test_no_scene_and_no_session_is_refused_with_one_line():
    line = one_error_line(chat())
    assert "scene" in line and "--session" in line


def test_a_session_folder_without_a_session_is_refused(tmp_path):
    line = one_error_line(chat("--session", "nothing", "--out", tmp_path / "empty"))
    assert "no session" in line


def test_end_of_input_leaves_cleanly(tmp_path):
    out = tmp_path / "o"
    output = ok(chat(SCENE, "--out", out, *SKETCH, "--frames", "3", lines=["frame 0: close-up"]))
    assert "the session stays in" in output
    board, waiting = state(out)
    assert board.applied == ["frame 0: close-up"] and waiting and not board.done


def test_ctrl_c_at_the_prompt_leaves_like_quit(tmp_path, monkeypatch):
    out = tmp_path / "o"

    def interrupted(*args):
        raise KeyboardInterrupt
    monkeypatch.setattr("builtins.input", interrupted)
    output = ok(chat(SCENE, "--out", out, *SKETCH, "--frames", "2"))
    assert "the session stays in" in output
    assert state(out)[1]


@pytest.mark.parametrize("stop", [KeyboardInterrupt, lambda: Cancelled("rendering was cancelled")],
                         ids=["keyboard-interrupt", "renderer-cancelled"])
def test_ctrl_c_during_a_render_returns_to_the_prompt(tmp_path, monkeypatch, stop):
    """Ctrl-C reaches a render as KeyboardInterrupt (sketches) or as Cancelled from a renderer's cancel()."""
    out = tmp_path / "o"
    render = SketchRenderer.render
    calls = []

    def interrupted_once(self, job, on_progress=None):
        calls.append(job)
        if len(calls) == 3:
            raise stop()
        return render(self, job, on_progress)
    monkeypatch.setattr(SketchRenderer, "render", interrupted_once)
    result = chat(SCENE, "--out", out, *SKETCH, lines=["frame 1: close-up", "/quit"])
    output = ok(result)
    assert "stopped;" in output
    assert output.index("stopped;") < output.index("> frame 1: close-up")
    assert "finishing the work that was cut off first" in output
    assert "frame 1 is now a close-up" in output
    assert sorted(shots(out)) == [f"shot_{i}.png" for i in range(FRAMES)]
    board, waiting = state(out)
    assert board.applied == ["frame 1: close-up"] and waiting


def test_a_session_that_never_started_starts_with_the_scene_and_is_refused_without(tmp_path):
    out = tmp_path / "o"
    Session.create(out, None).close()  # session.json written, nothing drawn
    line = one_error_line(chat("--session", "o", "--out", out, lines=["/quit"]))
    assert "never started" in line
    output = ok(chat(SCENE, "--session", "o", "--out", out, *SKETCH, "--frames", "2", lines=["/quit"]))
    assert "planned 2 frames" in output
    assert sorted(shots(out)) == ["shot_0.png", "shot_1.png"]
