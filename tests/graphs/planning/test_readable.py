"""What a person reads on a board is in the scene's words and names: the actions and captions of every example
scene, at 1, 3, 8, 12 and 24 frames, name people as the scene does, never by their training tokens, never twice
in one sentence, and leave no sentence of the description out. The prompts still pass every planning rule."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent.scenes.scene_file import load_scene
from graphs.frames.document import caption
from graphs.planning.beats import read_beats, split_sentences, tell
from graphs.planning.planner import RulesPlanner
from graphs.state import Character, Frame, FrameSpec
from prompts.lint import lint_plan

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
SCENES = sorted(path.stem for path in EXAMPLES.glob("*.toml"))
SIZES = (1, 3, 8, 12, 24)
KAITO = Character(name="kaitoyosuke", class_word="man", aliases=["Kaito"])
PRONOUNS = {"he", "him", "his", "himself", "she", "her", "hers", "herself", "they", "them", "their", "theirs"}
JIYEON = Character(name="jiyeonmun", class_word="woman", aliases=["Ji-yeon"])


def plan(name: str, frames: int) -> tuple[list[Character], list[FrameSpec]]:
    scene = load_scene(EXAMPLES / f"{name}.toml", {"frames": frames})
    return scene.characters, RulesPlanner().plan(scene)


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def test_the_examples_are_all_here():
    assert set(SCENES) >= {"chase", "dialogue", "investigation"}


@pytest.mark.parametrize("frames", SIZES)
@pytest.mark.parametrize("name", SCENES)
def test_the_prompts_keep_every_planning_rule(name, frames):
    cast, specs = plan(name, frames)
    assert len(specs) == frames
    assert lint_plan(specs, cast) == []


@pytest.mark.parametrize("frames", SIZES)
@pytest.mark.parametrize("name", SCENES)
def test_no_token_where_people_read(name, frames):
    cast, specs = plan(name, frames)
    tokens = {person.name for person in cast if person.shown != person.name}
    assert tokens, "every example gives its cast names to read"
    for index, spec in enumerate(specs):
        shown = caption(index, Frame(id="f", spec=spec), cast)
        for text in (spec.action, shown):
            assert not tokens & set(words(text)), text


@pytest.mark.parametrize("frames", SIZES)
@pytest.mark.parametrize("name", SCENES)
def test_no_name_twice_in_one_sentence(name, frames):
    cast, specs = plan(name, frames)
    for spec in specs:
        for sentence in split_sentences(spec.action):
            for person in cast:
                assert words(sentence).count(person.shown.lower().replace("-", " ").split()[-1]) <= 1, sentence
        for sentence in split_sentences(spec.prompt):
            for person in cast:
                assert words(sentence).count(person.name) <= 1, sentence


@pytest.mark.parametrize("frames", SIZES)
@pytest.mark.parametrize("name", SCENES)
def test_every_sentence_of_the_description_is_in_some_frame(name, frames):
    """A sentence is found when some action holds it word for word, names and pronouns aside (an action may
    name the person a pronoun meant)."""
    cast, specs = plan(name, frames)
    scene = load_scene(EXAMPLES / f"{name}.toml", {})
    names = {w for person in cast for n in [person.name, person.shown, *person.aliases] for w in words(n)}
    skip = names | PRONOUNS | {"and", "s"}  # "Mara and Tomas" for "they", "Mara's" for "her"
    told = [" ".join(w for w in words(s) if w not in skip) for spec in specs for s in split_sentences(spec.action)]
    for sentence in split_sentences(scene.description):
        bare = " ".join(w for w in words(sentence) if w not in skip)
        assert bare in told, sentence


def test_actions_read_like_the_scene():
    cast, specs = plan("investigation", 3)
    assert specs[0].action == ("Kaito pushes open the creaking door of an abandoned house at night. He sweeps his "
                               "flashlight across the dusty hall.")
    assert specs[1].action.startswith("Ji-yeon follows Kaito inside, clutching her notebook. She kneels")


def test_a_pronoun_is_named_only_where_it_would_be_unclear():
    beats = read_beats("Kaito opens the door. He looks around. Ji-yeon enters and hands him a map. She smiles.",
                       [KAITO, JIYEON])
    assert [b.said for b in beats] == ["Kaito opens the door.", "Kaito looks around.",
                                       "Ji-yeon enters and hands Kaito a map.", "Ji-yeon smiles."]
    assert tell(beats) == "Kaito opens the door. He looks around. Ji-yeon enters and hands him a map. She smiles."
    assert tell(beats[1:3]) == "Kaito looks around. Ji-yeon enters and hands him a map."


def test_they_names_both_and_a_possessive_of_the_named_stays():
    beats = read_beats("Kaito meets Ji-yeon at the gate. They read the letter, and his hands shake.",
                       [KAITO, JIYEON])
    assert beats[1].said == "Kaito and Ji-yeon read the letter, and his hands shake."


def test_display_name_wins_over_the_alias_and_a_bare_token_reads_as_it():
    boss = Character(name="oliverbale", class_word="man", aliases=["Bale"], display="Officer Bale")
    beats = read_beats("oliverbale runs. He stops.", [boss])
    assert tell(beats) == "Officer Bale runs. He stops."
    assert beats[0].text == "oliverbale man runs."
