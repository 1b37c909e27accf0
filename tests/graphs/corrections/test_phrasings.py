"""How people phrase corrections in chat: every command's common wordings read by the rules parser offline,
incomplete messages answered with a question, and no message, however odd, making the reader fail."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphs.commands import (AddFrame, Append, ChooseMask, Clarify, Command, Duplicate, Export, Hold, Inpaint,
                             MoveCharacter, MoveFrame, Pick, Refusal, Regenerate, Remove, Resize, Rewrite, SetCamera,
                             SetDuration, SetSetting, SetShot, SetStyle, Swap, Undo)
from graphs.corrections.rules import interpret_rules, parse_correction
from graphs.corrections.setting_words import check_setting
from graphs.errors import CorrectionError

PHRASINGS = [
    # set shot
    ("frame 3: close-up", [SetShot(frame=3, shot_type="close_up")]),
    ("3 -> close-up", [SetShot(frame=3, shot_type="close_up")]),
    ("make frame 3 a close up", [SetShot(frame=3, shot_type="close_up")]),
    ("frame 3 should be a long shot", [SetShot(frame=3, shot_type="long")]),
    ("change frame 2 to an extreme long shot", [SetShot(frame=2, shot_type="extreme_long")]),
    ("frame 1: a close up shot please", [SetShot(frame=1, shot_type="close_up")]),
    # camera talk: one size step, framings, angles, movement, holds
    ("frame 3: tighter", [Resize(frame=3, steps=-1)]),
    ("make frame 3 tighter", [Resize(frame=3, steps=-1)]),
    ("frame 3 closer", [Resize(frame=3, steps=-1)]),
    ("frame 1: wider", [Resize(frame=1, steps=1)]),
    ("frame 1: pull back", [Resize(frame=1, steps=1)]),
    ("tighter on 3", [Resize(frame=3, steps=-1)]),
    ("frame 6: much wider", [Resize(frame=6, steps=2)]),
    ("frame 6: two steps tighter", [Resize(frame=6, steps=-2)]),
    ("frame 3: two-shot", [SetCamera(frame=3, framing="two_shot")]),
    ("make frame 2 a two shot with Tomas", [SetCamera(frame=2, framing="two_shot", who="Tomas")]),
    ("frame 7: OTS on Tomas", [SetCamera(frame=7, framing="over_the_shoulder", who="Tomas")]),
    ("frame 7: over the shoulder on Tomas", [SetCamera(frame=7, framing="over_the_shoulder", who="Tomas")]),
    ("frame 2: over Mara's shoulder", [SetCamera(frame=2, framing="over_the_shoulder", shoulder="Mara")]),
    ("frame 2: POV of Mara", [SetCamera(frame=2, framing="pov", who="Mara")]),
    ("frame 2: Mara's point of view", [SetCamera(frame=2, framing="pov", who="Mara")]),
    ("frame 2: reaction shot of Mara", [SetCamera(frame=2, framing="reaction", who="Mara")]),
    ("frame 3: insert of the letter", [SetCamera(frame=3, framing="insert", subject="the letter")]),
    ("frame 3: low angle", [SetCamera(frame=3, angle="low")]),
    ("frame 3: high angle", [SetCamera(frame=3, angle="high")]),
    ("frame 0: bird's eye view", [SetCamera(frame=0, angle="overhead")]),
    ("frame 3: from behind", [SetCamera(frame=3, behind=True)]),
    ("frame 3: Kaito from behind", [SetCamera(frame=3, behind=True, who="Kaito")]),
    ("frame 3: push in", [SetCamera(frame=3, movement="push_in")]),
    ("push in on frame 4", [SetCamera(frame=4, movement="push_in")]),
    ("frame 3: handheld", [SetCamera(frame=3, movement="handheld")]),
    ("frame 3: panning shot", [SetCamera(frame=3, movement="pan")]),
    ("frame 3: tighter, low angle and push in", [Resize(frame=3, steps=-1),
                                                 SetCamera(frame=3, angle="low", movement="push_in")]),
    ("frame 3: hold longer", [Hold(frame=3, longer=True)]),
    ("frame 4: shorter", [Hold(frame=4, longer=False)]),
    ("frame 2: prompt: a dog on a roof", [Rewrite(frame=2, prompt="a dog on a roof", whole=True)]),
    # rewrite
    ("frame 2: kaitoyosuke man waits by the door", [Rewrite(frame=2, prompt="kaitoyosuke man waits by the door")]),
    ("frame 2: turn left", [Rewrite(frame=2, prompt="turn left")]),
    # append
    ("frame 3: add rain on the window", [Append(frame=3, text="rain on the window")]),
    ("append to frame 3: rain on the window", [Append(frame=3, text="rain on the window")]),
    ("frame 3 += rain", [Append(frame=3, text="rain")]),
    ("add rain to frame 3", [Append(frame=3, text="rain")]),
    # move a character
    ("move kaitoyosuke to the left in frame 3", [MoveCharacter(frame=3, character="kaitoyosuke", position="left")]),
    ("frame 3: kaitoyosuke on the right", [MoveCharacter(frame=3, character="kaitoyosuke", position="right")]),
    ("frame 3: Kaito in the center", [MoveCharacter(frame=3, character="Kaito", position="centre")]),
    ("put jiyeonmun in the middle of frame 1", [MoveCharacter(frame=1, character="jiyeonmun", position="centre")]),
    # add a frame
    ("add a frame after 3: close-up of the letter", [AddFrame(after=3, shot_type="close_up", action="the letter")]),
    ("add a close-up after frame 2 showing the key", [AddFrame(after=2, shot_type="close_up", action="the key")]),
    ("add a frame at the end: she leaves", [AddFrame(after=None, shot_type=None, action="she leaves")]),
    ("add a frame before 0: the house at dusk", [AddFrame(after=-1, shot_type=None, action="the house at dusk")]),
    ("insert a long shot after frame 1: Kaito runs", [AddFrame(after=1, shot_type="long", action="Kaito runs")]),
    # duplicate
    ("duplicate frame 2", [Duplicate(frame=2)]),
    ("copy frame 2", [Duplicate(frame=2)]),
    ("frame 4: duplicate", [Duplicate(frame=4)]),
    # move a frame: `to` is where the frame ends up in the new order
    ("move frame 5 to 2", [MoveFrame(frame=5, to=2)]),
    ("move frame 5 to position 2", [MoveFrame(frame=5, to=2)]),
    ("put frame 5 before 2", [MoveFrame(frame=5, to=2)]),
    ("move frame 5 after 2", [MoveFrame(frame=5, to=3)]),
    ("put frame 1 before 4", [MoveFrame(frame=1, to=3)]),
    ("move frame 1 after 4", [MoveFrame(frame=1, to=4)]),
    ("move frame 3 to the start", [MoveFrame(frame=3, to=0)]),
    # style
    ("style: noir, high contrast", [SetStyle(style="noir, high contrast")]),
    ("change the style to noir", [SetStyle(style="noir")]),
    ("no style", [SetStyle(style="")]),
    # settings
    ("steps 30", [SetSetting(name="steps", value=30)]),
    ("set guidance to 6", [SetSetting(name="guidance", value=6.0)]),
    ("cfg 7.5", [SetSetting(name="guidance", value=7.5)]),
    ("size 768x512", [SetSetting(name="width", value=768), SetSetting(name="height", value=512)]),
    ("4 candidates", [SetSetting(name="candidates", value=4)]),
    ("candidates: 4", [SetSetting(name="candidates", value=4)]),
    ("use euler_a", [SetSetting(name="scheduler", value="euler_a")]),
    ("set the scheduler to DDIM", [SetSetting(name="scheduler", value="ddim")]),
    # regenerate
    ("regenerate 5", [Regenerate(frame=5)]),
    ("regen 5", [Regenerate(frame=5)]),
    ("redo frame 5", [Regenerate(frame=5)]),
    ("regenerate all", [Regenerate(frame=None)]),
    ("regenerate everything", [Regenerate(frame=None)]),
    ("frame 2: regenerate", [Regenerate(frame=2)]),
    # pick a candidate
    ("frame 4: candidate 1", [Pick(frame=4, candidate=1)]),
    ("take 1 for frame 3", [Pick(frame=3, candidate=1)]),
    ("use the second one for frame 4", [Pick(frame=4, candidate=1)]),
    ("take the 3rd candidate for frame 2", [Pick(frame=2, candidate=2)]),
    ("pick the eighth one for frame 0", [Pick(frame=0, candidate=7)]),
    ("frame 4: the first one", [Pick(frame=4, candidate=0)]),
    # swap, remove
    ("swap 2 and 3", [Swap(first=2, second=3)]),
    ("swap frames 2 & 3", [Swap(first=2, second=3)]),
    ("delete frame 4", [Remove(frame=4)]),
    ("drop 4", [Remove(frame=4)]),
    ("remove 6", [Remove(frame=6)]),
    # undo, export
    ("undo", [Undo()]),
    ("undo that", [Undo()]),
    ("go back", [Undo()]),
    ("export", [Export()]),
    ("done", [Export()]),
    ("that's all", [Export()]),
    ("export mp4 and otio", [Export(formats=["mp4", "otio"])]),
    # timing
    ("frame 2: 2.5s", [SetDuration(frame=2, seconds=2.5)]),
    ("frame 2: hold for 3 seconds", [SetDuration(frame=2, seconds=3.0)]),
    # inpainting
    ("frame 4: inpaint box 10,10,200,300 with kaitoyosuke man",
     [Inpaint(frame=4, region="box", coords=[10, 10, 200, 300], prompt="kaitoyosuke man")]),
    ("mask 1", [ChooseMask(frame=None, mask=1)]),
]


@pytest.mark.parametrize(("text", "expected"), PHRASINGS, ids=[text for text, _ in PHRASINGS])
def test_phrasing_is_read(text, expected):
    assert parse_correction(text) == expected


def test_every_command_type_has_a_phrasing():
    kinds = {command.kind for _, commands in PHRASINGS for command in commands}
    assert kinds | {"clarify"} == {model.model_fields["kind"].default for model in Command.__args__}


@pytest.mark.parametrize(("text", "mentions"), [
    ("make it a close up", "which frame"),
    ("close-up please", "which frame"),
    ("delete it", "which frame"),
    ("regenerate", "which frame"),
    ("redo it", "which frame"),
    ("make it black and white", "style: black and white"),
    ("move kaitoyosuke to the left", "which frame"),
    ("use the second one", "which frame"),
    ("add a frame after 3", "what should the new frame"),
    ("duplicate", "which frame"),
    ("style:", "which style"),
])
def test_incomplete_message_gets_a_question(text, mentions):
    commands = parse_correction(text)
    assert len(commands) == 1 and type(commands[0]) is Clarify  # a question, not a Refusal
    assert mentions in commands[0].question
    assert interpret_rules(text) == commands


@pytest.mark.parametrize(("text", "mentions"), [
    ("make it pop", "did not understand"),
    ("", "empty message"),
    ("steps 300", "1 to 150"),
    ("size 770x512", "multiple of 8"),
    ("set guidance to 31", "0 to 30"),
    ("candidates: 9", "1 to 8"),
    ("scheduler euler", "dpm++, ddim, euler_a"),
    ("size 768", "768x512"),
    ("frame 4: inpaint box 10,10 with a hat", "4 numbers"),
    ("make frame 3 darker", "shot type"),
])
def test_unreadable_message_becomes_a_refusal_carrying_the_error(text, mentions):
    with pytest.raises(CorrectionError, match=re.escape(mentions)):
        parse_correction(text)
    [refusal] = interpret_rules(text)
    assert isinstance(refusal, Refusal)
    assert mentions in refusal.question


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("width", "64", 64), ("height", 2048, 2048), ("steps", "1", 1), ("guidance", "0", 0.0),
    ("candidates", 8, 8), ("scheduler", "DPM++", "dpm++"), ("scheduler", "euler a", "euler_a"),
])
def test_check_setting_accepts_the_edges(name, value, expected):
    assert check_setting(name, value) == expected


@pytest.mark.parametrize(("name", "value"), [
    ("width", 60), ("width", 2056), ("height", 100), ("steps", 0), ("steps", "2.5"), ("guidance", "nan"),
    ("guidance", -1), ("candidates", 0), ("scheduler", "karras"), ("seed", 3),
])
def test_check_setting_refuses_with_one_line(name, value):
    with pytest.raises(CorrectionError) as error:
        check_setting(name, value)
    assert "\n" not in str(error.value) and "expected" in str(error.value)


# --- interpret_rules never fails ----------------------------------------------------------------------

WORDS = ["frame", "frames", "shot", "panel", "regenerate", "regen", "redo", "undo", "export", "done", "swap", "and",
         "&", "with", "to", "after", "before", "at", "the", "end", "start", "move", "put", "add", "append", "+=",
         "insert", "a", "an", "duplicate", "copy", "remove", "delete", "drop", "it", "style", "style:", "noir",
         "make", "close-up", "close up", "long shot", "detail", "candidate", "candidates", "candidates:", "take",
         "use", "pick", "second", "3rd", "one", "for", "steps", "guidance", "size", "x", "euler_a", "ddim",
         "inpaint", "box", "point", "rect", "mask", "blur", "dilate", "close", "left", "right", "centre", "center",
         "kaitoyosuke", "Kaito", "on", "in", ":", "->", ",", ".", "please", "black and white", "position", "showing",
         "that's all", "go back", "all", "everything", "#"]
NUMBERS = st.one_of(st.integers(min_value=-5, max_value=3000), st.integers(), st.floats(allow_nan=True))
MIXES = st.lists(st.one_of(st.sampled_from(WORDS), NUMBERS.map(str)), max_size=12).map(" ".join)


def check_interpreted(text: str) -> None:
    commands = interpret_rules(text)
    assert commands, text
    assert all(isinstance(c, Command) for c in commands), commands
    if any(isinstance(c, Clarify) for c in commands):
        assert len(commands) == 1, commands


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_interpret_rules_never_raises_on_any_text(text):
    check_interpreted(text)


@settings(max_examples=300, deadline=None)
@given(MIXES)
def test_interpret_rules_never_raises_on_command_words_and_numbers(text):
    check_interpreted(text)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([t for t, _ in PHRASINGS]), st.sampled_from(["", ".", "!", " please", "  "]))
def test_known_phrasings_survive_end_punctuation(text, ending):
    check_interpreted(text + ending)


def test_interpret_rules_passes_commands_through():
    assert interpret_rules("size 768x512") == parse_correction("size 768x512")
    assert interpret_rules("frame 1: close-up") == [SetShot(frame=1, shot_type="close_up")]


def test_huge_numbers_are_refused_not_crashed():
    assert isinstance(interpret_rules("frame " + "9" * 5000 + ": close-up")[0], Clarify)
    assert isinstance(interpret_rules("frame 1: inpaint box 1,2,3,4 dilate " + "9" * 400 + " with x")[0], Clarify)
