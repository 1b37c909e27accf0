"""Picking another candidate of a frame: how people say it, and what it does to the storyboard —
the chosen file becomes the shot, nothing is drawn again, undo and later corrections keep it right."""

from __future__ import annotations

import pytest
from boards import board, shot_files
from counting import CountingRenderer

from graphs.commands import Pick, Rewrite, SetShot
from graphs.corrections.edits import _pick, apply_commands
from graphs.corrections.rules import parse_correction
from graphs.errors import CorrectionError
from graphs.events import Problem
from graphs.frames.rendering import base_key, bring_up_to_date, is_current, job_for, job_key
from graphs.planning.planner import RulesPlanner
from graphs.state import Frame, Storyboard, Version

FRAMES = 3
CANDIDATES = 3


@pytest.fixture
def renderer():
    return CountingRenderer()


@pytest.fixture
def session(tmp_path, renderer):
    with board(tmp_path, renderer, FRAMES, candidates=CANDIDATES) as session:
        yield session


# --- parsing ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, frame, candidate", [
    ("frame 3: candidate 1", 3, 1),
    ("frame 3: take 1", 3, 1),
    ("frame 3: pick candidate 2", 3, 2),
    ("Frame 3: Candidate #2.", 3, 2),
    ("frame 4: option 0", 4, 0),
    ("take 1 for frame 3", 3, 1),
    ("pick candidate 2 for frame 0", 0, 2),
    ("use 1 in frame 2", 2, 1),
    ("choose 2 of frame 5", 5, 2),
])
def test_pick_is_parsed(text, frame, candidate):
    assert parse_correction(text) == [Pick(frame=frame, candidate=candidate)]


def test_candidate_in_a_prompt_stays_a_rewrite():
    text = "a candidate for mayor walks in"
    assert parse_correction(f"frame 3: {text}") == [Rewrite(frame=3, prompt=text)]


def test_shot_type_still_parsed_beside_pick():
    assert parse_correction("frame 3: close-up") == [SetShot(frame=3, shot_type="close_up")]


@pytest.mark.parametrize("text", ["take 1 for", "pick candidate for frame 2", "use frame 2"])
def test_incomplete_pick_is_not_understood(text):
    with pytest.raises(CorrectionError):
        parse_correction(text)


# --- base_key, is_current, _pick on hand-made frames --------------------------------------------------


def version(key: str, seed: int = 1) -> Version:
    return Version(path=f"frames/versions/f0-{key}.png", key=key, seed=seed, renderer="sketch")


def test_base_key_strips_candidate_number():
    assert base_key(version("abc123")) == "abc123"
    assert base_key(version("abc123-2")) == "abc123"
    assert base_key(version("abc123-12")) == "abc123"


def test_is_current_for_any_candidate():
    spec = {"shot_type": "long", "prompt": "p", "negative_prompt": "", "setting": "", "lighting": "", "seed": 1}
    frame = Frame(id="f0", spec=spec, versions=[version("aaa"), version("aaa-1"), version("bbb")], selected=1)
    assert is_current(frame, "aaa")
    assert not is_current(frame, "bbb")
    assert not is_current(frame, "aaa-1")
    assert not is_current(frame.model_copy(update={"selected": None}), "aaa")


def test_pick_stays_within_the_shown_render():
    spec = {"shot_type": "long", "prompt": "p", "negative_prompt": "", "setting": "", "lighting": "", "seed": 1}
    versions = [version("old"), version("old-1"), version("new"), version("new-1"), version("new-2")]
    frame = Frame(id="f0", spec=spec, versions=versions, selected=2)
    assert _pick(frame, 0, 2).selected == 4
    assert _pick(frame, 0, 0).selected == 2
    with pytest.raises(CorrectionError, match="0 to 2"):
        _pick(frame, 0, 3)
    older = frame.model_copy(update={"selected": 0})
    assert _pick(older, 0, 1).selected == 1
    with pytest.raises(CorrectionError, match="0 to 1"):
        _pick(older, 0, 2)
    with pytest.raises(CorrectionError, match="no image"):
        _pick(frame.model_copy(update={"selected": None, "versions": []}), 0, 0)


# --- through the real graph ---------------------------------------------------------------------------


def test_pick_shows_the_chosen_file_without_rendering(session, tmp_path, renderer):
    before = session.state()
    files = shot_files(tmp_path)
    assert renderer.calls == FRAMES
    assert all(len(f.versions) == CANDIDATES for f in before.frames)

    events = list(session.send("frame 1: candidate 2"))
    assert not [e for e in events if isinstance(e, Problem)]
    after = session.state()
    assert renderer.calls == FRAMES
    assert not after.notice.startswith("error:")
    frame = after.frames[1]
    chosen = frame.image()
    assert frame.selected == 2
    assert chosen.path.endswith("-2.png")
    assert chosen.seed == frame.spec.seed + 2
    assert frame.versions == before.frames[1].versions
    assert frame.spec == before.frames[1].spec

    now = shot_files(tmp_path)
    assert now["shot_1.png"] == (tmp_path / chosen.path).read_bytes()
    assert now["shot_1.png"] != files["shot_1.png"]
    assert {k: v for k, v in now.items() if k != "shot_1.png"} == \
        {k: v for k, v in files.items() if k != "shot_1.png"}
    assert [f.image() for i, f in enumerate(after.frames) if i != 1] == \
        [f.image() for i, f in enumerate(before.frames) if i != 1]
    assert after.frames[1].critique.key == chosen.key


