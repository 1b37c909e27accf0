"""Corrections in film words, each said the two ways a person says them: `shotsmith run --then` and the chat.

The board is the examples' dialogue scene with its default eight frames; before any correction, frame 1 is a
medium shot of Mara alone and frame 5 a close-up of Mara.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli.app import app

ROOT = Path(__file__).resolve().parents[3]
SCENE = ROOT / "examples" / "dialogue.toml"
INVESTIGATION = ROOT / "examples" / "investigation.toml"


def document(out: Path) -> dict:
    return json.loads((out / "storyboard.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def boards(tmp_path_factory) -> dict[Path, Path]:
    """Each scene drawn once by `shotsmith run`, to be copied for every correction."""
    folder = tmp_path_factory.mktemp("film")
    made = {}
    for scene in (SCENE, INVESTIGATION):
        out = folder / scene.stem
        result = CliRunner().invoke(app, ["run", str(scene), "--out", str(out), "--renderer", "sketch"])
        assert result.exit_code == 0, result.output
        made[scene] = out
    return made


def corrected(how: str, scene: Path, boards: dict, tmp_path: Path, *said: str) -> tuple[dict, dict, str]:
    """The board before, the board after the corrections, and what the person saw."""
    out = tmp_path / how
    if how == "run":
        shutil.copytree(boards[scene], out)
        args = ["run", str(scene), "--out", str(out), "--resume"]
        for text in said:
            args += ["--then", text]
        result = CliRunner().invoke(app, args, catch_exceptions=False)
    else:
        result = CliRunner().invoke(app, ["chat", str(scene), "--out", str(out), "--renderer", "sketch"],
                                    input="".join(f"{text}\n" for text in [*said, "/export"]), catch_exceptions=False)
    assert "Traceback" not in result.output
    return document(boards[scene]), document(out), result.output


def frame(board: dict, index: int) -> dict:
    return board["frames"][index]


def names(board: dict, index: int) -> list[str]:
    return [c["shown"] for c in frame(board, index)["characters"]]


HOW = pytest.mark.parametrize("how", ["run", "chat"])


@HOW
@pytest.mark.parametrize(("said", "shot"), [("frame 1: tighter", "medium_close_up"), ("frame 1: closer", "medium_close_up"),
                                            ("make frame 1 tighter", "medium_close_up"), ("frame 1: wider", "american"),
                                            ("frame 1: pull back", "american"), ("frame 5: tighter", "extreme_close_up")])
def test_one_step_along_the_sizes_keeps_the_cast_and_the_setting(how, said, shot, boards, tmp_path):
    before, after, output = corrected(how, SCENE, boards, tmp_path, said)
    number = int(said.split()[-2].rstrip(":")) if said.startswith("make") else int(said.split()[1].rstrip(":"))
    assert frame(after, number)["shot_type"] == shot
    assert names(after, number) == names(before, number)
    assert "a small kitchen" in frame(after, number)["prompt"] and "maravance woman" in frame(after, number)["prompt"]
    assert f"frame {number} is now" in output and "step" in output
    assert frame(after, number)["lint"] == []


@HOW
def test_a_two_shot_brings_in_the_other_person(how, boards, tmp_path):
    before, after, output = corrected(how, SCENE, boards, tmp_path, "frame 1: two-shot")
    assert names(before, 1) == ["Mara"]
    assert frame(after, 1)["framing"] == "two_shot" and sorted(names(after, 1)) == ["Mara", "Tomas"]
    assert "two-shot" in frame(after, 1)["camera"] and "frame 1 is now a medium shot, two-shot" in output
    assert frame(after, 1)["lint"] == []


@HOW
def test_over_the_shoulder_on_someone_looks_past_the_other(how, boards, tmp_path):
    _, after, output = corrected(how, SCENE, boards, tmp_path, "frame 5: over the shoulder on Tomas")
    spec = frame(after, 5)
    assert spec["framing"] == "over_the_shoulder" and spec["toward"] == "maravance"
    assert sorted(names(after, 5)) == ["Mara", "Tomas"]
    assert spec["camera"] == "over Mara's shoulder" and "over Mara's shoulder" in output
    assert "Over-the-shoulder shot from behind maravance woman" in spec["prompt"] and spec["lint"] == []


@HOW
def test_pov_of_someone_leaves_them_out_of_the_picture(how, boards, tmp_path):
    _, after, output = corrected(how, SCENE, boards, tmp_path, "frame 1: POV of Mara")
    spec = frame(after, 1)
    assert spec["framing"] == "pov" and spec["toward"] == "maravance" and spec["camera"] == "POV of Mara"
    assert "maravance" not in spec["prompt"] and "Point-of-view shot" in spec["prompt"]
    assert "POV of Mara" in output and spec["lint"] == []


@HOW
def test_a_reaction_shot_shows_only_who_reacts(how, boards, tmp_path):
    _, after, output = corrected(how, SCENE, boards, tmp_path, "frame 1: reaction shot of Tomas")
    spec = frame(after, 1)
    assert spec["framing"] == "reaction" and names(after, 1) == ["Tomas"]
    assert "tomasreyes man listens and reacts" in spec["prompt"] and "reaction of Tomas" in output
    assert spec["lint"] == []


@HOW
@pytest.mark.parametrize(("said", "field", "value", "phrase"), [
    ("frame 1: low angle", "angle", "low", "Low angle shot"),
    ("frame 1: high angle", "angle", "high", "High angle shot"),
    ("frame 1: push in", "movement", "push_in", "Slow push in"),
])
def test_angles_and_movement_reach_the_prompt(how, said, field, value, phrase, boards, tmp_path):
    before, after, output = corrected(how, SCENE, boards, tmp_path, said)
    assert frame(after, 1)[field] == value and phrase in frame(after, 1)["prompt"]
    assert frame(after, 1)["shot_type"] == frame(before, 1)["shot_type"]
    assert names(after, 1) == names(before, 1) and frame(after, 1)["lint"] == []
    assert f"frame 1 is now a medium shot, {frame(after, 1)['camera']}" in output


@HOW
def test_from_behind_turns_the_person_away(how, boards, tmp_path):
    _, after, output = corrected(how, SCENE, boards, tmp_path, "frame 1: from behind")
    assert frame(after, 1)["characters"][0]["action"] == "seen from behind"
    assert "maravance woman seen from behind" in frame(after, 1)["prompt"] and "Mara seen from behind" in output


@HOW
def test_hold_longer_holds_half_as_long_again(how, boards, tmp_path):
    before, after, output = corrected(how, SCENE, boards, tmp_path, "frame 1: hold longer")
    assert frame(after, 1)["duration"] == round(frame(before, 1)["duration"] * 1.5, 1)
    assert frame(after, 1)["duration_set"] is True
    assert f"frame 1 now holds for {frame(after, 1)['duration']:g} s" in output


@HOW
def test_an_insert_of_a_prop_and_back_to_a_close_up_keeps_the_prop(how, boards, tmp_path):
    _, after, output = corrected(how, SCENE, boards, tmp_path, "frame 1: insert of the cold cup", "frame 1: close-up")
    spec = frame(after, 1)
    assert spec["framing"] == "insert" and spec["subject"] == "the cold cup" and spec["characters"] == []
    assert spec["prompt"].startswith("Close up of the cold cup in a small kitchen")
    assert "insert of the cold cup" in output and spec["lint"] == []


@HOW
def test_the_investigations_notebook_insert_as_a_close_up_still_shows_the_notebook(how, boards, tmp_path):
    before, after, _ = corrected(how, INVESTIGATION, boards, tmp_path, "frame 3: close-up")
    assert frame(before, 3)["subject"] == "the notebook" and frame(before, 3)["characters"] == []
    assert frame(after, 3)["prompt"].startswith("Close up of the notebook in an abandoned house")


@HOW
def test_a_new_prompt_that_drops_the_cast_and_setting_is_asked_about_first(how, boards, tmp_path):
    before, after, output = corrected(how, SCENE, boards, tmp_path, "frame 1: a man on the roof")
    assert 'question: "a man on the roof" as the whole prompt of frame 1 would drop Mara and a small kitchen' in output
    assert frame(after, 1)["prompt"] == frame(before, 1)["prompt"]
    _, after, _ = corrected(how, SCENE, boards, tmp_path / "again", "frame 1: prompt: a man on the roof")
    assert frame(after, 1)["prompt"].endswith("a man on the roof") and frame(after, 1)["characters"] == []


@HOW
@pytest.mark.parametrize(("said", "reply"), [("frame 1: extreme close-up", "frame 1 is now an extreme close-up"),
                                             ("frame 1: american", "frame 1 is now an American shot")])
def test_replies_use_the_right_article(how, said, reply, boards, tmp_path):
    _, _, output = corrected(how, SCENE, boards, tmp_path, said)
    assert reply in output and " a extreme" not in output and " a american" not in output.lower()


@HOW
def test_a_reply_shows_the_changed_frames_lint_findings(how, boards, tmp_path):
    _, after, output = corrected(how, SCENE, boards, tmp_path, "frame 1: prompt: Mara smiles at him")
    assert 'frame 1 has a new prompt; lint: frame 1, rule 2: pronoun "him" instead of a character name' in output
    assert any(v["rule"] == 2 for v in frame(after, 1)["lint"])
    _, _, clean = corrected(how, SCENE, boards, tmp_path / "clean", "frame 1: tighter")
    assert "lint:" not in clean


@HOW
def test_an_insert_widens_one_step_and_keeps_its_object(how, boards, tmp_path):
    _, after, output = corrected(how, INVESTIGATION, boards, tmp_path, "frame 3: wider")
    spec = frame(after, 3)
    assert spec["shot_type"] == "extreme_close_up" and spec["characters"] == []
    assert spec["prompt"].startswith("Extreme close up of the notebook in an abandoned house")
    assert "frame 3 is now an extreme close-up, one step wider than a detail shot" in output


@HOW
def test_the_edges_of_the_sizes_say_so(how, boards, tmp_path):
    _, after, output = corrected(how, INVESTIGATION, boards, tmp_path, "frame 0: wider")
    assert "frame 0 is an extreme long shot, the widest size there is; it cannot go wider" in output
    assert frame(after, 0)["shot_type"] == "extreme_long"


@HOW
@pytest.mark.parametrize(("said", "error"), [
    ("frame 1: POV of Bob", "frame 1: 'Bob' is not in the cast; expected one of: Mara, Tomas"),
    ("frame 1: Tomas from behind", "frame 1: Tomas is not in the frame, only Mara"),
    ("frame 3: reaction shot", 'frame 3: say whose reaction it is, e.g. "frame 3: reaction of Mara"'),
])
def test_camera_talk_that_cannot_apply_says_why_and_changes_nothing(how, said, error, boards, tmp_path):
    before, after, output = corrected(how, SCENE, boards, tmp_path, said)
    assert f"error: {error}" in output
    assert after["frames"] == before["frames"]
