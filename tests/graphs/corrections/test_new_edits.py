"""The newer corrections run through the real graph with the sketch renderer: what each one changes in the
storyboard, which frames it draws again (and which it leaves alone), and what undo brings back."""

from __future__ import annotations

import pytest
from boards import SCENE_FILE, board, send, shot_files
from counting import CountingRenderer
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from PIL import Image

from agent.scenes.scene_file import load_scene
from graphs.commands import AddFrame, Clarify, SetSetting, SetStyle
from graphs.context import Context
from graphs.corrections.edits import apply_commands
from graphs.errors import CorrectionError
from graphs.events import Problem, Question
from graphs.planning.planner import RulesPlanner, frame_seed
from graphs.state import Settings, Storyboard
from graphs.storyboard import compile_graph, serializer
from prompts.lint import lint_plan

FRAMES = 5
"""Five frames of the investigation: frame 2 is a medium shot with both characters, the others show one."""
SIZE = 128


@pytest.fixture
def renderer():
    return CountingRenderer()


@pytest.fixture
def session(tmp_path, renderer):
    with board(tmp_path, renderer, FRAMES, SIZE) as session:
        yield session


def specs(state: Storyboard) -> list:
    return [f.spec for f in state.frames]


def ids(state: Storyboard) -> list[str]:
    return [f.id for f in state.frames]


def test_the_scene_has_a_two_character_frame(session):
    people = {c.name: c.position for c in session.state().frames[2].spec.characters}
    assert people == {"kaitoyosuke": "left", "jiyeonmun": "right"}


# --- append ---------------------------------------------------------------------------------------------


def test_append_changes_only_that_frame_and_draws_only_it(session, tmp_path, renderer):
    before = session.state()
    files = shot_files(tmp_path)
    after = send(session, "frame 1: add rain on the window")
    assert renderer.calls == FRAMES + 1
    frame = after.frames[1]
    assert frame.spec.prompt.startswith(before.frames[1].spec.prompt.rstrip())
    assert frame.spec.prompt.endswith(" Rain on the window.")
    assert frame.spec.written_by == "person"
    assert frame.spec.characters == before.frames[1].spec.characters
    assert [f for i, f in enumerate(after.frames) if i != 1] == [f for i, f in enumerate(before.frames) if i != 1]
    assert len(frame.versions) == len(before.frames[1].versions) + 1
    assert frame.image().key != before.frames[1].image().key
    now = shot_files(tmp_path)
    assert {k: v for k, v in now.items() if k != "shot_1.png"} == {k: v for k, v in files.items() if k != "shot_1.png"}
    assert not frame.lint


def test_append_naming_someone_new_brings_them_into_the_frame(session):
    after = send(session, "append to frame 0: jiyeonmun woman waits at the gate")
    people = {c.name: c.position for c in after.frames[0].spec.characters}
    assert set(people) == {"kaitoyosuke", "jiyeonmun"}
    assert sorted(people.values()) == ["left", "right"]


# --- move a character -----------------------------------------------------------------------------------


def test_move_character_swaps_sides_and_restages_the_prompt(session, renderer):
    before = session.state()
    after = send(session, "move kaitoyosuke to the right in frame 2")
    people = {c.name: c.position for c in after.frames[2].spec.characters}
    assert people == {"kaitoyosuke": "right", "jiyeonmun": "left"}
    assert "kaitoyosuke man, on the right," in after.frames[2].spec.prompt
    assert "jiyeonmun woman, on the left," in after.frames[2].spec.prompt
    assert after.frames[2].spec.shot_type == before.frames[2].spec.shot_type
    assert after.frames[2].spec.written_by == "planner"
    assert after.frames[:2] + after.frames[3:] == before.frames[:2] + before.frames[3:]
    assert renderer.calls == FRAMES + 1
    assert not lint_plan(specs(after), after.scene.characters)


def test_move_character_by_alias_keeps_a_persons_prompt(session):
    send(session, "frame 2: prompt: kaitoyosuke man, on the left, reads. jiyeonmun woman, on the right, waits.")
    written = session.state().frames[2].spec.prompt
    after = send(session, "frame 2: Kaito on the right")
    assert {c.name: c.position for c in after.frames[2].spec.characters} == {"kaitoyosuke": "right",
                                                                            "jiyeonmun": "left"}
    assert after.frames[2].spec.prompt == written


def test_move_someone_not_in_the_frame_names_who_is(session, renderer):
    before = session.state()
    events = list(session.send("frame 0: jiyeonmun on the left"))
    after = session.state()
    assert [type(e) for e in events] == [Problem]
    assert after.notice == "error: Ji-yeon is not in frame 0: only Kaito is"
    assert after.frames == before.frames
    assert renderer.calls == FRAMES


