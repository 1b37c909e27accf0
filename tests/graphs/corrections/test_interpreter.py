"""Reading chat messages with a chat model behind the rules parser, against a local chat-completions server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from counting import CountingRenderer
from fake_llm import FakeLLM, Reply, Status
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.scenes.scene_file import load_scene
from agent.session import Session
from graphs.commands import Clarify, Command, Refusal, Regenerate, Rewrite, SetSetting, SetShot, Swap
from graphs.context import Context
from graphs.corrections.edits import apply_commands
from graphs.corrections.interpreter import interpret
from graphs.errors import CorrectionError
from graphs.planning.planner import RulesPlanner
from graphs.state import Frame, Settings, Storyboard
from tools.llm import LLM, LLMConfig

ROOT = Path(__file__).resolve().parents[3]
SCENE = load_scene(ROOT / "examples" / "dialogue.toml", {"frames": 3})
STATE = Storyboard(scene=SCENE)
COMMANDS = Command.__args__


def llm(server: FakeLLM, replies: int = 3) -> LLM:
    return LLM(LLMConfig(model="local", base_url=server.url, api_key="test", timeout=5.0, retries=0, replies=replies))


def test_phrasings_the_rules_read_never_reach_the_model():
    with FakeLLM([]) as server:
        assert interpret("swap 1 and 2", STATE, llm(server)) == [Swap(first=1, second=2)]
    assert server.requests == []


def test_the_model_reads_what_the_rules_cannot():
    answer = {"commands": [{"kind": "set_shot", "frame": 1, "shot_type": "close_up"},
                           {"kind": "regenerate", "frame": 2}], "question": ""}
    with FakeLLM([Reply(json.dumps(answer))]) as server:
        commands = interpret("could the second frame be tighter on her face, and give me another take of 2",
                             STATE, llm(server))
    assert commands == [SetShot(frame=1, shot_type="close_up"), Regenerate(frame=2)]
    system = server.requests[0]["messages"][0]["content"]
    assert "maravance woman" in system and "(none yet)" in system


def test_the_models_question_comes_back_as_a_clarify():
    answer = {"commands": [], "question": "Do you mean frame 1 or frame 2?"}
    with FakeLLM([Reply(json.dumps(answer))]) as server:
        [question] = interpret("make her shot tighter", STATE, llm(server))
    assert type(question) is Clarify and question.question == "Do you mean frame 1 or frame 2?"


def test_a_model_that_fails_leaves_the_rules_question():
    with FakeLLM([], default=Status(500)) as server:
        commands = interpret("make it pop", STATE, llm(server))
    assert len(commands) == 1 and isinstance(commands[0], Refusal) and "did not understand" in commands[0].question


def test_a_cut_off_reply_leaves_the_rules_refusal():
    with FakeLLM([], default=Reply('{"commands": [', finish="length")) as server:
        commands = interpret("make it pop", STATE, llm(server))
    assert len(commands) == 1 and isinstance(commands[0], Refusal)


@pytest.mark.parametrize("reply", [{"commands": [], "question": ""},
                                   {"commands": [{"kind": "clarify", "question": "  "}], "question": ""}])
def test_a_model_with_nothing_to_offer_leaves_what_the_rules_said(reply):
    with FakeLLM([], default=Reply(json.dumps(reply))) as server:
        refused = interpret("make it pop", STATE, llm(server))
        asked = interpret("make it a close up", STATE, llm(server))
    assert len(refused) == 1 and isinstance(refused[0], Refusal)
    assert len(asked) == 1 and type(asked[0]) is Clarify and "which frame" in asked[0].question


def test_a_frame_message_without_a_colon_goes_to_the_model():
    answer = {"commands": [{"kind": "append", "frame": 2, "text": "brighter morning light"}], "question": ""}
    with FakeLLM([Reply(json.dumps(answer))]) as server:
        commands = interpret("frame 2 is too dark", STATE, llm(server))
    assert [c.kind for c in commands] == ["append"] and len(server.requests) == 1


def test_the_models_commands_meet_the_same_checks():
    frames = [Frame(id=f"f{i}", spec=spec) for i, spec in enumerate(RulesPlanner().plan(SCENE))]
    state = STATE.model_copy(update={"frames": frames})
    update = apply_commands(state, [SetSetting(name="steps", value=30.0), SetShot(frame=1, shot_type="close-up")],
                            RulesPlanner())
    assert update["settings"].steps == 30 and update["frames"][1].spec.shot_type == "close_up"
    with pytest.raises(CorrectionError, match="expected a new prompt"):
        apply_commands(state, [Rewrite(frame=0, prompt="   ")], RulesPlanner())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=80), reply=st.sampled_from([
    "nonsense", '{"commands": [], "question": ""}', '{"commands": [{"kind": "undo"}], "question": ""}',
    '{"commands": [{"kind": "pick", "frame": 1}], "question": ""}', '{"commands": "x"}']))
def test_the_interpreter_never_raises_and_always_answers_in_shape(text, reply):
    with FakeLLM([], default=Reply(reply)) as server:
        commands = interpret(text, STATE, llm(server, replies=1))
    assert commands and all(isinstance(c, COMMANDS) for c in commands)
    assert not any(isinstance(c, Clarify) for c in commands) or len(commands) == 1


def test_a_session_applies_what_the_model_read(tmp_path):
    answer = {"commands": [{"kind": "set_shot", "frame": 1, "shot_type": "extreme_long"}], "question": ""}
    with FakeLLM([Reply(json.dumps(answer))]) as server:
        renderer = CountingRenderer()
        session = Session.create(tmp_path, Context(planner=RulesPlanner(), renderer=renderer, llm=llm(server)))
        list(session.start(SCENE, Settings(width=96, height=96)))
        list(session.send("pull way back on the second one so we see the whole street"))
        state = session.state()
        session.close()
    assert state.frames[1].spec.shot_type == "extreme_long" and renderer.calls == 4
    assert state.applied == ["pull way back on the second one so we see the whole street"]
