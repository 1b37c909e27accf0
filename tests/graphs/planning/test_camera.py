"""Shot grammar beyond the nine sizes: the planner frames a dialogue with a master two-shot, over-the-shoulder
pairs and a reaction, follows a chase with a moving camera, inserts the object an investigation turns on, and
every choice reaches the prompt and, in a crew's words, the sheet's caption."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.scenes.scene_file import load_scene
from graphs.frames.document import caption
from graphs.planning.planner import RulesPlanner
from graphs.state import Frame, FrameSpec
from prompts.camera import ANGLES, FRAMINGS, MOVEMENTS, camera_phrase, camera_words
from prompts.lint import lint_plan

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def plan(name: str, frames: int | None = None) -> list[FrameSpec]:
    scene = load_scene(EXAMPLES / f"{name}.toml", {"frames": frames} if frames else {})
    specs = RulesPlanner().plan(scene)
    assert lint_plan(specs, scene.characters) == []
    return specs


def test_the_dialogue_has_a_two_shot_an_over_the_shoulder_pair_and_a_reaction():
    specs = plan("dialogue")
    framings = [spec.framing for spec in specs]
    assert "two_shot" in framings and "reaction" in framings
    pairs = [(a, b) for a, b in zip(specs, specs[1:])
             if a.framing == b.framing == "over_the_shoulder" and a.toward != b.toward]
    assert pairs, framings
    first, second = pairs[0]
    assert {c.name for c in first.characters} == {c.name for c in second.characters} == {first.toward, second.toward}
    assert "Over-the-shoulder shot from behind tomasreyes man" in next(s.prompt for s in (first, second)
                                                                       if s.toward == "tomasreyes")
    reaction = specs[framings.index("reaction")]
    assert [c.name for c in reaction.characters] == [reaction.toward]
    assert "Reaction shot." in reaction.prompt and "listens and reacts" in reaction.prompt


def test_the_chase_moves_with_its_runners():
    specs = plan("chase")
    moving = [spec for spec in specs if spec.movement in ("tracking", "handheld")]
    assert moving and all(spec.characters for spec in moving)
    assert any("tracking shot" in spec.prompt or "handheld camera" in spec.prompt for spec in moving)


def test_the_investigation_inserts_what_it_turns_on():
    specs = plan("investigation")
    inserts = [spec for spec in specs if spec.framing == "insert"]
    assert inserts and {spec.subject for spec in inserts} & {"the notebook", "the torn letter", "the letter"}
    assert all(not spec.characters and spec.shot_type == "detail" for spec in inserts)
    shown = caption(3, Frame(id="f", spec=inserts[0]))
    assert shown == f"3 · Detail shot, insert of {inserts[0].subject}"


@pytest.mark.parametrize("frames", [1, 3, 12, 24])
@pytest.mark.parametrize("name", ["chase", "dialogue", "investigation"])
def test_every_choice_is_a_known_one_and_reaches_the_prompt(name, frames):
    for spec in plan(name, frames):
        assert spec.framing in FRAMINGS and spec.angle in ANGLES and spec.movement in MOVEMENTS
        for table, slug in ((ANGLES, spec.angle), (MOVEMENTS, spec.movement)):
            assert table[slug].phrase.lower() in spec.prompt.lower()
        if spec.framing in ("over_the_shoulder",):
            assert spec.toward in {c.name for c in spec.characters}


def test_the_defaults_add_nothing_so_older_boards_read_as_before():
    spec = FrameSpec(shot_type="medium", prompt="Medium shot of a room.", negative_prompt="", setting="a room",
                     lighting="noon", seed=1)
    assert (spec.framing, spec.angle, spec.movement, spec.toward) == ("single", "eye_level", "static", "")
    assert camera_phrase("single", "eye_level", "static") == "" and camera_words("single", "eye_level", "static") == ""
    assert caption(0, Frame(id="f", spec=spec)) == "0 · Medium shot"


def test_camera_words_for_people_and_phrases_for_the_model():
    assert camera_words("over_the_shoulder", "low", "push_in", "Tomas") == "over Tomas's shoulder, low angle, push in"
    assert camera_words("pov", "eye_level", "handheld", "Rin") == "POV of Rin, handheld"
    assert camera_words("insert", "overhead", "static", subject="the letter") == "insert of the letter, overhead"
    # whose eyes a POV looks through is never named in the prompt: naming them would draw them
    assert camera_phrase("pov", "dutch", "static", "rinhayashi woman") == "Point-of-view shot, dutch angle, tilted horizon."
    assert camera_phrase("two_shot", "eye_level", "tracking") == "Two-shot, both in frame, tracking shot, motion blur."
