"""Frame durations (estimated, or set in chat) and speeches handed to frames, through the real graph."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from counting import CountingRenderer

from agent.scenes.scene_file import load_scene
from agent.session import Session
from graphs.commands import Export, SetDuration
from graphs.context import Context
from graphs.corrections.rules import interpret_rules
from graphs.events import Problem, Reply
from graphs.planning.dialogue import attach, sentence_of, speaker_token
from graphs.planning.planner import RulesPlanner
from graphs.state import Character, Frame, FrameSpec, Line, Scene, Settings, Speech
from graphs.planning.timing import BASE_HOLD, LONGEST_ESTIMATE, SPEAKING_PACE, duration, estimate

ROOT = Path(__file__).resolve().parents[3]
SCENE_FILE = ROOT / "examples" / "investigation.toml"


def spec(action: str = "", lines: list[Line] | None = None) -> FrameSpec:
    return FrameSpec(shot_type="medium", prompt="p", negative_prompt="n", setting="s", lighting="l", seed=1,
                     action=action, dialogue=lines or [])


# --- durations --------------------------------------------------------------------------------------------


def test_an_empty_frame_is_held_for_the_base_time():
    assert estimate(spec()) == BASE_HOLD


def test_speech_is_timed_at_the_speaking_pace_and_wins_over_shorter_action():
    words = 25
    said = spec("He waits.", [Line(character="BOB", text=" ".join(["word"] * words))])
    assert estimate(said) == pytest.approx(round(BASE_HOLD + words / SPEAKING_PACE + 0.3, 1))
    assert estimate(said) > estimate(spec("He waits."))


def test_long_speech_is_timed_in_full_up_to_a_minute():
    words = 100
    said = spec("He talks.", [Line(character="BOB", text=" ".join(["word"] * words))])
    assert estimate(said) == pytest.approx(round(BASE_HOLD + words / SPEAKING_PACE + 0.3, 1))
    assert estimate(spec("", [Line(character="BOB", text="word " * 1000)])) == 60.0


def test_a_long_action_is_capped_and_a_set_duration_wins():
    long = spec(" ".join(["step"] * 500))
    assert estimate(long) == LONGEST_ESTIMATE
    frame = Frame(id="f0", spec=long)
    assert duration(frame) == LONGEST_ESTIMATE
    assert duration(frame.model_copy(update={"duration": 2.5})) == 2.5


@pytest.mark.parametrize(("text", "seconds"), [("frame 3: 2.5s", 2.5), ("frame 3: 4 seconds", 4.0),
                                               ("frame 3: hold for 1.5 sec", 1.5), ("frame 0: 60s", 60.0)])
def test_duration_corrections_are_read(text, seconds):
    [command] = interpret_rules(text)
    assert isinstance(command, SetDuration) and command.seconds == seconds


@pytest.mark.parametrize("text", ["frame 3: 0.1s", "frame 3: 61s", "frame 3: 9999 seconds"])
def test_durations_out_of_range_are_refused(text):
    [command] = interpret_rules(text)
    assert "0.2 to 60 seconds" in command.question


@pytest.mark.parametrize(("text", "formats"), [
    ("export", []), ("export mp4, gif and csv", ["mp4", "gif", "csv"]), ("export as animatic and shot list",
                                                                         ["mp4", "csv"]),
    ("export the storyboard to otio", ["otio"]), ("export .pdf", ["pdf"])])
def test_export_formats_are_read(text, formats):
    assert interpret_rules(text) == [Export(formats=formats)]


def test_an_unknown_export_format_is_refused_naming_the_known_ones():
    [refusal] = interpret_rules("export docx")
    assert "'docx'" in refusal.question and "mp4" in refusal.question


@pytest.fixture
def session(tmp_path):
    renderer = CountingRenderer()
    session = Session.create(tmp_path, Context(planner=RulesPlanner(), renderer=renderer))
    list(session.start(load_scene(SCENE_FILE, {"frames": 4}), Settings(width=64, height=64)))
    yield session, renderer
    session.close()


def test_a_set_duration_reaches_storyboard_json_draws_nothing_and_undoes(session, tmp_path):
    session, renderer = session
    calls = renderer.calls
    before = json.loads((tmp_path / "storyboard.json").read_text())["frames"][2]
    assert before["duration_set"] is False and before["duration"] == estimate(session.state().frames[2].spec)
    events = list(session.send("frame 2: 3.25s"))
    assert [e.message for e in events if isinstance(e, Reply)] == ["frame 2 now holds for 3.25 s in the animatic"]
    after = json.loads((tmp_path / "storyboard.json").read_text())["frames"]
    assert after[2]["duration"] == 3.25 and after[2]["duration_set"] is True
    assert renderer.calls == calls
    list(session.send("undo"))
    assert json.loads((tmp_path / "storyboard.json").read_text())["frames"][2]["duration"] == before["duration"]


def test_a_duration_for_a_missing_frame_is_an_error(session):
    session, _ = session
    events = list(session.send("frame 9: 2s"))
    assert [type(e) for e in events] == [Problem] and "9" in events[0].message


# --- speeches ------------------------------------------------------------------------------------------------


def test_frames_spread_over_sentences_in_order():
    assert [sentence_of(i, 6, 3) for i in range(6)] == [0, 0, 1, 1, 2, 2]
    assert [sentence_of(i, 2, 5) for i in range(2)] == [0, 2]


def test_speakers_are_found_by_token_or_alias():
    cast = [Character(name="horatio", class_word="man", aliases=["Horatio", "HORATIO"])]
    assert speaker_token("HORATIO", cast) == "horatio" and speaker_token("Ghost", cast) is None


def test_each_speech_lands_once_in_order_preferring_the_frame_that_shows_the_speaker():
    cast = [Character(name="kaito", class_word="man", aliases=["Kaito"]),
            Character(name="mara", class_word="woman", aliases=["Mara"])]
    scene = Scene(title="t", description="Kaito enters. Mara turns. They argue.", frames=6, characters=cast,
                  dialogue=[Speech(character="KAITO", text="Before anything.", after=-1),
                            Speech(character="MARA", text="You again.", after=1),
                            Speech(character="KAITO", text="Me again.", after=2),
                            Speech(character="MARA", text="Go.", after=2)])
    specs = attach(scene, RulesPlanner().plan(scene))
    heard = [(i, line.text) for i, s in enumerate(specs) for line in s.dialogue]
    assert [text for _, text in heard] == ["Before anything.", "You again.", "Me again.", "Go."]
    frame_of = dict((text, i) for i, text in heard)
    assert frame_of["Before anything."] == 0
    assert frame_of["You again."] in (2, 3)  # the frames covering the second sentence
    mara_frames = [i for i in (2, 3) if any(c.name == "mara" for c in specs[i].characters)]
    if mara_frames:
        assert frame_of["You again."] == mara_frames[-1]
    assert frame_of["Me again."] in (4, 5) and frame_of["Go."] in (4, 5)


def test_a_scene_without_dialogue_leaves_the_plan_alone():
    scene = Scene(title="t", description="Kaito enters.", frames=2)
    specs = RulesPlanner().plan(scene)
    assert attach(scene, specs) is specs
