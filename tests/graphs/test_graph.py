"""The storyboard graph run for real: interrupts at review, routing after a correction, no needless renders,
resuming from a checkpoint on disk, critiques without a scorer, and the Session that drives it all."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from counting import CountingRenderer
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command

from agent.errors import SessionError
from agent.scenes.scene_file import load_scene
from agent.session import Session
from graphs.commands import Export, Regenerate, Remove, Rewrite, SetShot, Swap, Undo
from graphs.context import Context
from graphs.corrections.rules import parse_correction
from graphs.errors import CorrectionError
from graphs.events import FrameDrawn, Planned, Problem, Progress, Published, Reply
from graphs.planning.planner import RulesPlanner
from graphs.state import Storyboard
from graphs.storyboard import after_correct, compile_graph, serializer
from prompts.shot_types import SHOT_TYPES
from tools.render.sketch import SketchRenderer

ROOT = Path(__file__).resolve().parents[2]
SCENE_FILE = ROOT / "examples" / "investigation.toml"
FRAMES = 4
CONFIG = {"configurable": {"thread_id": "t"}}


@pytest.fixture
def scene():
    return load_scene(SCENE_FILE, {"frames": FRAMES})


@pytest.fixture
def renderer():
    return CountingRenderer()


@pytest.fixture
def context(renderer, tmp_path):
    return Context(planner=RulesPlanner(), renderer=renderer, out_dir=tmp_path)


@pytest.fixture
def graph():
    return compile_graph(InMemorySaver(serde=serializer()))


def start(graph, context, scene, out: Path):
    return graph.invoke(Storyboard(scene=scene), CONFIG, context=replace(context, out_dir=out))


def resume(graph, context, text: str):
    return graph.invoke(Command(resume=text), CONFIG, context=context)


def state_of(graph) -> Storyboard:
    return Storyboard.model_validate(graph.get_state(CONFIG).values)


def shots(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((out / "frames").glob("shot_*.png"))}


def other_shot_type(current: str) -> str:
    return next(s.slug for s in SHOT_TYPES if s.slug not in (current, "detail"))


# --- the interrupt at review -------------------------------------------------------------------------


def test_first_invoke_stops_at_review(graph, context, scene, tmp_path, renderer):
    result = start(graph, context, scene, tmp_path)
    snapshot = graph.get_state(CONFIG)
    assert snapshot.next == ("review",)
    assert snapshot.interrupts
    assert result.get("__interrupt__")
    state = state_of(graph)
    assert len(state.frames) == FRAMES
    assert renderer.calls == FRAMES
    assert sorted(shots(tmp_path)) == [f"shot_{i}.png" for i in range(FRAMES)]
    assert (tmp_path / "storyboard.json").is_file() and (tmp_path / "storyboard.png").is_file()


def test_shot_correction_routes_through_render_back_to_review(graph, context, scene, tmp_path, renderer):
    start(graph, context, scene, tmp_path)
    before = state_of(graph)
    target = "close_up" if before.frames[0].spec.shot_type != "close_up" else "long"
    files = shots(tmp_path)
    resume(graph, context, f"frame 0: {target.replace('_', '-')}")
    snapshot = graph.get_state(CONFIG)
    assert snapshot.next == ("review",) and snapshot.interrupts
    after = state_of(graph)
    assert after.frames[0].spec.shot_type == target
    assert after.frames[1:] == before.frames[1:]
    assert len(after.frames[0].versions) == len(before.frames[0].versions) + 1
    assert after.applied == [f"frame 0: {target.replace('_', '-')}"]
    assert not after.notice.startswith("error:")
    assert renderer.calls == FRAMES + 1
    new = shots(tmp_path)
    assert new["shot_0.png"] != files["shot_0.png"]
    assert {k: v for k, v in new.items() if k != "shot_0.png"} == \
        {k: v for k, v in files.items() if k != "shot_0.png"}
    # The earlier version of frame 0 is still on disk.
    for version in after.frames[0].versions:
        assert (tmp_path / version.path).is_file()


def test_visited_nodes_after_a_correction(graph, context, scene, tmp_path):
    start(graph, context, scene, tmp_path)
    visited = [next(iter(chunk)) for chunk in graph.stream(Command(resume="frame 0: close-up"), CONFIG,
                                                            context=context, stream_mode="updates")]
    assert visited == ["review", "correct", "lint", "render", "critique", "publish", "__interrupt__"]
    assert graph.get_state(CONFIG).next == ("review",)


def test_render_count_through_a_conversation(graph, context, scene, tmp_path, renderer):
    """Only frames whose image is out of date are drawn; resuming an interrupt redraws nothing else."""
    start(graph, context, scene, tmp_path)
    assert renderer.calls == FRAMES
    resume(graph, context, "frame 0: close-up")
    assert renderer.calls == FRAMES + 1
    resume(graph, context, "something the agent cannot read")
    assert renderer.calls == FRAMES + 1
    resume(graph, context, "undo")
    assert renderer.calls == FRAMES + 1
    # A frame's place is no part of its image: swapping and removing frames draws nothing again.
    resume(graph, context, "swap 1 and 2")
    assert renderer.calls == FRAMES + 1
    resume(graph, context, "swap 1 and 2")
    assert renderer.calls == FRAMES + 1
    resume(graph, context, "remove 0")
    assert renderer.calls == FRAMES + 1
    assert [f.id for f in state_of(graph).frames] == ["f1", "f2", "f3"]


def test_unknown_message_goes_straight_back_to_review(graph, context, scene, tmp_path, renderer):
    start(graph, context, scene, tmp_path)
    before = state_of(graph)
    files = shots(tmp_path)
    document = (tmp_path / "storyboard.json").read_bytes()
    visited = [next(iter(chunk)) for chunk in graph.stream(Command(resume="make it more dramatic please"),
                                                            CONFIG, context=context, stream_mode="updates")]
    assert visited == ["review", "correct", "__interrupt__"]
    snapshot = graph.get_state(CONFIG)
    assert snapshot.next == ("review",) and snapshot.interrupts
    after = state_of(graph)
    assert after.notice.startswith("error:")
    assert after.frames == before.frames
    assert after.applied == [] and after.history == []
    assert renderer.calls == FRAMES
    assert shots(tmp_path) == files
    assert (tmp_path / "storyboard.json").read_bytes() == document


def test_out_of_range_frame_is_an_error_and_changes_nothing(graph, context, scene, tmp_path, renderer):
    start(graph, context, scene, tmp_path)
    before = state_of(graph)
    resume(graph, context, f"frame {FRAMES}: close-up")
    after = state_of(graph)
    assert after.notice.startswith("error:")
    assert after.frames == before.frames
    assert renderer.calls == FRAMES


def test_export_ends_the_graph(graph, context, scene, tmp_path):
    start(graph, context, scene, tmp_path)
    resume(graph, context, "export")
    snapshot = graph.get_state(CONFIG)
    assert snapshot.next == ()
    assert not snapshot.interrupts
    assert state_of(graph).done is True


def test_undo_reuses_the_kept_version(graph, context, scene, tmp_path, renderer):
    start(graph, context, scene, tmp_path)
    original = state_of(graph)
    files = shots(tmp_path)
    resume(graph, context, f"frame 1: {other_shot_type(original.frames[1].spec.shot_type)}")
    assert renderer.calls == FRAMES + 1
    changed = shots(tmp_path)
    assert changed["shot_1.png"] != files["shot_1.png"]
    resume(graph, context, "undo")
    assert renderer.calls == FRAMES + 1
    undone = state_of(graph)
    assert [f.spec for f in undone.frames] == [f.spec for f in original.frames]
    assert shots(tmp_path) == files
    assert graph.get_state(CONFIG).next == ("review",)


def test_nothing_to_undo_is_an_error(graph, context, scene, tmp_path, renderer):
    start(graph, context, scene, tmp_path)
    resume(graph, context, "undo")
    assert state_of(graph).notice.startswith("error:")
    assert renderer.calls == FRAMES


def test_critique_records_that_no_scorer_ran(graph, context, scene, tmp_path):
    start(graph, context, scene, tmp_path)
    for frame in state_of(graph).frames:
        assert frame.critique is not None
        assert frame.critique.scorer is None
        assert frame.critique.clip_score is None
        assert frame.critique.note
        assert frame.critique.key == frame.image().key


# --- after_correct as a pure function ----------------------------------------------------------------


def test_after_correct_routes(scene, tmp_path):
    base = Storyboard(scene=scene)
    assert after_correct(base.model_copy(update={"done": True})) == "export"
    assert after_correct(base.model_copy(update={"outcome": "refused", "notice": "error: did not understand"})) == "review"
    assert after_correct(base.model_copy(update={"outcome": "asked", "notice": "question: which frame?"})) == "review"
    assert after_correct(base.model_copy(update={"outcome": "changed", "notice": "frame 3 is now a close-up"})) == "lint"
    assert after_correct(base) == "lint"


# --- parsing corrections -----------------------------------------------------------------------------


@pytest.mark.parametrize("shot", SHOT_TYPES, ids=lambda s: s.slug)
def test_every_shot_name_and_number_is_understood(shot):
    for word in (shot.name, shot.name.lower(), str(shot.number), shot.slug):
        assert parse_correction(f"frame 3: {word}") == [SetShot(frame=3, shot_type=shot.slug)], word


@pytest.mark.parametrize(("text", "expected"), [
    ("regenerate 5", [Regenerate(frame=5)]),
    ("regenerate all", [Regenerate(frame=None)]),
    ("frame 2: kaitoyosuke man opens the door slowly", [Rewrite(frame=2, prompt="kaitoyosuke man opens the door slowly")]),
    ("swap 2 and 4", [Swap(first=2, second=4)]),
    ("remove 6", [Remove(frame=6)]),
    ("undo", [Undo()]),
    ("export", [Export()]),
])
def test_corrections_are_parsed(text, expected):
    assert parse_correction(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "make it pop", "frame 3:", "swap 2", "regenerate some"])
def test_unreadable_corrections_raise(text):
    with pytest.raises(CorrectionError):
        parse_correction(text)


# --- a checkpoint on disk survives a process restart -------------------------------------------------


def test_fresh_graph_on_the_same_sqlite_file_resumes_without_rerendering(scene, tmp_path):
    database = tmp_path / "checkpoints.sqlite"
    out = tmp_path / "out"
    first = CountingRenderer()
    connection = sqlite3.connect(database, check_same_thread=False)
    graph = compile_graph(SqliteSaver(connection, serde=serializer()))
    start(graph, Context(planner=RulesPlanner(), renderer=first, out_dir=out), scene, out)
    assert first.calls == FRAMES
    before = state_of(graph)
    files = shots(out)
    connection.close()

    second = CountingRenderer()
    context = Context(planner=RulesPlanner(), renderer=second, out_dir=out)
    connection = sqlite3.connect(database, check_same_thread=False)
    try:
        graph = compile_graph(SqliteSaver(connection, serde=serializer()))
        snapshot = graph.get_state(CONFIG)
        assert snapshot.next == ("review",) and snapshot.interrupts
        assert state_of(graph) == before
        resume(graph, context, "regenerate 2")
        assert second.calls == 1
        assert graph.get_state(CONFIG).next == ("review",)
        after = shots(out)
        assert after["shot_2.png"] != files["shot_2.png"]
        assert {k: v for k, v in after.items() if k != "shot_2.png"} == \
            {k: v for k, v in files.items() if k != "shot_2.png"}
        resume(graph, context, "undo")
        assert second.calls == 1
        assert shots(out) == files
    finally:
        connection.close()


# --- Session ------------------------------------------------------------------------------------------


def test_session_events_reopen_and_finish(scene, tmp_path):
    out = tmp_path / "session"
    renderer = CountingRenderer()
    session = Session.create(out, Context(planner=RulesPlanner(), renderer=renderer))
    assert session.state() is None
    events = list(session.start(scene))
    kinds = {type(event) for event in events}
    assert {Planned, Progress, FrameDrawn, Published} <= kinds
    assert [e.frame for e in events if isinstance(e, FrameDrawn)] == list(range(FRAMES))
    assert all(e.status == "rendered" for e in events if isinstance(e, FrameDrawn))
    assert session.waiting() and not session.unfinished()
    state = session.state()
    session.close()

    again = Session.reopen(out, Context(planner=RulesPlanner(), renderer=renderer))
    try:
        assert again.thread_id == session.thread_id
        assert again.state() == state
        assert again.waiting()
        events = list(again.send("frame 0: close-up"))
        assert any(isinstance(e, Reply) for e in events)
        assert renderer.calls == FRAMES + 1
        bad = list(again.send("what"))
        assert [type(e) for e in bad] == [Problem]
        list(again.send("export"))
        assert again.state().done
        assert not again.waiting()
        with pytest.raises(SessionError):
            list(again.send("undo"))
    finally:
        again.close()


def test_reopen_without_a_session_raises(tmp_path):
    with pytest.raises(SessionError):
        Session.reopen(tmp_path / "nothing", Context(planner=RulesPlanner(), renderer=SketchRenderer()))


@pytest.mark.filterwarnings("error::ResourceWarning")
@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_publishing_leaves_no_image_file_open(graph, context, scene, tmp_path):
    """publish composes storyboard.png from the shot files; every one it opens must be closed again."""
    start(graph, context, scene, tmp_path)
    assert graph.get_state(CONFIG).next == ("review",)


def test_sessions_saved_with_frame_lists_as_history_still_read(scene, tmp_path):
    from graphs.state import Frame as StateFrame

    frames = [StateFrame(id=f"f{i}", spec=spec) for i, spec in enumerate(RulesPlanner().plan(scene))]
    old = {"scene": scene.model_dump(by_alias=True), "out_dir": str(tmp_path),
           "frames": [f.model_dump() for f in frames], "history": [[f.model_dump() for f in frames[:2]]]}
    board = Storyboard.model_validate(old)
    assert board.history[0].frames == frames[:2] and board.history[0].scene == scene