def test_pick_is_noted_in_storyboard_json(session, tmp_path):
    list(session.send("take 1 for frame 2"))
    chosen = session.state().frames[2].image()
    assert chosen.path.endswith("-1.png")
    assert chosen.path in (tmp_path / "storyboard.json").read_text(encoding="utf-8")


def test_pick_out_of_range_changes_nothing(session, tmp_path, renderer):
    before = session.state()
    files = shot_files(tmp_path)
    events = list(session.send(f"frame 1: candidate {CANDIDATES}"))
    after = session.state()
    assert [type(e) for e in events] == [Problem]
    assert after.notice.startswith("error: ")
    assert f"0 to {CANDIDATES - 1}" in after.notice
    assert after.frames == before.frames
    assert after.history == before.history
    assert shot_files(tmp_path) == files
    assert renderer.calls == FRAMES


def test_pick_missing_frame_is_an_error(session, renderer):
    before = session.state()
    list(session.send(f"frame {FRAMES}: candidate 1"))
    after = session.state()
    assert after.notice.startswith("error: ")
    assert after.frames == before.frames
    assert renderer.calls == FRAMES


def test_undo_goes_back_to_candidate_zero(session, tmp_path, renderer):
    files = shot_files(tmp_path)
    list(session.send("frame 1: candidate 2"))
    assert session.state().frames[1].selected == 2
    list(session.send("undo"))
    state = session.state()
    assert state.frames[1].selected == 0
    assert state.frames[1].image().path.endswith("-0.png")
    assert shot_files(tmp_path) == files
    assert renderer.calls == FRAMES


def test_pick_survives_an_unrelated_correction(session, tmp_path, renderer):
    list(session.send("frame 1: candidate 2"))
    picked = shot_files(tmp_path)["shot_1.png"]
    chosen = session.state().frames[1].image()
    shot = session.state().frames[0].spec.shot_type
    target = "close-up" if shot != "close_up" else "long"
    list(session.send(f"frame 0: {target}"))
    state = session.state()
    assert not state.notice.startswith("error:")
    assert renderer.calls == FRAMES + 1
    assert state.frames[1].selected == 2
    assert state.frames[1].image() == chosen
    assert shot_files(tmp_path)["shot_1.png"] == picked


def test_pick_again_after_regenerate_uses_new_candidates(session, tmp_path, renderer):
    list(session.send("frame 1: candidate 2"))
    list(session.send("regenerate 1"))
    assert renderer.calls == FRAMES + 1
    frame = session.state().frames[1]
    assert len(frame.versions) == 2 * CANDIDATES
    assert frame.selected == CANDIDATES
    list(session.send("frame 1: candidate 1"))
    frame = session.state().frames[1]
    assert frame.selected == CANDIDATES + 1
    assert frame.image().seed == frame.spec.seed + 1
    assert shot_files(tmp_path)["shot_1.png"] == (tmp_path / frame.image().path).read_bytes()
    assert renderer.calls == FRAMES + 1


def test_a_frame_that_returns_to_a_render_shows_its_picked_candidate(session, tmp_path, renderer):
    list(session.send("frame 1: candidate 2"))
    picked = session.state().frames[1].image()
    original = session.state().frames[1].spec.shot_type
    other = "close-up" if original != "close_up" else "long"
    list(session.send(f"frame 1: {other}"))
    assert session.state().frames[1].image().path.endswith("-0.png")
    list(session.send(f"frame 1: {original.replace('_', ' ')}"))
    frame = session.state().frames[1]
    assert frame.image() == picked
    assert shot_files(tmp_path)["shot_1.png"] == (tmp_path / picked.path).read_bytes()


# --- apply_commands and bring_up_to_date directly -----------------------------------------------------


def test_apply_commands_pick_keeps_history(session):
    state = session.state()
    update = apply_commands(state, [Pick(frame=0, candidate=1)], RulesPlanner())
    assert update["frames"][0].selected == 1
    assert update["frames"][1:] == state.frames[1:]
    assert [step.frames for step in update["history"]] == [step.frames for step in state.history] + [state.frames]
    assert "candidate 1" in update["notice"]
    assert state.frames[0].selected == 0


def test_bring_up_to_date_keeps_a_picked_candidate(session, tmp_path, renderer):
    state = session.state()
    frame = apply_commands(state, [Pick(frame=0, candidate=2)], RulesPlanner())["frames"][0]
    job = job_for(frame, state.settings, state.scene.characters)
    assert is_current(frame, job_key(job, renderer))
    same, status = bring_up_to_date(frame, job, renderer, tmp_path)
    assert status == "current"
    assert same == frame
    assert renderer.calls == FRAMES


def test_pick_is_one_storyboard_step(session):
    """A pick is recorded like any other correction."""
    list(session.send("frame 2: take 1"))
    state = session.state()
    assert state.applied == ["frame 2: take 1"]
    assert isinstance(state, Storyboard) and len(state.history) == 1