# --- add a frame ----------------------------------------------------------------------------------------


def test_add_frame_inserts_a_planned_frame_that_lints_clean(session, renderer):
    before = session.state()
    after = send(session, "add a frame after 1: Kaito picks up the brass key")
    assert len(after.frames) == FRAMES + 1
    new = after.frames[2]
    assert new.id not in ids(before) and new.id == f"f{before.next_id}"
    assert after.next_id == before.next_id + 1
    assert ids(after) == ids(before)[:2] + [new.id] + ids(before)[2:]
    assert new.spec.shot_type == "medium"
    assert [c.name for c in new.spec.characters] == ["kaitoyosuke"]
    assert new.spec.seed == frame_seed(after.scene, before.next_id)
    assert new.spec.written_by == "planner"
    assert not [v for v in lint_plan(specs(after), after.scene.characters) if v.frame == 2]
    assert new.lint == [] and new.image() is not None
    assert "picks up the brass key" in new.spec.prompt


def test_add_frame_at_the_end_draws_only_the_new_frame(session, renderer):
    before = session.state()
    after = send(session, "add a close-up at the end showing the letter")
    assert renderer.calls == FRAMES + 1
    assert after.frames[:FRAMES] == before.frames
    new = after.frames[-1]
    assert new.spec.shot_type == "close_up" and new.spec.characters == []
    assert "the letter" in new.spec.prompt
    assert not lint_plan(specs(after), after.scene.characters)


def test_two_new_frames_get_two_new_ids(session):
    state = session.state()
    commands = [AddFrame(after=None, shot_type=None, action="a door slams"),
                AddFrame(after=None, shot_type="long", action="Kaito runs")]
    update = apply_commands(state, commands, RulesPlanner())
    new = [f.id for f in update["frames"][FRAMES:]]
    assert new == [f"f{state.next_id}", f"f{state.next_id + 1}"]
    assert update["next_id"] == state.next_id + 2


# --- duplicate and move frames --------------------------------------------------------------------------


def test_duplicate_puts_a_copy_with_a_new_seed_after_the_frame(session, renderer):
    before = session.state()
    after = send(session, "duplicate frame 4")
    assert len(after.frames) == FRAMES + 1
    original, copy = after.frames[4], after.frames[5]
    assert original == before.frames[4]
    assert copy.id not in ids(before)
    assert copy.spec.seed != original.spec.seed
    assert copy.spec.model_copy(update={"seed": original.spec.seed}) == original.spec
    assert renderer.calls == FRAMES + 1
    assert copy.image().path != original.image().path


@pytest.mark.parametrize(("text", "order"), [
    ("move frame 4 to 0", [4, 0, 1, 2, 3]),
    ("move frame 4 to position 1", [0, 4, 1, 2, 3]),
    ("put frame 4 before 1", [0, 4, 1, 2, 3]),
    ("put frame 0 before 3", [1, 2, 0, 3, 4]),
    ("move frame 0 after 3", [1, 2, 3, 0, 4]),
    ("move frame 4 after 1", [0, 1, 4, 2, 3]),
    ("move frame 2 to the start", [2, 0, 1, 3, 4]),
])
def test_move_frame_order(session, text, order):
    before = ids(session.state())
    after = send(session, text)
    assert ids(after) == [before[i] for i in order]


def test_move_frame_out_of_range_is_refused(session, renderer):
    before = session.state()
    list(session.send(f"move frame 1 to {FRAMES}"))
    after = session.state()
    assert after.notice == f"error: cannot move frame 1 to {FRAMES}: positions run from 0 to {FRAMES - 1}"
    assert after.frames == before.frames and renderer.calls == FRAMES


# --- style and settings ---------------------------------------------------------------------------------


def test_set_style_restages_planner_frames_and_keeps_a_persons_prompt(session, renderer):
    own = "kaitoyosuke man waits in the hall, dim night light"
    send(session, f"frame 1: prompt: {own}")
    before = session.state()
    calls = renderer.calls
    after = send(session, "style: noir, high contrast")
    assert after.scene.style == "noir, high contrast"
    assert after.frames[1].spec == before.frames[1].spec
    for old, new in zip(before.frames, after.frames):
        if old.spec.written_by == "planner":
            assert new.spec.prompt.endswith("noir, high contrast.")
            assert before.scene.style not in new.spec.prompt
            assert new.spec.shot_type == old.spec.shot_type
    assert renderer.calls == calls + FRAMES - 1


def test_settings_change_draws_every_frame_at_the_new_size(session, tmp_path, renderer):
    after = send(session, "size 192x128")
    assert (after.settings.width, after.settings.height) == (192, 128)
    assert renderer.calls == 2 * FRAMES
    for i in range(FRAMES):
        with Image.open(tmp_path / "frames" / f"shot_{i}.png") as image:
            assert image.size == (192, 128)
    after = send(session, "4 candidates")
    assert after.settings.candidates == 4


