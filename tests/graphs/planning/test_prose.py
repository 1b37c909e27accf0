"""The prompts' prose reads as the scene does: each character's sentence keeps their own words and possessives,
never takes someone else's clause, never falls back on filler the scene might contradict, and a person the scene
brings in by a role ("A courier") is drawn as the cast member it turns out to be."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.scenes.scene_file import load_scene
from graphs.planning.beats import read_beats
from graphs.planning.camera import fit_inserts
from graphs.planning.planner import RulesPlanner
from graphs.state import Character, Scene
from prompts.lint import lint_plan
from prompts.shot_types import BY_NUMBER

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
FILLER = ("waits, hands at the sides", "moves through the space", "stands still", "waits.")
KAITO = Character(name="kaitoyosuke", class_word="man", aliases=["Kaito"])
JIYEON = Character(name="jiyeonmun", class_word="woman", aliases=["Ji-yeon"])


def actions(name: str) -> list[dict[str, str]]:
    scene = load_scene(EXAMPLES / f"{name}.toml", {})
    return [beat.actions for beat in read_beats(scene.description, scene.characters)]


@pytest.mark.parametrize("frames", [1, 3, 8, 12, 24])
@pytest.mark.parametrize("name", ["chase", "dialogue", "investigation"])
def test_no_filler_in_any_examples_prompt(name, frames):
    scene = load_scene(EXAMPLES / f"{name}.toml", {"frames": frames})
    specs = RulesPlanner().plan(scene)
    assert lint_plan(specs, scene.characters) == []
    for spec in specs:
        assert not any(words in spec.prompt for words in FILLER), spec.prompt


def test_a_sentence_keeps_its_subjects_own_possessive():
    assert actions("investigation")[1] == {"kaitoyosuke": "sweeps his flashlight across the dusty hall"}
    assert actions("investigation")[2]["jiyeonmun"] == "follows inside, clutching her notebook"


def test_two_people_sharing_a_verb_each_do_it_and_keep_only_their_own_clauses():
    shared = actions("investigation")[5]
    assert shared == {"jiyeonmun": "reads it", "kaitoyosuke": "reads it, and his hands begin to shake"}


def test_someone_elses_clause_is_left_out():
    said = actions("dialogue")
    assert said[5]["tomasreyes"] == "reaches for the hand", "'but she pulls it away' is Mara's, not Tomas's"
    assert said[1]["tomasreyes"] == "leans in the doorway", "'asks where Mara was' names someone out of his sentence"
    assert said[3]["tomasreyes"] == "sits down", "no dangling 'across'"


def test_someone_only_mentioned_keeps_the_posture_the_scene_gave_them():
    said = actions("dialogue")
    assert said[3]["maravance"] == said[5]["maravance"] == "sits at the table in a small kitchen at dawn"


def test_a_role_the_scene_introduces_someone_by_becomes_that_person():
    assert actions("chase")[0] == {"rinhayashi": "sprints through a crowded night market with a stolen briefcase"}
    specs = RulesPlanner().plan(load_scene(EXAMPLES / "chase.toml", {}))
    assert [c.name for c in specs[0].characters] == ["rinhayashi"]
    assert specs[0].action.startswith("A courier sprints"), "people still read the scene's words"


def test_a_role_of_the_wrong_kind_or_an_object_introduces_nobody():
    cast = [KAITO, JIYEON]
    assert read_beats("A woman runs past. Kaito waits at the gate.", cast)[0].characters == []
    assert read_beats("A door slams. Kaito turns.", cast)[0].characters == []
    assert read_beats("A stranger knocks. Kaito opens the door.", cast)[0].characters == ["kaitoyosuke"]


def test_a_detail_on_a_moving_beat_keeps_the_movement_in_view_and_a_still_one_borrows_a_nearby_object():
    beats = read_beats("Kaito sprints across the bridge. Ji-yeon waits at the gate. Kaito drops the brass key.",
                       [KAITO, JIYEON])
    shots = [BY_NUMBER[9], BY_NUMBER[9], BY_NUMBER[9]]
    told = fit_inserts(shots, beats, [0, 1, 2])
    assert [s.slug for s in shots] == ["full", "detail", "detail"]
    assert [b.prop for b in told] == ["", "the brass key", "the brass key"]
    asked = Scene(title="run", description="Kaito sprints across the bridge.", shots=[9], characters=[KAITO])
    assert RulesPlanner().plan(asked)[0].shot_type == "detail", "a shot the person asked for is kept"


LENA = Character(name="lenaholm", class_word="woman", aliases=["Lena"])
MAX = Character(name="maxholm", class_word="man", aliases=["Max"])
TOMAS = Character(name="tomasvidal", class_word="old man", aliases=["Tomas"])
ELENA = Character(name="elenavidal", class_word="woman", aliases=["Elena"])


def test_a_kin_phrase_before_a_name_is_that_person_not_the_possessor():
    beats = read_beats("Lena stands at the counter. Her brother Max stumbles into the kitchen and turns on the radio.",
                       [LENA, MAX])
    assert beats[1].characters == ["maxholm"]
    assert beats[1].text == "maxholm man stumbles into the kitchen and turns on the radio."
    assert beats[1].said == "Her brother Max stumbles into the kitchen and turns on the radio."


def test_someone_elses_things_in_a_later_clause_stay_the_things():
    beats = read_beats("Max grins and steals a slice of toast from Lena's plate.", [LENA, MAX])
    assert beats[0].actions["maxholm"] == "grins and steals a slice of toast from the plate"


def test_a_role_introduces_the_first_unseen_person_it_fits():
    beats = read_beats("The old man lies in the hospital bed, breathing slowly. His daughter Elena sits beside him "
                       "and holds his hand.", [TOMAS, ELENA])
    assert beats[0].characters == ["tomasvidal"]
    assert beats[1].actions == {"elenavidal": "sits and holds the hand", "tomasvidal": "lies in the hospital bed"}
