"""`shotsmith script`: the example turns files play through, a failing turn stops the run with what was made so
far kept, and a turns file that cannot be used is refused with one line."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"
SCENES = sorted(EXAMPLES.glob("*.toml"))
TURNS = sorted(EXAMPLES.glob("*.turns.yaml"))
CHASE = EXAMPLES / "chase.toml"


def one_error_line(result, code: int = 2) -> str:
    """Check a failed command printed exactly one non-empty line on stderr and no traceback."""
    assert result.exit_code == code, (result.exit_code, result.output, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output + result.stderr
    return lines[0]


def corrections(out: Path) -> list[str]:
    """The corrections storyboard.json records; it is written when the board is published, so a closing
    "export" (which finishes the session without changing the board) is not among them."""
    return json.loads((out / "storyboard.json").read_text(encoding="utf-8"))["corrections"]


def write_turns(folder: Path, text: str, name: str = "story.turns.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.mark.parametrize("scene", SCENES, ids=lambda p: p.stem)
def test_every_example_scene_has_a_turns_file(scene):
    turns = scene.with_suffix(".turns.yaml")
    assert turns.is_file(), f"{scene.name} has no {turns.name}"
    data = yaml.safe_load(turns.read_text(encoding="utf-8"))
    assert (turns.parent / data["scene"]).resolve() == scene.resolve()
    assert data.get("renderer") == "sketch"
    assert 3 <= len(data["turns"]) <= 5 and data["turns"][-1] == "export"


@pytest.mark.parametrize("turns", TURNS, ids=lambda p: p.name.split(".")[0])
def test_example_plays_through(cli, tmp_path, turns):
    out = tmp_path / "out"
    result = cli("script", turns, "--out", out)
    assert result.exit_code == 0, (result.output, result.stderr)
    said = yaml.safe_load(turns.read_text(encoding="utf-8"))["turns"]
    lines = result.output.splitlines()
    assert lines[0].startswith("planned ")
    for text in said:
        assert f"> {text}" in lines
    assert [line for line in lines if line.startswith("> ")] == [f"> {text}" for text in said]
    assert "storyboard:" in lines[-1]
    assert said[-1] == "export"
    assert corrections(out) == said[:-1]
    assert (out / "storyboard.png").is_file()


def test_stops_at_the_first_failing_turn_and_keeps_the_work(cli, tmp_path):
    turns = write_turns(tmp_path, f"""\
        scene: {CHASE}
        turns:
          - "frame 2: close-up"
          - "frame 99: close-up"
          - "regenerate 3"
          - "export"
        """)
    out = tmp_path / "out"
    result = cli("script", turns, "--out", out)
    line = one_error_line(result, 1)
    assert "99" in line
    assert "> frame 2: close-up" in result.output and "> frame 99: close-up" in result.output
    assert "> regenerate 3" not in result.output
    assert corrections(out) == ["frame 2: close-up"]
    assert (out / "storyboard.png").is_file()


def test_out_in_the_file_is_relative_to_the_current_folder(cli, tmp_path, monkeypatch):
    folder = tmp_path / "scripts"
    folder.mkdir()
    (folder / "scene.toml").write_text(CHASE.read_text(encoding="utf-8"), encoding="utf-8")
    turns = write_turns(folder, """\
        scene: scene.toml
        out: made/here
        turns: ["regenerate 1", "export"]
        """)
    monkeypatch.chdir(tmp_path)
    result = cli("script", turns)
    assert result.exit_code == 0, (result.output, result.stderr)
    assert corrections(tmp_path / "made" / "here") == ["regenerate 1"]


def test_default_out_is_named_after_the_turns_file(cli, tmp_path, monkeypatch):
    turns = write_turns(tmp_path, f"""\
        scene: {CHASE}
        turns: ["regenerate 0"]
        """, name="night.turns.yaml")
    monkeypatch.chdir(tmp_path)
    result = cli("script", turns)
    assert result.exit_code == 0, (result.output, result.stderr)
    assert corrections(tmp_path / "out" / "night") == ["regenerate 0"]


BAD = {
    "not YAML": ("scene: [\n", "YAML"),
    "not a mapping": ("- export\n", "mapping"),
    "empty": ("", "mapping"),
    "no scene": ('turns: ["export"]\n', "scene"),
    "scene not text": ('scene: 3\nturns: ["export"]\n', "scene"),
    "no turns": (f"scene: {CHASE}\n", "turns"),
    "turns not a list": (f'scene: {CHASE}\nturns: "export"\n', "turns"),
    "empty turns": (f"scene: {CHASE}\nturns: []\n", "turns"),
    "turn not text": (f"scene: {CHASE}\nturns: [3]\n", "turn 1"),
    "unquoted colon": (f"scene: {CHASE}\nturns:\n  - frame 2: close-up\n", "quotes"),
    "unknown key": (f'scene: {CHASE}\nturns: ["export"]\nframes: 4\n', "frames"),
    "bad renderer": (f'scene: {CHASE}\nturns: ["export"]\nrenderer: crayon\n', "renderer"),
    "bad width": (f'scene: {CHASE}\nturns: ["export"]\nwidth: wide\n', "width"),
    "missing scene file": ('scene: nowhere.toml\nturns: ["export"]\n', "nowhere.toml"),
}


@pytest.mark.parametrize("text, named", BAD.values(), ids=BAD.keys())
def test_bad_turns_file(cli, tmp_path, text, named):
    turns = write_turns(tmp_path, text)
    out = tmp_path / "out"
    line = one_error_line(cli("script", turns, "--out", out))
    assert named in line
    assert not (out / "storyboard.json").exists()


def test_missing_turns_file(cli, tmp_path):
    line = one_error_line(cli("script", tmp_path / "absent.turns.yaml"))
    assert "absent.turns.yaml" in line


def test_help(cli):
    result = cli("script", "--help")
    assert result.exit_code == 0
    assert "--out" in result.output