def test_settings_out_of_range_change_nothing(session, renderer):
    before = session.state()
    list(session.send("steps 300"))
    after = session.state()
    assert after.notice == "error: steps: expected a whole number from 1 to 150, got 300"
    assert after.settings == before.settings and renderer.calls == FRAMES


def test_apply_commands_returns_scene_and_settings_only_when_they_change(session):
    state = session.state()
    update = apply_commands(state, [SetSetting(name="steps", value=30)], RulesPlanner())
    assert update["settings"].steps == 30 and "scene" not in update
    update = apply_commands(state, [SetStyle(style="noir")], RulesPlanner())
    assert update["scene"].style == "noir" and "settings" not in update
    with pytest.raises(CorrectionError, match="1 to 8"):
        apply_commands(state, [SetSetting(name="candidates", value=12)], RulesPlanner())


# --- clarify --------------------------------------------------------------------------------------------


def test_clarify_changes_nothing_and_draws_nothing(session, tmp_path, renderer):
    before = session.state()
    files = shot_files(tmp_path)
    events = list(session.send("make it a close up"))
    after = session.state()
    assert [type(e) for e in events] == [Question]
    assert [e.message for e in events] == [after.notice.removeprefix("question: ")]
    assert after.notice.startswith("question: which frame should be a close-up?")
    assert after.applied == before.applied
    assert after.frames == before.frames and after.history == before.history
    assert after.scene == before.scene and after.settings == before.settings
    assert renderer.calls == FRAMES
    assert shot_files(tmp_path) == files
    assert session.waiting()


def test_unreadable_message_is_an_error_not_a_question(session):
    before = session.state()
    events = list(session.send("bananas on the moon"))
    assert [type(e) for e in events] == [Problem]
    assert events[0].message.startswith("did not understand")
    after = session.state()
    assert after.notice.startswith("error: did not understand")
    assert after.frames == before.frames and after.applied == before.applied and session.waiting()


def test_clarify_through_apply_commands_is_only_a_notice(session):
    update = apply_commands(session.state(), [Clarify(question="which frame?")], RulesPlanner())
    assert update == {"notice": "question: which frame?", "outcome": "asked"}


def test_clarify_route_renders_nothing(tmp_path, renderer):
    """A question goes straight back to review, like any message that changed nothing."""
    graph = compile_graph(InMemorySaver(serde=serializer()))
    config = {"configurable": {"thread_id": "t"}}
    context = Context(planner=RulesPlanner(), renderer=renderer, out_dir=tmp_path)
    scene = load_scene(SCENE_FILE, {"frames": FRAMES})
    graph.invoke(Storyboard(scene=scene, settings=Settings(width=SIZE, height=SIZE)),
                 config, context=context)
    before = graph.get_state(config).values
    visited = [next(iter(chunk)) for chunk in graph.stream(Command(resume="regenerate"), config, context=context,
                                                            stream_mode="updates")]
    assert visited == ["review", "correct", "__interrupt__"]  # back at review, waiting again
    after = graph.get_state(config).values
    assert after["frames"] == before["frames"] and renderer.calls == FRAMES


# --- undo -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "frame 1: add rain on the window",
    "move kaitoyosuke to the right in frame 2",
    "add a frame after 1: Kaito picks up the brass key",
    "duplicate frame 2",
    "move frame 4 to 0",
    "style: noir, high contrast",
    "size 192x128",
])
def test_undo_brings_the_frames_back(session, tmp_path, renderer, text):
    before = session.state()
    files = shot_files(tmp_path)
    send(session, text)
    changed = renderer.calls
    after = send(session, "undo")
    assert specs(after) == specs(before) and ids(after) == ids(before)
    assert after.settings == before.settings and after.scene == before.scene
    assert [f.image() for f in after.frames] == [f.image() for f in before.frames]
    assert renderer.calls == changed
    assert shot_files(tmp_path) == files


@pytest.mark.parametrize(("text", "field"), [("style: noir", "scene"), ("steps 30", "settings")])
def test_undo_brings_the_scene_and_settings_back(session, text, field):
    before = session.state()
    send(session, text)
    after = send(session, "undo")
    assert getattr(after, field) == getattr(before, field)


def test_a_style_with_a_lone_surrogate_restages_and_lints_without_failing(session):
    """Text read straight from a message (before any front-end cleans it) may hold a lone surrogate: the edits and
    the lint findings of their reply must still work."""
    state = session.state()
    update = apply_commands(state, [SetStyle(style="a cat \udc80")], RulesPlanner())
    assert update["scene"].style == "a cat \udc80"
    assert update["notice"].startswith('the style is now "a cat')
