"""The undo history stays small: what a checkpoint holds grows by about the same amount at every correction, however
many came before, and undo still walks all the way back (across a reopen, too).

The figures at full length (100 corrections, a 200-frame board) are `python -m bench checkpoint`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import graphs.corrections.edits
from agent.scenes.scene_file import load_scene
from agent.session import Session
from graphs.context import Context
from graphs.planning.planner import RulesPlanner
from graphs.corrections.rules import interpret_rules
from graphs.state import Frame, Settings, Storyboard
from graphs.storyboard import serializer
from tools.render.sketch import SketchRenderer

ROOT = Path(__file__).resolve().parents[2]
SCENE = ROOT / "examples" / "investigation.toml"
CORRECTIONS = 30


@pytest.fixture
def context():
    return Context(planner=RulesPlanner(), renderer=SketchRenderer())


def open_board(folder: Path, context: Context, frames: int = 3) -> Session:
    session = Session.create(folder, context)
    list(session.start(load_scene(SCENE, {"frames": frames}), Settings(width=48, height=48)))
    return session


def send(session: Session, text: str) -> Storyboard:
    list(session.send(text))
    state = session.state()
    assert not state.notice.startswith("error"), state.notice
    return state


def stored(state: Storyboard) -> int:
    """Bytes the checkpointer writes for the state at every step."""
    return len(serializer().dumps_typed(state)[1])


def test_each_correction_adds_about_as_much_as_the_first_ones_did(tmp_path, context):
    session = open_board(tmp_path / "out", context)
    try:
        drawn = session.state()
        sizes = [stored(drawn)]
        boards = [drawn]
        for _ in range(CORRECTIONS):
            boards.append(send(session, "regenerate all"))
            sizes.append(stored(boards[-1]))
        first, last = sizes[10] - sizes[0], sizes[-1] - sizes[-11]
        # Every correction adds one version per frame and one undo step of the frames it changed. When each step
        # kept the whole board, versions and all, the last ten added over four times what the first ten did.
        assert last <= 2 * first, (first, last, sizes)
        session.close()
        session = Session.reopen(tmp_path / "out", context)
        for board in reversed(boards[:-1]):
            back = send(session, "undo")
            assert back.frames == board.frames and back.scene == board.scene
        list(session.send("undo"))
        assert session.state().notice.endswith("nothing to undo yet")
    finally:
        session.close()


def test_a_settled_step_keeps_only_the_frame_its_correction_changed(tmp_path, context):
    session = open_board(tmp_path / "out", context, frames=4)
    try:
        before = session.state()
        send(session, "regenerate 2")
        state = send(session, "frame 0: close-up")
        step = state.history[0]
        assert step.settled and [f.id for f in step.frames] == [before.frames[2].id]
        assert step.frames[0].versions == []  # its one version is the first of the newer frame's
        assert step.scene is None and step.settings is None and step.order == []
        send(session, "undo")
        assert send(session, "undo").frames == before.frames
    finally:
        session.close()


def test_undo_past_the_kept_steps_says_how_far_it_goes(tmp_path, context, monkeypatch):
    monkeypatch.setattr(graphs.corrections.edits, "HISTORY_LIMIT", 3)
    session = open_board(tmp_path / "out", context, frames=2)
    try:
        for number in range(5):
            send(session, f"regenerate {number % 2}")
        assert session.state().forgotten == 2
        for _ in range(3):
            send(session, "undo")
        list(session.send("undo"))
        assert "undo goes back over the last 3 corrections" in session.state().notice
    finally:
        session.close()


def test_settling_a_step_whose_undrawn_frame_was_removed_keeps_it_for_undo():
    # A frame with no image yet, removed by the next correction: settling the step before it used to look the
    # frame up on the newer board and fail there (found by the fuzz suite).
    scene = load_scene(SCENE, {"frames": 3})
    frames = [Frame(id=f"f{i}", spec=spec) for i, spec in enumerate(RulesPlanner().plan(scene))]
    state = Storyboard(scene=scene, frames=frames, next_id=len(frames))
    for text in ("remove 0", "remove 0", "undo", "undo"):
        state = state.model_copy(update=graphs.corrections.edits.apply_commands(state, interpret_rules(text), RulesPlanner()))
    assert state.frames == frames
