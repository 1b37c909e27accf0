"""Tests for the rules planner: every plan keeps the planning rules of SPEC.md section 2."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest

from agent.scenes.scene_file import load_scene
from graphs.planning.beats import Resolver, read_beats
from graphs.planning.planner import RulesPlanner
from graphs.state import Character, FrameSpec, Scene
from prompts import vocabulary as vocab
from prompts.lint import lint_frame, lint_plan, stray_pronoun
from prompts.shot_types import BY_NUMBER, BY_SLUG, SHOT_TYPES, negative_prompt

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))
FRAME_COUNTS = [1, 3, 12, 24]

KAITO = Character(name="kaitoyosuke", class_word="man", aliases=["Kaito"])
JIYEON = Character(**{"name": "jiyeonmun", "class": "woman", "aliases": ["Ji-yeon"]})
PAIR = [KAITO, JIYEON]
TRIO = [Character(name="annaberg", class_word="woman", aliases=["Anna"]),
        Character(name="benholt", class_word="man", aliases=["Ben"]),
        Character(name="carlvoss", class_word="man", aliases=["Carl"])]
MARA = [Character(name="maravance", class_word="woman", aliases=["Mara"])]

PRONOUN_SCENES = [
    "Kaito opens the door. He looks around. Ji-yeon enters and hands him a map. She smiles.",
    "Ji-yeon grabs her bag and runs. Kaito chases her through the rain. They fight on the bridge at sunset. "
    "He falls to his knees, crying.",
    "Kaito whispers to Ji-yeon. She laughs at him. He frowns. Her eyes fill with tears. "
    "They embrace and say goodbye.",
    "The old man waits. Kaito sees a woman in the crowd. It is Ji-yeon. She waves at him with her hand.",
    "Kaito's hands tremble as he reads the letter. Ji-yeon watches him from the doorway, her arms crossed.",
    "Someone knocks. Kaito opens the door to a stranger. The stranger smiles at him. "
    "Ji-yeon hides behind the curtain, terrified.",
    "Detective Kaito kneels over the body in the alley. Ji-yeon shines her flashlight on his face.",
]

PLANNER = RulesPlanner()


def example_id(path: Path) -> str:
    return path.stem


def plan_of(scene: Scene) -> list[FrameSpec]:
    return PLANNER.plan(scene)


def all_example_scenes() -> list[tuple[str, Scene]]:
    scenes = []
    for path in EXAMPLES:
        scenes.append((path.stem, load_scene(path)))
        scenes.extend((f"{path.stem}-{n}", load_scene(path, {"frames": n})) for n in FRAME_COUNTS)
    return scenes


def custom_scenes() -> list[tuple[str, Scene]]:
    return [(f"pronouns{i}-{n}", Scene(title=f"pronouns {i}", description=text, frames=n, characters=PAIR))
            for i, text in enumerate(PRONOUN_SCENES) for n in (1, 5, 12)]


def assert_people_named_by_token_and_class(prompt: str, cast: list[Character]) -> None:
    """Every token is followed by its class word; no pronoun (but the possessive of a sentence's one named subject,
    which SPEC rule 2 allows), alias or generic person outside the pairs."""
    assert stray_pronoun(prompt, cast) is None, f"pronoun in: {prompt}"
    for person in cast:
        for match in re.finditer(rf"\b{re.escape(person.name)}\b", prompt, re.IGNORECASE):
            follows = prompt[match.end():]
            assert re.match(rf"\s+{re.escape(person.class_word)}\b", follows, re.IGNORECASE), \
                f"{person.name} without {person.class_word!r} in: {prompt}"
    masked = prompt
    for person in cast:
        masked = re.sub(rf"\b{re.escape(person.name)}\s+{re.escape(person.class_word)}\b", "CAST", masked,
                        flags=re.IGNORECASE)
    assert not vocab.PERSON_NOUNS.search(masked), f"generic person in: {prompt}"
    for person in cast:
        assert not re.search(rf"\b{re.escape(person.class_word)}\b", masked, re.IGNORECASE), \
            f"bare class word {person.class_word!r} in: {prompt}"
        for alias in person.aliases:
            assert not re.search(rf"\b{re.escape(alias)}\b", masked, re.IGNORECASE), \
                f"alias {alias!r} in: {prompt}"


# Every example, at every length, lints clean.

def test_examples_exist():
    assert len(EXAMPLES) >= 3
    assert {"chase", "dialogue", "investigation"} <= {p.stem for p in EXAMPLES}


@pytest.mark.parametrize("path", EXAMPLES, ids=example_id)
def test_example_as_written_lints_clean_with_the_right_length(path):
    scene = load_scene(path)
    plan = plan_of(scene)
    assert len(plan) == (len(scene.shots) if scene.shots else scene.frames)
    assert lint_plan(plan, scene.characters) == []


@pytest.mark.parametrize("frames", FRAME_COUNTS)
@pytest.mark.parametrize("path", EXAMPLES, ids=example_id)
def test_example_with_frame_count_lints_clean(path, frames):
    scene = load_scene(path, {"frames": frames})
    assert scene.shots is None and scene.frames == frames
    plan = plan_of(scene)
    assert len(plan) == frames
    found = lint_plan(plan, scene.characters)
    assert found == [], "\n".join(str(v) for v in found)


# Rule 2: no pronoun or generic person reaches a prompt.

@pytest.mark.parametrize("name, scene", all_example_scenes() + custom_scenes(),
                         ids=[n for n, _ in all_example_scenes() + custom_scenes()])
def test_people_are_named_by_token_and_class_word(name, scene):
    plan = plan_of(scene)
    for spec in plan:
        assert_people_named_by_token_and_class(spec.prompt, scene.characters)
        for placed in spec.characters:
            assert stray_pronoun(f"{placed.name} {placed.class_word} {placed.action}.", scene.characters) is None, \
                placed.action
    assert lint_plan(plan, scene.characters) == []


def test_every_frame_names_exactly_its_visible_characters():
    for _, scene in all_example_scenes():
        for spec in plan_of(scene):
            shown = {p.name for p in spec.characters}
            named = {c.name for c in scene.characters if re.search(rf"\b{c.name}\b", spec.prompt)}
            assert shown == named, spec.prompt


# Explicit shot lists are followed exactly.

def test_chase_example_follows_its_shot_list():
    scene = load_scene(ROOT / "examples" / "chase.toml")
    assert scene.shots
    plan = plan_of(scene)
    assert [spec.shot_type for spec in plan] == [BY_NUMBER[n].slug for n in scene.shots]


@pytest.mark.parametrize("cast", [PAIR, []], ids=["cast", "no-cast"])
def test_custom_shot_list_is_followed_exactly(cast):
    shots = [2, 3, 8, 3, 9]
    scene = Scene(title="Library talk", description="Kaito talks to Ji-yeon in the library. She answers him. "
                  "Ji-yeon cries. Kaito shouts at her, angry.", shots=shots, frames=12, characters=cast)
    plan = plan_of(scene)
    assert [spec.shot_type for spec in plan] == ["close_up", "medium_close_up", "extreme_long",
                                                 "medium_close_up", "detail"]
    for spec in plan:
        phrase = BY_SLUG[spec.shot_type].phrase
        assert spec.prompt.startswith(phrase + " of "), spec.prompt
        assert spec.negative_prompt == negative_prompt(spec.shot_type)
    assert lint_plan(plan, cast) == []


# Pronoun resolution.

def test_pronouns_resolve_to_the_right_character():
    beats = read_beats("Kaito opens the door. He looks around. Ji-yeon enters and hands him a map. She smiles.",
                       PAIR)
    assert [b.characters for b in beats] == [["kaitoyosuke"], ["kaitoyosuke"], ["jiyeonmun", "kaitoyosuke"],
                                             ["jiyeonmun"]]
    assert beats[0].text == "kaitoyosuke man opens the door."
    assert beats[1].text == "kaitoyosuke man looks around."
    assert beats[2].text == "jiyeonmun woman enters and hands kaitoyosuke man a map."
    assert beats[3].text == "jiyeonmun woman smiles."
    assert beats[3].emotional and not beats[1].emotional
    for beat in beats:
        assert not vocab.PRONOUNS.search(beat.text)


def test_pronoun_resolution_without_alias_for_second_character():
    cast = [KAITO, Character(name="jiyeonmun", class_word="woman")]
    beats = read_beats("Kaito opens the door. He looks around. Ji-yeon enters and hands him a map. She smiles.",
                       cast)
    assert [b.characters for b in beats] == [["kaitoyosuke"], ["kaitoyosuke"], ["jiyeonmun", "kaitoyosuke"],
                                             ["jiyeonmun"]]


@pytest.mark.parametrize("first", ["Kaito and Ji-yeon meet at the gate.", "Kaito meets Ji-yeon at the gate."])
def test_they_after_a_sentence_naming_both_resolves_to_both(first):
    beats = read_beats(f"{first} They walk away together.", PAIR)
    assert set(beats[1].characters) == {"kaitoyosuke", "jiyeonmun"}
    assert "kaitoyosuke man" in beats[1].text and "jiyeonmun woman" in beats[1].text
    assert not vocab.PRONOUNS.search(beats[1].text)


def test_possessive_pronoun_becomes_possessive_pair():
    beats = read_beats("Ji-yeon opens the door. Kaito takes her hand.", PAIR)
    assert beats[1].text == "kaitoyosuke man takes jiyeonmun woman's hand."


def test_resolver_tracks_recency():
    resolver = Resolver(PAIR)
    assert resolver.match_name("Kaito") is KAITO
    assert resolver.match_name("Ji-yeon's") is JIYEON
    assert resolver.match_name("door") is None
    resolver.seen([KAITO])
    assert resolver.resolve_pronoun("he") == [KAITO]
    assert resolver.resolve_pronoun("she") == [JIYEON]


# Positions: left / right for two, stable per character; centre for one.

def sides_by_character(plan: list[FrameSpec]) -> dict[str, set[str]]:
    sides: dict[str, set[str]] = defaultdict(set)
    for spec in plan:
        if len(spec.characters) > 1:
            for placed in spec.characters:
                sides[placed.name].add(placed.position)
    return sides


def check_positions(plan: list[FrameSpec]) -> None:
    for spec in plan:
        positions = [p.position for p in spec.characters]
        if len(positions) == 1:
            assert positions == ["centre"], spec.prompt
        elif len(positions) == 2:
            assert sorted(positions) == ["left", "right"], spec.prompt
        elif len(positions) == 3:
            assert sorted(positions) == ["centre", "left", "right"], spec.prompt
        for placed in spec.characters:
            where = {"left": "on the left", "right": "on the right", "centre": "in the centre"}[placed.position]
            if len(positions) > 1:
                assert re.search(rf"{placed.name} {placed.class_word}, {where}[,.]", spec.prompt), spec.prompt


@pytest.mark.parametrize("frames", [8, 12, 24])
@pytest.mark.parametrize("path", EXAMPLES, ids=example_id)
def test_positions_are_stable_in_examples(path, frames):
    plan = plan_of(load_scene(path, {"frames": frames}))
    check_positions(plan)
    sides = sides_by_character(plan)
    for name, seen in sides.items():
        assert len(seen) == 1, f"{name} appears on {sorted(seen)}"
    if len(sides) == 2:
        assert {next(iter(s)) for s in sides.values()} == {"left", "right"}


def test_examples_have_two_character_frames():
    """The stability test above is not vacuous."""
    for path in EXAMPLES:
        plans = [plan_of(load_scene(path, {"frames": n})) for n in (8, 12, 24)]
        assert any(len(spec.characters) == 2 for plan in plans for spec in plan), path.stem


def test_positions_hold_when_the_second_cast_member_is_named_first():
    scene = Scene(title="walk", description="Ji-yeon and Kaito walk through the park. They talk. "
                  "Ji-yeon points at the lake and Kaito nods. They sit on a bench together.", frames=12,
                  characters=PAIR)
    plan = plan_of(scene)
    check_positions(plan)
    sides = sides_by_character(plan)
    assert sides["kaitoyosuke"] and sides["jiyeonmun"]
    assert len(sides["kaitoyosuke"]) == 1 and len(sides["jiyeonmun"]) == 1
    assert sides["kaitoyosuke"] != sides["jiyeonmun"]


# Lengths.

@pytest.mark.parametrize("description, cast", [
    (PRONOUN_SCENES[0], PAIR),
    ("Rain falls on an empty harbour at dusk. Waves crash against the pier.", []),
] + [(None, path) for path in EXAMPLES], ids=["pair", "empty"] + [p.stem for p in EXAMPLES])
def test_one_frame_plan_is_a_wide_shot(description, cast):
    scene = (load_scene(cast, {"frames": 1}) if description is None else
             Scene(title="one", description=description, frames=1, characters=cast))
    plan = plan_of(scene)
    assert len(plan) == 1
    assert BY_SLUG[plan[0].shot_type].rank >= 6
    assert lint_plan(plan, scene.characters) == []


def test_twenty_four_frames_work():
    scene = Scene(title="long", description=PRONOUN_SCENES[1], frames=24, characters=PAIR)
    plan = plan_of(scene)
    assert len(plan) == 24
    assert lint_plan(plan, PAIR) == []
    assert len({spec.shot_type for spec in plan}) >= 5


def test_default_frame_count_without_frames_or_shots():
    plan = plan_of(Scene(title="default", description=PRONOUN_SCENES[0], characters=PAIR))
    assert len(plan) == 8
    assert lint_plan(plan, PAIR) == []


# A scene with no characters.

@pytest.mark.parametrize("description", [
    "Rain falls on an empty harbour at dusk. Waves crash against the pier. A gull circles.",
    "A woman walks her dog through the park at dusk. She stops by the lake and drops her letter. "
    "Two men argue nearby, angry.",
    "He runs down the street of the old man's village. She watches the children from her window, smiling.",
])
@pytest.mark.parametrize("frames", [1, 6, 12])
def test_scene_without_characters(description, frames):
    scene = Scene(title="empty", description=description, frames=frames)
    plan = plan_of(scene)
    assert len(plan) == frames
    assert all(spec.characters == [] for spec in plan)
    assert lint_plan(plan, []) == []
    for spec in plan:
        assert not vocab.PERSON_NOUNS.search(spec.prompt), spec.prompt
        assert not vocab.PRONOUNS.search(spec.prompt), spec.prompt


# Determinism and seeds.

@pytest.mark.parametrize("path", EXAMPLES, ids=example_id)
def test_same_scene_gives_identical_plans(path):
    first = RulesPlanner().plan(load_scene(path))
    second = RulesPlanner().plan(load_scene(path))
    assert [s.model_dump() for s in first] == [s.model_dump() for s in second]


@pytest.mark.parametrize("frames", [8, 24])
@pytest.mark.parametrize("path", EXAMPLES, ids=example_id)
def test_every_frame_has_its_own_int_seed(path, frames):
    plan = plan_of(load_scene(path, {"frames": frames}))
    seeds = [spec.seed for spec in plan]
    assert all(type(seed) is int and seed >= 0 for seed in seeds)
    assert len(set(seeds)) == len(seeds)


def test_seeds_depend_on_the_scene():
    one = plan_of(Scene(title="a", description=PRONOUN_SCENES[0], frames=4, characters=PAIR))
    two = plan_of(Scene(title="b", description=PRONOUN_SCENES[0], frames=4, characters=PAIR))
    assert [s.seed for s in one] != [s.seed for s in two]


# Setting and light (rule 9).

@pytest.mark.parametrize("name, scene", all_example_scenes(), ids=[n for n, _ in all_example_scenes()])
def test_setting_and_lighting_are_the_same_in_every_frame(name, scene):
    plan = plan_of(scene)
    assert len({spec.setting for spec in plan}) == 1
    assert len({spec.lighting for spec in plan}) == 1
    setting, lighting = plan[0].setting, plan[0].lighting
    assert setting.strip() and lighting.strip()
    for spec in plan:
        assert setting.lower() in spec.prompt.lower()
        assert lighting.lower() in spec.prompt.lower()


def test_investigation_setting_is_the_house_at_night():
    plan = plan_of(load_scene(ROOT / "examples" / "investigation.toml"))
    assert "house" in plan[0].setting
    assert "night" in plan[0].lighting


def test_explicit_setting_and_lighting_win():
    scene = Scene(title="override", description="Kaito talks to Ji-yeon in the kitchen at night. "
                  "She answers him by candlelight.", frames=6, setting="a dusty library",
                  lighting="soft daylight", characters=PAIR)
    plan = plan_of(scene)
    assert {spec.setting for spec in plan} == {"a dusty library"}
    assert {spec.lighting for spec in plan} == {"soft daylight"}
    for spec in plan:
        assert "a dusty library" in spec.prompt and "soft daylight" in spec.prompt
        assert "kitchen" not in spec.setting and "candle" not in spec.lighting
    assert lint_plan(plan, PAIR) == []


def test_explicit_setting_with_preposition_is_trimmed():
    scene = Scene(title="override", description="Kaito waits.", frames=2, setting="in a dusty library",
                  characters=PAIR)
    plan = plan_of(scene)
    assert {spec.setting for spec in plan} == {"a dusty library"}
    assert lint_plan(plan, PAIR) == []


# Emotional beats.

WEEP = "Mara stands in the kitchen. She weeps."


def test_emotional_beat_is_tightened_to_a_close_shot():
    plan = plan_of(Scene(title="weep", description=WEEP, frames=3, characters=MARA))
    assert "weeps" in plan[2].action
    assert plan[2].shot_type == "close_up"
    assert "weeps" in plan[2].prompt
    assert lint_plan(plan, MARA) == []


@pytest.mark.parametrize("frames", [2, 3, 4, 6, 8, 12])
def test_emotional_beat_never_gets_a_medium_to_long_shot(frames):
    plan = plan_of(Scene(title="weep", description=WEEP, frames=frames, characters=MARA))
    for index, spec in enumerate(plan):
        if index > 0 and "weeps" in spec.action and spec.characters:
            assert not 4 <= BY_SLUG[spec.shot_type].rank <= 7, (index, spec.shot_type)
    assert lint_plan(plan, MARA) == []


def test_emotional_beat_with_explicit_shots_is_not_changed():
    plan = plan_of(Scene(title="weep", description=WEEP, shots=[8, 6, 4], characters=MARA))
    assert [spec.shot_type for spec in plan] == ["extreme_long", "full", "medium"]
    assert "weeps" in plan[2].action
    assert "weep" not in plan[2].prompt
    assert lint_plan(plan, MARA) == []


# restage

@pytest.mark.parametrize("path", EXAMPLES, ids=example_id)
def test_restage_planner_spec_to_every_shot_lints_clean(path):
    scene = load_scene(path)
    for index, spec in enumerate(plan_of(scene)):
        for shot in SHOT_TYPES:
            new = RulesPlanner.restage(scene, spec, shot)
            assert new.shot_type == shot.slug
            assert new.prompt.startswith(shot.phrase + " of "), new.prompt
            assert new.negative_prompt == negative_prompt(shot.slug)
            assert new.seed == spec.seed and new.characters == spec.characters
            assert new.setting == spec.setting and new.lighting == spec.lighting
            assert new.written_by == "planner"
            found = lint_frame(index, new, scene.characters)
            assert found == [], f"{spec.shot_type} -> {shot.slug}: {[str(v) for v in found]}"


def test_restage_changes_the_framing_text():
    scene = load_scene(ROOT / "examples" / "investigation.toml")
    spec = next(s for s in plan_of(scene) if s.shot_type == "medium")
    wide = RulesPlanner().restage(scene, spec, BY_SLUG["long"])
    assert wide.shot_type == "long" and spec.shot_type == "medium"
    assert wide.prompt != spec.prompt
    assert "Wide view of" in wide.prompt and "Wide view of" not in spec.prompt


@pytest.mark.parametrize("body", [
    "kaitoyosuke man, smiling, his boots in a puddle, in a dusty library, soft daylight.",
    "a lone lamp on the desk.",
])
@pytest.mark.parametrize("opener", ["Medium shot", "Close-up", "Extreme long shot", "Detail shot"])
def test_restage_person_spec_only_swaps_the_opening_phrase(opener, body):
    scene = load_scene(ROOT / "examples" / "investigation.toml")
    planned = plan_of(scene)[2]
    spec = planned.model_copy(update={"written_by": "person", "prompt": f"{opener} of {body}"})
    for shot in SHOT_TYPES:
        new = RulesPlanner.restage(scene, spec, shot)
        assert new.prompt == f"{shot.phrase} of {body}"
        assert new.shot_type == shot.slug
        assert new.written_by == "person"
        assert new.negative_prompt == negative_prompt(shot.slug)
        assert new.seed == spec.seed and new.characters == spec.characters


# Coverage: everyone appears when there are enough frames.

TRIO_SCENES = [
    "Anna, Ben and Carl sit around a fire in the forest. Anna tells a story. Ben laughs. Carl stares into the "
    "flames.",
    "Anna walks into the garden. Anna picks a rose. Anna sits on a bench. Ben and Carl arrive at the gate.",
    "Anna reads a book in the library. She turns a page. She looks up. Ben enters. Carl follows him.",
    "Anna and Ben search the attic. Anna and Ben find a clue. Anna and Ben examine the evidence. "
    "Carl waits downstairs.",
]


@pytest.mark.parametrize("frames", [3, 4, 5, 8, 12])
@pytest.mark.parametrize("description", TRIO_SCENES, ids=["fire", "garden", "library", "attic"])
def test_every_cast_member_appears_when_frames_suffice(description, frames):
    scene = Scene(title="trio", description=description, frames=frames, characters=TRIO)
    plan = plan_of(scene)
    shown = {placed.name for spec in plan for placed in spec.characters}
    missing = [c.name for c in TRIO if c.name not in shown]
    assert missing == [], f"never shown: {missing}; frames: " + str(
        [(s.shot_type, [p.name for p in s.characters]) for s in plan])
    assert lint_plan(plan, TRIO) == []
    check_positions(plan)
