"""`shotsmith run`, `plan` and `chat` on a Fountain screenplay: the scene asked for, its cast and its dialogue."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from agent.cli.app import app

ROOT = Path(__file__).resolve().parents[3]
HAMLET = ROOT / "tests" / "data" / "hamlet.fountain"
SKETCH = ["--renderer", "sketch", "--planner", "rules", "--width", "96", "--height", "64"]


def invoke(*args: object, input: str | None = None):
    result = CliRunner().invoke(app, [str(a) for a in args], input=input)
    assert "Traceback" not in result.output + result.stderr, result.output + result.stderr
    return result


def test_run_draws_one_scene_of_a_screenplay_with_its_dialogue(tmp_path):
    out = tmp_path / "o"
    result = invoke("run", HAMLET, "--scene", "1", "--out", out, *SKETCH)
    assert result.exit_code == 0, result.output + result.stderr
    document = json.loads((out / "storyboard.json").read_text())
    assert document["title"] == "Hamlet: EXT. ELSINORE CASTLE - PLATFORM - NIGHT"
    assert document["setting"] == "the platform at elsinore castle" and document["lighting"] == "cold moonlight"
    tokens = [c["name"] for c in document["characters"]]
    assert tokens[:2] == ["barnardo", "francisco"] and "horatio" in tokens
    said = [line["text"] for frame in document["frames"] for line in frame["dialogue"]]
    assert said[0] == "Who's there?" and len(said) == 44
    assert (out / "storyboard.pdf").is_file()


def test_without_scene_the_first_is_drawn_and_a_notice_says_how_to_pick(tmp_path):
    result = invoke("run", HAMLET, "--out", tmp_path / "o", "--frames", "3", *SKETCH)
    assert result.exit_code == 0
    assert "has 2 scenes; using scene 1" in result.stderr and "--scene N" in result.stderr


def test_plan_output_stays_json_and_takes_a_cast_file(tmp_path):
    (tmp_path / "cast.toml").write_text('[characters.HORATIO]\ntoken = "horatiosk"\nclass = "man"\n')
    result = invoke("plan", HAMLET, "--scene", "2", "--cast", tmp_path / "cast.toml", "--frames", "4")
    assert result.exit_code == 0, result.stderr
    plan = json.loads(result.stdout)
    horatio = next(c for c in plan["characters"] if c["name"] == "horatiosk")
    assert horatio["class"] == "man"


def test_scene_options_on_a_scene_file_and_a_missing_scene_are_one_line_errors(tmp_path):
    wrong = invoke("run", ROOT / "examples" / "chase.toml", "--scene", "2", "--out", tmp_path / "a")
    assert wrong.exit_code == 2 and "--scene and --cast are for screenplays" in wrong.stderr
    missing = invoke("run", HAMLET, "--scene", "7", "--out", tmp_path / "b")
    assert missing.exit_code == 2 and len(missing.stderr.splitlines()) == 1 and "7" in missing.stderr


def test_chat_takes_a_screenplay_scene_and_its_default_folder_names_the_scene(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("chat", HAMLET, "--scene", "2", "--frames", "3", *SKETCH, input="frame 0: 2s\n/export\n")
    assert result.exit_code == 0, result.output + result.stderr
    document = json.loads((tmp_path / "out" / "hamlet-scene2" / "storyboard.json").read_text())
    assert document["frames"][0]["duration"] == 2.0 and document["frames"][0]["duration_set"]
