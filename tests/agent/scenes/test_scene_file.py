"""Scene files: every example loads, and each mistake gives one line on stderr naming the field, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.errors import SceneError
from agent.scenes.scene_file import MAX_FRAMES, load_scene

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE_FILES = sorted((ROOT / "examples").glob("*.toml"))

GOOD = '''
title = "Test"
description = "Ana opens the door and looks at the rain."
{count}

[[characters]]
name = "anamoreno"
class = "woman"
aliases = ["Ana"]
{extra}
'''


def scene_text(count: str = "frames = 3", extra: str = "") -> str:
    return GOOD.format(count=count, extra=extra)


def one_error_line(result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].strip()
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    return lines[0]


# (scene text, words the error line must contain)
BAD_SCENES = {
    "toml_syntax": ('title = "Test\ndescription = "x"\nframes = 3\n', ["TOML"]),
    "toml_missing_value": ('title =\nframes = 3\n', ["TOML"]),
    "missing_description": ('title = "Test"\nframes = 3\n', ["description", "expected"]),
    "empty_description": ('description = "   "\nframes = 3\n', ["description", "expected"]),
    "description_not_text": ('description = 3\nframes = 3\n', ["description", "expected"]),
    "neither_frames_nor_shots": ('description = "A man walks."\n', ["frames", "expected"]),
    "frames_zero": ('description = "A man walks."\nframes = 0\n', ["frames", "expected"]),
    "frames_negative": ('description = "A man walks."\nframes = -3\n', ["frames", "expected"]),
    "frames_text": ('description = "A man walks."\nframes = "8"\n', ["frames", "expected"]),
    "frames_fraction": ('description = "A man walks."\nframes = 2.5\n', ["frames", "expected"]),
    "frames_bool": ('description = "A man walks."\nframes = true\n', ["frames", "expected"]),
    "too_many_frames": (f'description = "A man walks."\nframes = {MAX_FRAMES + 1}\n',
                        ["frames", "expected", str(MAX_FRAMES)]),
    "too_many_shots": (f'description = "A man walks."\nshots = [{", ".join(["2"] * (MAX_FRAMES + 1))}]\n',
                       ["shots", "expected", str(MAX_FRAMES)]),
    "shot_zero": ('description = "A man walks."\nshots = [2, 0]\n', ["shots[1]", "expected", "1 to 9"]),
    "shot_ten": ('description = "A man walks."\nshots = [10]\n', ["shots[0]", "expected", "1 to 9"]),
    "shots_empty": ('description = "A man walks."\nshots = []\n', ["shots", "expected"]),
    "shots_not_list": ('description = "A man walks."\nshots = 3\n', ["shots", "expected"]),
    "name_with_spaces": (scene_text().replace('"anamoreno"', '"ana moreno"'), ["name", "expected"]),
    "name_missing": (scene_text().replace('name = "anamoreno"', ""), ["characters[0]", "name", "expected"]),
    "class_missing": (scene_text().replace('class = "woman"', ""), ["characters[0]", "class", "expected"]),
    "unknown_top_level_key": (scene_text(extra="").replace('title = "Test"', 'title = "Test"\ncamera = "A"'),
                              ["camera", "expected"]),
    "unknown_character_key": (scene_text(extra='hat = "red"'), ["characters[0]", "hat", "expected"]),
    "aliases_not_list": (scene_text().replace('aliases = ["Ana"]', 'aliases = "Ana"'), ["aliases", "expected"]),
    "characters_not_tables": ('description = "A man walks."\nframes = 2\ncharacters = ["bob"]\n',
                              ["characters[0]", "expected"]),
    "repeated_name": (scene_text(extra='[[characters]]\nname = "AnaMoreno"\nclass = "woman"\n'),
                      ["characters", "expected"]),
}


@pytest.mark.parametrize("command", ["run", "plan"])
@pytest.mark.parametrize("case", sorted(BAD_SCENES))
def test_bad_scene_file(cli, tmp_path, case, command):
    text, words = BAD_SCENES[case]
    path = tmp_path / "scene.toml"
    path.write_text(text, encoding="utf-8")
    args = [command, path] + (["--out", tmp_path / "out"] if command == "run" else [])
    line = one_error_line(cli(*args))
    assert line.startswith("error: ")
    assert "scene.toml" in line
    for word in words:
        assert word in line, (word, line)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["run", "plan"])
def test_missing_scene_file(cli, tmp_path, command):
    line = one_error_line(cli(command, tmp_path / "absent.toml"))
    assert "absent.toml" in line


def test_scene_file_is_a_folder(cli, tmp_path):
    one_error_line(cli("plan", tmp_path))


def test_scene_file_not_utf8(cli, tmp_path):
    path = tmp_path / "latin.toml"
    path.write_bytes('description = "caf\xe9"\nframes = 2\n'.encode("latin-1"))
    one_error_line(cli("plan", path))


@pytest.mark.parametrize("case", sorted(BAD_SCENES))
def test_load_scene_raises_one_line(tmp_path, case):
    text, words = BAD_SCENES[case]
    path = tmp_path / "scene.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SceneError) as caught:
        load_scene(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    for word in words:
        assert word in message


# --- good scene files ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_examples_load(path):
    scene = load_scene(path)
    assert scene.title and scene.description
    assert (scene.frames is None) != (scene.shots is None)
    assert scene.characters
    for person in scene.characters:
        assert " " not in person.name and person.class_word


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_examples_plan(cli, path):
    result = cli("plan", path)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""


def test_minimal_scene(write_scene):
    scene = load_scene(write_scene('description = "A man walks."\nframes = 1\n'))
    assert scene.title == "Untitled scene"
    assert scene.frames == 1 and scene.shots is None and scene.characters == []


def test_full_scene(write_scene, tmp_path):
    path = write_scene(scene_text(extra='description = "green coat"\nlora = "loras/ana.safetensors"'))
    scene = load_scene(path)
    person = scene.characters[0]
    assert (person.name, person.class_word, person.aliases) == ("anamoreno", "woman", ["Ana"])
    assert person.description == "green coat"
    assert person.lora == str((tmp_path / "loras" / "ana.safetensors").resolve())


def test_shots_win_and_overrides_replace(write_scene):
    path = write_scene(scene_text(count="frames = 5\nshots = [8, 2]"))
    assert load_scene(path).shots == [8, 2]
    overridden = load_scene(path, {"frames": 3})
    assert (overridden.frames, overridden.shots) == (3, None)
    overridden = load_scene(path, {"shots": [1, 9, 4]})
    assert (overridden.frames, overridden.shots) == (None, [1, 9, 4])


def test_limits_are_inclusive(write_scene):
    assert load_scene(write_scene(scene_text(count=f"frames = {MAX_FRAMES}"))).frames == MAX_FRAMES
    assert load_scene(write_scene(scene_text(count="shots = [1, 9]"))).shots == [1, 9]


def test_override_errors_name_the_field(write_scene):
    path = write_scene(scene_text())
    with pytest.raises(SceneError, match="frames"):
        load_scene(path, {"frames": 0})
    with pytest.raises(SceneError, match=r"shots\[0\]"):
        load_scene(path, {"shots": [12]})
