"""A chat model's reply far larger than any plan (10 MB) is refused in one line, never parsed or sent back,
and neither the planner path nor the correction path loses anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_llm import FakeLLM, Reply, Status

import tools.llm
from agent.scenes.scene_file import load_scene
from agent.session import Session
from graphs.context import Context
from graphs.corrections.interpreter import Interpretation
from graphs.events import Notice, Planned, Problem
from graphs.events import Reply as Answer
from graphs.planning.llm_planner import OpenAIPlanner, PlannedScene, plan_or_rules
from graphs.planning.planner import RulesPlanner
from graphs.state import Settings
from tools.errors import LLMError
from tools.llm import LLM, MAX_REPLY_BYTES, LLMConfig
from tools.render.sketch import SketchRenderer

ROOT = Path(__file__).resolve().parents[3]
SCENE = load_scene(ROOT / "examples" / "dialogue.toml", {"frames": 3})
HUGE = Reply('{"frames": [], "commands": [], "question": "' + "a" * (10 * 1024 * 1024) + '"}')
TOO_BIG = "the reply is 10.0 MB; expected at most 256 kB of JSON"


def llm(server: FakeLLM) -> LLM:
    return LLM(LLMConfig(model="local", base_url=server.url, api_key="test", timeout=10.0, retries=0, replies=3))


@pytest.fixture
def no_extraction(monkeypatch):
    """Fail the test if the reply's text is searched for JSON."""
    def refuse(text, schema):
        raise AssertionError(f"extract() was called on {len(text)} characters")
    monkeypatch.setattr(tools.llm, "extract", refuse)


def test_a_10_mb_reply_is_one_line_and_never_parsed_or_sent_back(no_extraction):
    messages = [{"role": "user", "content": "plan it"}]
    with FakeLLM([], default=HUGE) as server:
        with pytest.raises(LLMError) as caught:
            llm(server).ask(messages, PlannedScene)
    message = str(caught.value)
    assert TOO_BIG in message and "\n" not in message and len(message) < 200
    assert messages == [{"role": "user", "content": "plan it"}]  # nothing appended to the conversation
    assert len(server.requests) == 1  # not asked again


def test_a_reply_under_the_limit_is_still_read():
    padded = json.dumps({"commands": [{"kind": "undo"}], "question": ""}) + " " * (MAX_REPLY_BYTES - 1000)
    with FakeLLM([Reply(padded)]) as server:
        answer = llm(server).ask([{"role": "user", "content": "undo"}], Interpretation)
    assert [c.kind for c in answer.commands] == ["undo"]


def test_a_10_mb_error_body_is_one_short_line():
    with FakeLLM([], default=Status(500, "x" * (10 * 1024 * 1024))) as server:
        with pytest.raises(LLMError) as caught:
            llm(server).ask([{"role": "user", "content": "plan it"}], PlannedScene)
    assert "HTTP 500" in str(caught.value) and len(str(caught.value)) < 300


def test_the_planner_falls_back_to_the_rules_and_says_why(no_extraction):
    with FakeLLM([], default=HUGE) as server:
        specs, name, notice = plan_or_rules(OpenAIPlanner(llm(server)), SCENE)
    assert name == "rules" and len(specs) == 3 and TOO_BIG in notice and len(server.requests) == 1


def test_a_session_planned_by_the_model_starts_with_the_rules_plan(tmp_path, no_extraction):
    with FakeLLM([], default=HUGE) as server:
        session = Session.create(tmp_path, Context(planner=OpenAIPlanner(llm(server)), renderer=SketchRenderer()))
        events = list(session.start(SCENE, Settings(width=64, height=64)))
        waiting = session.waiting()
        session.close()
    notices = [e.message for e in events if isinstance(e, Notice)]
    assert any(TOO_BIG in n for n in notices) and waiting
    assert next(e for e in events if isinstance(e, Planned)).planner == "rules"


def test_a_correction_read_by_a_model_that_sends_10_mb_loses_nothing(tmp_path, no_extraction):
    with FakeLLM([], default=HUGE) as server:
        session = Session.create(tmp_path, Context(planner=RulesPlanner(), renderer=SketchRenderer(), llm=llm(server)))
        list(session.start(SCENE, Settings(width=64, height=64)))
        before = session.state()
        events = list(session.send("make the whole thing pop more"))
        after = session.state()
        assert session.waiting()
        swapped = [type(e) for e in session.send("swap 0 and 1")]  # the rules still work afterwards
        session.close()
    [error] = [e.message for e in events if isinstance(e, Problem)]
    assert TOO_BIG in error and "did not understand" in error and len(error) < 1000
    assert after.frames == before.frames and after.applied == before.applied
    assert Answer in swapped and len(server.requests) == 1
