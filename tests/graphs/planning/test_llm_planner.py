"""The OpenAI-compatible planner against a local chat-completions server: structured answers, JSON in
text, malformed replies, 429s, timeouts, lint feedback rounds, and a model that never answers in shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_llm import FakeLLM, Reply, Status

from agent.scenes.scene_file import load_scene
from graphs.errors import PlannerError
from graphs.planning.llm_planner import (OpenAIPlanner, PlannedCharacter, PlannedFrame, PlannedScene, system_prompt,
                                         to_spec)
from graphs.planning.planner import RulesPlanner, frame_seed
from prompts.lint import lint_plan
from prompts.shot_types import BY_SLUG
from tools.llm import LLM, LLMConfig

ROOT = Path(__file__).resolve().parents[3]
SCENE = load_scene(ROOT / "examples" / "dialogue.toml", {"frames": 5})


def good_answer(scene=SCENE) -> str:
    """A plan the linter passes, written as the model would send it (made by the rules planner)."""
    frames = [{"shot": BY_SLUG[s.shot_type].number, "prompt": s.prompt, "setting": s.setting, "lighting": s.lighting,
               "action": s.action, "subject": s.subject,
               "characters": [{"name": c.name, "position": c.position, "action": c.action} for c in s.characters]}
              for s in RulesPlanner().plan(scene)]
    return json.dumps({"frames": frames})


def broken_answer() -> str:
    """The good plan with one prompt that names a character by pronoun (rule 2)."""
    data = json.loads(good_answer())
    person = next(f for f in data["frames"] if f["characters"])
    token = person["characters"][0]["name"]
    person["prompt"] = person["prompt"].replace(token, "he", 1)
    return json.dumps(data)


def planner(server: FakeLLM, **config) -> OpenAIPlanner:
    settings = dict(model="local-model", base_url=server.url, api_key="test", timeout=5.0, retries=2) | config
    return OpenAIPlanner(LLM(LLMConfig(**settings)))


def check(specs) -> None:
    assert len(specs) == 5 and not lint_plan(specs, SCENE.characters)
    assert [s.seed for s in specs] == [frame_seed(SCENE, i) for i in range(5)]


def test_a_structured_answer_becomes_frame_specs(tmp_path):
    with FakeLLM([Reply(good_answer())]) as server:
        specs = planner(server).plan(SCENE)
    check(specs)
    request = server.requests[0]
    assert request["model"] == "local-model" and request["response_format"]["type"] == "json_schema"
    assert request["messages"][0]["content"] == system_prompt(SCENE)
    assert "exactly 5 frames" in request["messages"][0]["content"] and "maravance woman" in system_prompt(SCENE)


def test_json_in_prose_is_found_when_the_schema_is_ignored():
    with FakeLLM([Reply(f"Sure! Here is the plan:\n```json\n{good_answer()}\n```\nEnjoy.")]) as server:
        check(planner(server).plan(SCENE))
    assert len(server.requests) == 1


def test_malformed_json_is_sent_back_and_the_next_answer_used():
    with FakeLLM([Reply('{"frames": [{"shot": 2, "prompt": '), Reply(good_answer())]) as server:
        check(planner(server).plan(SCENE))
    assert len(server.requests) == 2 and "could not be read" in server.user_texts(1)[-1]


def test_a_429_is_retried_then_the_answer_used():
    with FakeLLM([Status(429, "slow down"), Reply(good_answer())]) as server:
        check(planner(server).plan(SCENE))
    assert len(server.requests) == 2


def test_a_timeout_is_retried_then_the_answer_used():
    with FakeLLM([Reply(good_answer(), delay=3.0), Reply(good_answer())]) as server:
        check(planner(server, timeout=1.0).plan(SCENE))
    assert len(server.requests) == 2


def test_lint_violations_go_back_to_the_model_and_the_final_plan_has_none():
    with FakeLLM([Reply(broken_answer()), Reply(good_answer())]) as server:
        specs = planner(server).plan(SCENE)
    check(specs)
    feedback = server.user_texts(1)[-1]
    assert "rule 2" in feedback and "he" in feedback and len(server.requests) == 2


def test_a_wrong_frame_count_is_sent_back():
    short = json.dumps({"frames": json.loads(good_answer())["frames"][:3]})
    with FakeLLM([Reply(short), Reply(good_answer())]) as server:
        check(planner(server).plan(SCENE))
    assert "expected 5" in server.user_texts(1)[-1]


def test_a_model_that_never_answers_in_shape_raises_one_line():
    with FakeLLM([], default=Reply("I would rather write a poem.")) as server:
        with pytest.raises(PlannerError) as caught:
            planner(server).plan(SCENE)
    message = str(caught.value)
    assert "never answered in the expected JSON shape" in message and "\n" not in message
    assert len(server.requests) == 3


def test_a_server_that_keeps_failing_raises_one_line():
    with FakeLLM([], default=Status(503, "down for maintenance")) as server:
        with pytest.raises(PlannerError, match="HTTP 503"):
            planner(server, retries=1).plan(SCENE)
    assert len(server.requests) == 2


def test_someone_outside_the_cast_is_sent_back():
    data = json.loads(good_answer())
    person = next(f for f in data["frames"] if f["characters"])
    person["characters"][0]["name"] = "stranger"
    with FakeLLM([Reply(json.dumps(data)), Reply(good_answer())]) as server:
        check(planner(server).plan(SCENE))
    assert "stranger is not in the cast" in server.user_texts(1)[-1]


def test_an_explicit_shot_sequence_is_asked_for_and_checked():
    scene = SCENE.model_copy(update={"frames": None, "shots": [8, 4, 2]})
    with FakeLLM([Reply(good_answer(scene))]) as server:
        specs = planner(server).plan(scene)
    assert [s.shot_type for s in specs] == ["extreme_long", "medium", "close_up"]
    assert "shot types in this order: 8, 4, 2" in server.requests[0]["messages"][0]["content"]


def test_the_answer_schema_is_strict():
    schema = PlannedScene.model_json_schema()
    assert "frames" in schema["properties"]


def test_a_reply_cut_off_at_the_length_limit_is_one_line():
    with FakeLLM([], default=Reply('{"frames": [', finish="length")) as server:
        with pytest.raises(PlannerError, match="no usable reply"):
            planner(server).plan(SCENE)


def test_a_usable_plan_survives_a_later_round_that_breaks_the_count():
    short = json.dumps({"frames": json.loads(good_answer())["frames"][:2]})
    with FakeLLM([Reply(broken_answer()), Reply(short), Reply(short)]) as server:
        specs = planner(server).plan(SCENE)
    assert len(specs) == 5 and len(server.requests) == 3


def test_a_person_written_prompt_is_restaged_in_their_words_without_asking():
    spec = RulesPlanner().plan(SCENE)[1].model_copy(update={"prompt": "Medium shot of a quiet kitchen at dawn.",
                                                           "written_by": "person"})
    with FakeLLM([]) as server:
        staged = planner(server).restage(SCENE, spec, BY_SLUG["close_up"])
    assert staged.prompt == "Close up of a quiet kitchen at dawn." and staged.written_by == "person"
    assert server.requests == []


def test_a_restage_that_moves_people_is_refused():
    from graphs.errors import CorrectionError

    spec = next(s for s in RulesPlanner().plan(SCENE) if s.characters)
    frame = json.loads(good_answer())["frames"][0] | {"shot": 2, "characters": [
        {"name": spec.characters[0].name, "position": "left" if spec.characters[0].position != "left" else "right",
         "action": "waits"}]}
    with FakeLLM([Reply(json.dumps(frame))]) as server:
        with pytest.raises(CorrectionError, match="moved, added or dropped"):
            planner(server).restage(SCENE, spec, BY_SLUG["close_up"])


def test_a_model_plan_is_labelled_with_the_framing_it_holds():
    scene = load_scene(Path(__file__).resolve().parents[3] / "examples" / "investigation.toml", {"frames": 3})
    people = [PlannedCharacter(name="kaitoyosuke", position="left", action="reads"),
              PlannedCharacter(name="jiyeonmun", position="right", action="waits")]
    common = {"prompt": "Long shot of ...", "setting": "an abandoned house", "lighting": "dim night light",
              "action": "They read it together."}
    two = to_spec(scene, PlannedFrame(shot=7, characters=people, subject="", **common), 1)
    one = to_spec(scene, PlannedFrame(shot=2, characters=people[:1], subject="", **common), 1)
    insert = to_spec(scene, PlannedFrame(shot=9, characters=[], subject="the torn letter", **common), 1)
    assert (two.framing, one.framing, insert.framing) == ("two_shot", "single", "insert")
    assert (two.angle, two.movement) == ("eye_level", "static"), "no camera the model did not ask for"
    assert two.prompt == "Long shot of ...", "the model's own prompt is kept as written"
