"""Tests for the prompt linter: one passing and one failing prompt per rule of SPEC.md section 2."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from graphs.state import Character, FrameSpec, Placement
from prompts.lint import Violation, lint_frame, lint_plan

SETTING = "a dusty library"
LIGHT = "soft daylight"
PLACE = f"in {SETTING}, {LIGHT}"

KAITO = Character(name="kaitoyosuke", class_word="man", aliases=["Kaito"])
JIYEON = Character(**{"name": "jiyeonmun", "class": "woman", "aliases": ["Ji-yeon"]})
CAST = [KAITO, JIYEON]


def frame(shot: str, prompt: str, people: list[tuple[Character, str]] = (), setting: str = SETTING,
          lighting: str = LIGHT) -> FrameSpec:
    """A frame spec showing `people` as (character, position) pairs."""
    return FrameSpec(
        shot_type=shot, prompt=prompt, negative_prompt="", setting=setting, lighting=lighting, seed=1,
        characters=[Placement(name=c.name, class_word=c.class_word, position=pos) for c, pos in people])


def rules(spec, cast=CAST) -> set[int]:
    return {v.rule for v in lint_frame(0, spec, cast)}


def kaito(shot: str, prompt: str, **kw) -> FrameSpec:
    return frame(shot, prompt, [(KAITO, "centre")], **kw)


# A clean prompt for every shot type, so each failing case below changes one thing only.
CLEAN = {
    "extreme_close_up": f"Extreme close up of kaitoyosuke man {PLACE}. The face fills the frame.",
    "close_up": f"Close up of kaitoyosuke man {PLACE}. Head and shoulders in frame.",
    "medium_close_up": f"Medium close up of kaitoyosuke man {PLACE}. Shoulders in view, reading a book.",
    "medium": f"Medium shot of kaitoyosuke man {PLACE}. Hands resting on a desk.",
    "american": f"American shot of kaitoyosuke man {PLACE}. Leaning on a shelf.",
    "full": f"Full body shot of kaitoyosuke man {PLACE}. Standing between the shelves.",
    "long": f"Long shot of kaitoyosuke man {PLACE}. Wide view of the shelves.",
    "extreme_long": f"Extreme long shot of kaitoyosuke man {PLACE}. A tiny figure among endless shelves.",
    "detail": f"Detail shot of kaitoyosuke man's hands {PLACE}.",
}


@pytest.mark.parametrize("shot", sorted(CLEAN))
def test_clean_prompt_for_every_shot_type_has_no_violation(shot):
    assert lint_frame(0, kaito(shot, CLEAN[shot]), CAST) == []


# Rule 1: the prompt opens with its shot type's phrase and "of".

@pytest.mark.parametrize("shot, prompt", [
    ("close_up", f"Medium shot of kaitoyosuke man {PLACE}. Head and shoulders in frame."),
    ("extreme_long", f"Long shot of kaitoyosuke man {PLACE}. A tiny figure among endless shelves."),
    ("long", f"Extreme long shot of kaitoyosuke man {PLACE}. Wide view of the shelves."),
    ("close_up", f"kaitoyosuke man {PLACE}, close up. Head and shoulders in frame."),
    ("close_up", f"Close up kaitoyosuke man {PLACE}. Head and shoulders in frame."),
    ("extreme_close_up", f"Close up of kaitoyosuke man {PLACE}. The face fills the frame."),
    ("medium_close_up", f"Medium shot of kaitoyosuke man {PLACE}. Shoulders in view."),
])
def test_rule1_wrong_or_missing_opener_fails(shot, prompt):
    assert 1 in rules(kaito(shot, prompt))


@pytest.mark.parametrize("shot, prompt", [
    ("extreme_long", f"Extreme long shot of kaitoyosuke man {PLACE}. A tiny figure among endless shelves."),
    ("close_up", f"Close-up of kaitoyosuke man {PLACE}. Head and shoulders in frame."),
    ("close_up", f"close up of kaitoyosuke man {PLACE}. Head and shoulders in frame."),
    ("extreme_close_up", f"Extreme close-up of kaitoyosuke man {PLACE}. The face fills the frame."),
    ("long", f"Long shot of kaitoyosuke man {PLACE}. Wide view of the shelves."),
])
def test_rule1_right_opener_passes(shot, prompt):
    assert 1 not in rules(kaito(shot, prompt))


def test_rule1_unknown_shot_type_is_reported_not_raised():
    found = lint_frame(3, kaito("wide", CLEAN["long"]), CAST)
    assert [(v.frame, v.rule) for v in found] == [(3, 1)]
    assert "wide" in found[0].reason


# Rule 2: characters named by token + class word; no pronouns, no generic people.

@pytest.mark.parametrize("prompt", [
    f"Close up of kaitoyosuke man {PLACE}. He looks up from the page.",
    f"Close up of kaitoyosuke man {PLACE}. Shoulders of kaitoyosuke man, her coat wet.",
    f"Close up of kaitoyosuke man {PLACE}. His coat is wet.",
    f"Close up of kaitoyosuke man {PLACE}. A woman watches from the shelves.",
    f"Close up of kaitoyosuke man {PLACE}. Someone waits behind the door.",
    f"Close up of kaitoyosuke {PLACE}. Head and shoulders in frame.",
    f"Close up of kaitoyosuke woman {PLACE}. Head and shoulders in frame.",
    f"Close up of the man {PLACE}. Head and shoulders in frame.",
])
def test_rule2_pronoun_generic_person_or_bare_token_fails(prompt):
    assert 2 in rules(kaito("close_up", prompt))


@pytest.mark.parametrize("prompt", [
    f"Close up of kaitoyosuke man {PLACE}. kaitoyosuke man sweeps his flashlight across the hall.",
    f"Close up of kaitoyosuke man {PLACE}. Shoulders of kaitoyosuke man, his coat wet.",
])
def test_rule2_lets_a_sentence_keep_its_subjects_own_possessive(prompt):
    assert 2 not in rules(kaito("close_up", prompt))


def test_rule2_reasons_name_the_problem():
    reasons = [v.reason for v in lint_frame(0, kaito("close_up", f"Close up of kaitoyosuke {PLACE}. He waits."),
                                            CAST) if v.rule == 2]
    assert any("kaitoyosuke" in r and "man" in r for r in reasons)
    assert any('"He"' in r for r in reasons)


@pytest.mark.parametrize("prompt", [
    f"Close up of kaitoyosuke man {PLACE}. Head and shoulders in frame.",
    f"Close up of kaitoyosuke man {PLACE}. kaitoyosuke man's coat is wet. The theme of the hero.",
    f"Close up of KAITOYOSUKE MAN {PLACE}. Head and shoulders in frame.",
])
def test_rule2_token_and_class_word_passes(prompt):
    assert 2 not in rules(kaito("close_up", prompt))


def test_rule2_generic_person_fails_without_cast():
    spec = frame("long", f"Long shot of {SETTING}, {LIGHT}. A woman crosses the hall.")
    assert 2 in rules(spec, cast=[])
    assert 2 not in rules(frame("long", f"Long shot of {SETTING}, {LIGHT}. Dust in the air."), cast=[])


# Rule 3: exactly the characters visible in the frame are mentioned.

def test_rule3_cast_member_not_in_frame_mentioned_fails():
    spec = kaito("close_up", f"Close up of kaitoyosuke man {PLACE}. jiyeonmun woman waits outside.")
    found = [v for v in lint_frame(0, spec, CAST) if v.rule == 3]
    assert found and "jiyeonmun" in found[0].reason


def test_rule3_visible_member_missing_fails():
    spec = frame("long", f"Long shot of kaitoyosuke man {PLACE}. Wide view of the shelves.",
                 [(KAITO, "left"), (JIYEON, "right")])
    found = [v for v in lint_frame(0, spec, CAST) if v.rule == 3]
    assert found and "jiyeonmun" in found[0].reason


def test_rule3_only_visible_members_passes():
    assert 3 not in rules(kaito("close_up", CLEAN["close_up"]))
    both = frame("long", f"Long shot of kaitoyosuke man and jiyeonmun woman {PLACE}. "
                         "kaitoyosuke man, on the left, reads. jiyeonmun woman, on the right, waits.",
                 [(KAITO, "left"), (JIYEON, "right")])
    assert lint_frame(0, both, CAST) == []


def test_rule3_frame_without_characters_mentioning_one_fails():
    empty = frame("extreme_long", f"Extreme long shot of {SETTING}, {LIGHT}. Endless shelves.")
    assert 3 not in rules(empty)
    named = frame("extreme_long", f"Extreme long shot of kaitoyosuke man {PLACE}. Endless shelves.")
    assert 3 in rules(named)


# Rule 4: medium and closer show no legs, feet or lower body.

@pytest.mark.parametrize("shot", ["extreme_close_up", "close_up", "medium_close_up", "medium"])
def test_rule4_legs_in_medium_or_closer_fails(shot):
    spec = kaito(shot, CLEAN[shot] + " Shoulders tense, legs crossed.")
    assert 4 in rules(spec)


@pytest.mark.parametrize("words", ["feet", "boots", "knees", "full body"])
def test_rule4_lower_body_words_in_medium_fail(words):
    spec = kaito("medium", CLEAN["medium"] + f" Mud on the {words}.")
    assert 4 in rules(spec)


@pytest.mark.parametrize("shot", ["american", "full", "long", "extreme_long", "detail"])
def test_rule4_legs_in_full_shot_or_wider_passes(shot):
    spec = kaito(shot, CLEAN[shot] + " Legs apart on the floor.")
    assert 4 not in rules(spec)


def test_rule4_medium_without_lower_body_passes():
    assert 4 not in rules(kaito("medium", CLEAN["medium"]))


# Rule 5: medium close-up and medium mention shoulders or hands.

@pytest.mark.parametrize("shot, prompt", [
    ("medium_close_up", f"Medium close up of kaitoyosuke man {PLACE}. Reading a book."),
    ("medium", f"Medium shot of kaitoyosuke man {PLACE}. Reading a book."),
])
def test_rule5_without_shoulders_or_hands_fails(shot, prompt):
    assert 5 in rules(kaito(shot, prompt))


@pytest.mark.parametrize("shot, prompt", [
    ("medium_close_up", f"Medium close up of kaitoyosuke man {PLACE}. Shoulders hunched over a book."),
    ("medium_close_up", f"Medium close up of kaitoyosuke man {PLACE}. A book in both hands."),
    ("medium", f"Medium shot of kaitoyosuke man {PLACE}. Hands on the desk."),
    ("close_up", f"Close up of kaitoyosuke man {PLACE}. Reading a book."),
    ("full", f"Full body shot of kaitoyosuke man {PLACE}. Reading a book."),
])
def test_rule5_with_shoulders_or_hands_or_other_shot_passes(shot, prompt):
    assert 5 not in rules(kaito(shot, prompt))


def test_rule5_does_not_apply_to_a_frame_without_characters():
    spec = frame("medium", f"Medium shot of a pile of books {PLACE}.")
    assert 5 not in rules(spec)


# Rule 6: long and extreme long have no facial expression or pose detail.

@pytest.mark.parametrize("shot, detail", [
    ("long", "smiling at the shelves"),
    ("extreme_long", "smiling at the shelves"),
    ("long", "eyes on the window"),
    ("long", "posing by the window"),
    ("extreme_long", "fingers on the spines"),
])
def test_rule6_face_or_pose_in_long_shots_fails(shot, detail):
    spec = kaito(shot, CLEAN[shot] + f" kaitoyosuke man walks, {detail}.")
    assert 6 in rules(spec)


@pytest.mark.parametrize("shot", ["extreme_close_up", "close_up", "medium_close_up", "full"])
def test_rule6_smiling_in_closer_shots_passes(shot):
    spec = kaito(shot, CLEAN[shot] + " kaitoyosuke man, smiling at the shelves.")
    assert 6 not in rules(spec)


def test_rule6_smiling_in_close_up_is_fully_clean():
    spec = kaito("close_up", CLEAN["close_up"] + " kaitoyosuke man, smiling at the shelves.")
    assert lint_frame(0, spec, CAST) == []


# Rule 7: medium to long shots carry no emotional cue.

@pytest.mark.parametrize("shot, word", [
    ("medium", "angry"), ("american", "angry"), ("full", "weeping"), ("long", "furious"),
    ("extreme_long", "sad"), ("medium", "terrified"),
])
def test_rule7_emotion_in_medium_to_long_fails(shot, word):
    spec = kaito(shot, CLEAN[shot] + f" kaitoyosuke man is {word}.")
    found = [v for v in lint_frame(0, spec, CAST) if v.rule == 7]
    assert found and word in found[0].reason


@pytest.mark.parametrize("shot", ["extreme_close_up", "close_up", "medium_close_up", "detail"])
def test_rule7_emotion_in_closer_shots_passes(shot):
    spec = kaito(shot, CLEAN[shot] + " kaitoyosuke man is angry.")
    assert 7 not in rules(spec)


def test_rule7_angry_medium_vs_close_up():
    medium = kaito("medium", f"Medium shot of kaitoyosuke man {PLACE}. Hands on the desk, angry.")
    close = kaito("close_up", f"Close up of kaitoyosuke man {PLACE}. Head and shoulders, angry.")
    assert rules(medium) == {7}
    assert rules(close) == set()


# Rule 8: several characters each get their own sentence with their position.

def two(prompt: str, kaito_side: str = "left", jiyeon_side: str = "right", shot: str = "long") -> FrameSpec:
    return frame(shot, prompt, [(KAITO, kaito_side), (JIYEON, jiyeon_side)])


OPENER = f"Long shot of kaitoyosuke man and jiyeonmun woman {PLACE}."


def test_rule8_two_characters_in_one_sentence_without_positions_fails():
    spec = two(f"{OPENER} kaitoyosuke man hands jiyeonmun woman a book.")
    found = [v for v in lint_frame(0, spec, CAST) if v.rule == 8]
    assert {("kaitoyosuke" in v.reason, "jiyeonmun" in v.reason) for v in found} == {(True, False),
                                                                                      (False, True)}


def test_rule8_separate_sentences_without_positions_fails():
    spec = two(f"{OPENER} kaitoyosuke man reads a book. jiyeonmun woman waits by the door.")
    assert 8 in rules(spec)


def test_rule8_separate_sentences_with_positions_passes():
    spec = two(f"{OPENER} kaitoyosuke man, on the left, reads a book. "
               "jiyeonmun woman, on the right, waits by the door.")
    assert 8 not in rules(spec)
    assert lint_frame(0, spec, CAST) == []


def test_rule8_wrong_side_fails():
    spec = two(f"{OPENER} kaitoyosuke man, on the right, reads a book. "
               "jiyeonmun woman, on the left, waits by the door.")
    found = [v for v in lint_frame(0, spec, CAST) if v.rule == 8]
    assert len(found) == 2
    assert any("kaitoyosuke" in v.reason and "left" in v.reason for v in found)


def test_rule8_one_missing_position_fails_only_for_that_character():
    spec = two(f"{OPENER} kaitoyosuke man, on the left, reads a book. jiyeonmun woman waits by the door.")
    found = [v for v in lint_frame(0, spec, CAST) if v.rule == 8]
    assert len(found) == 1 and "jiyeonmun" in found[0].reason


def test_rule8_centre_accepts_center_and_middle():
    for word in ("in the centre", "in the center", "in the middle"):
        spec = two(f"{OPENER} kaitoyosuke man, on the left, reads. jiyeonmun woman, {word}, waits.",
                   jiyeon_side="centre")
        assert 8 not in rules(spec), word


def test_rule8_single_character_needs_no_position():
    assert 8 not in rules(kaito("close_up", CLEAN["close_up"]))


# Rule 9: setting and light named in every prompt, and consistent across the scene.

def test_rule9_missing_setting_fails():
    spec = kaito("close_up", f"Close up of kaitoyosuke man, {LIGHT}. Head and shoulders in frame.")
    found = [v for v in lint_frame(0, spec, CAST) if v.rule == 9]
    assert len(found) == 1 and SETTING in found[0].reason


def test_rule9_missing_lighting_fails():
    spec = kaito("close_up", f"Close up of kaitoyosuke man in {SETTING}. Head and shoulders in frame.")
    found = [v for v in lint_frame(0, spec, CAST) if v.rule == 9]
    assert len(found) == 1 and LIGHT in found[0].reason


def test_rule9_empty_setting_or_lighting_fails():
    assert 9 in rules(kaito("close_up", CLEAN["close_up"], setting=""))
    assert 9 in rules(kaito("close_up", CLEAN["close_up"], lighting="  "))


def test_rule9_setting_and_light_named_passes():
    assert 9 not in rules(kaito("close_up", CLEAN["close_up"]))
    # hyphens, case and spacing do not matter
    spec = kaito("close_up", "Close up of kaitoyosuke man in A Dusty  Library, soft-daylight. Head and shoulders.")
    assert 9 not in rules(spec)


def test_lint_plan_flags_the_frame_whose_lighting_differs():
    odd = f"Close up of kaitoyosuke man in {SETTING}, warm sunset light. Head and shoulders in frame."
    frames = [kaito("long", CLEAN["long"]), kaito("close_up", odd, lighting="warm sunset light"),
              kaito("full", CLEAN["full"]), kaito("medium", CLEAN["medium"])]
    assert lint_frame(1, frames[1], CAST) == []
    found = lint_plan(frames, CAST)
    assert [(v.frame, v.rule) for v in found] == [(1, 9)]
    assert "lighting" in found[0].reason and LIGHT in found[0].reason


def test_lint_plan_flags_the_frame_whose_setting_differs():
    odd = f"Close up of kaitoyosuke man in a cold cellar, {LIGHT}. Head and shoulders in frame."
    frames = [kaito("long", CLEAN["long"]), kaito("full", CLEAN["full"]),
              kaito("close_up", odd, setting="a cold cellar")]
    found = lint_plan(frames, CAST)
    assert [(v.frame, v.rule) for v in found] == [(2, 9)]
    assert "setting" in found[0].reason


def test_lint_plan_consistent_plan_is_clean():
    frames = [kaito(shot, CLEAN[shot]) for shot in sorted(CLEAN)]
    assert lint_plan(frames, CAST) == []
    assert lint_plan([], CAST) == []


def test_lint_plan_sorts_by_frame_then_rule_and_numbers_frames():
    bad = kaito("medium", f"Long shot of kaitoyosuke {PLACE}. Legs crossed, angry.")
    frames = [kaito("long", CLEAN["long"]), bad, kaito("full", CLEAN["full"]), bad]
    found = lint_plan(frames, CAST)
    assert {v.frame for v in found} == {1, 3}
    assert [(v.frame, v.rule) for v in found] == sorted((v.frame, v.rule) for v in found)
    assert {v.rule for v in found if v.frame == 1} == {1, 2, 4, 5, 7}


# The linter takes anything shaped like a frame spec.

@dataclass
class Who:
    name: str
    class_word: str
    position: str = "centre"


@dataclass
class Plain:
    shot_type: str
    prompt: str
    setting: str = SETTING
    lighting: str = LIGHT
    characters: list = field(default_factory=list)


def test_lint_accepts_plain_frame_like_objects():
    cast = [Who("kaitoyosuke", "man"), Who("jiyeonmun", "woman")]
    good = Plain("close_up", CLEAN["close_up"], characters=[Who("kaitoyosuke", "man")])
    bad = Plain("close_up", f"Close up of kaitoyosuke man {PLACE}. She watches.",
                characters=[Who("kaitoyosuke", "man")])
    assert lint_frame(0, good, cast) == []
    assert {v.rule for v in lint_frame(0, bad, cast)} == {2}
    assert [(v.frame, v.rule) for v in lint_plan([good, bad], cast)] == [(1, 2)]


# Violation

def test_violation_str_format():
    violation = Violation(frame=2, rule=7, reason='emotional cue "angry" pulls a medium shot closer')
    assert str(violation) == 'frame 2, rule 7: emotional cue "angry" pulls a medium shot closer'


def test_violation_from_lint_has_frame_index_and_round_trips():
    found = lint_frame(5, kaito("close_up", f"Close up of kaitoyosuke man {PLACE}. He waits."), CAST)
    assert found and all(v.frame == 5 for v in found)
    assert str(found[0]).startswith("frame 5, rule 2: ")
    assert Violation.model_validate(found[0].model_dump()) == found[0]
