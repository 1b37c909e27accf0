"""The short fuzz run of the default test suite: generated turns through the rules reader, the edits and
the whole graph, and every class of malformed model reply. The long run is `python tests/reliability/fuzz.py`."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

import fuzz
from agent.session import Session
from graphs.context import Context
from graphs.planning.planner import RulesPlanner
from tools.render.sketch import SketchRenderer


@settings(max_examples=400, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(text=fuzz.turn())
def test_any_turn_is_read_and_applied_in_memory_without_an_unhandled_exception(text):
    tally = fuzz.run_reader([text])
    assert not tally.unhandled and not tally["out_of_shape"]


@pytest.mark.long
def test_generated_turns_through_the_graph_leave_every_session_waiting():
    turns = fuzz.generate_turns(1000, 7)
    reader = fuzz.run_reader(turns)
    graph = fuzz.run_graph(turns[::6])
    assert reader.unhandled == [] and reader["out_of_shape"] == 0
    assert graph.unhandled == [] and graph["not_waiting"] == 0 and graph["unknown_events"] == 0
    assert graph["turns"] == len(turns[::6]) and graph["applied"] > 10 and graph["refused"] > 10


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    live = Session.create(tmp_path_factory.mktemp("fuzz"), Context(planner=RulesPlanner(), renderer=SketchRenderer()))
    list(live.start(fuzz.SCENE, fuzz.SETTINGS))
    yield live
    live.close()


@pytest.mark.parametrize("name", [name for name, _ in fuzz.corpus()])
def test_a_malformed_reply_ends_in_an_llm_error_or_a_fallback(name, session):
    outcome = fuzz.try_reply(dict(fuzz.corpus())[name], session)  # built per test: two replies are 10 MB
    assert not fuzz.missed(outcome), outcome
    assert all("UNHANDLED" not in text for text in outcome.values())
    assert outcome["planner"].startswith(("LLMError, rules stood in: ", "model plan used (openai)"))
    assert outcome["session"].startswith("waiting")
