"""`shotsmith plan` and `shotsmith run` with --planner openai against a local chat-completions server."""

from __future__ import annotations

import json
from pathlib import Path

from fake_llm import FakeLLM, Reply, Status

from agent.scenes.scene_file import load_scene
from graphs.planning.planner import RulesPlanner
from prompts.shot_types import BY_SLUG

ROOT = Path(__file__).resolve().parents[3]
SCENE_FILE = ROOT / "examples" / "dialogue.toml"


def answer() -> str:
    scene = load_scene(SCENE_FILE)
    frames = [{"shot": BY_SLUG[s.shot_type].number, "prompt": s.prompt, "setting": s.setting, "lighting": s.lighting,
               "action": s.action, "subject": s.subject,
               "characters": [{"name": c.name, "position": c.position, "action": c.action} for c in s.characters]}
              for s in RulesPlanner().plan(scene)]
    return json.dumps({"frames": frames})


def test_plan_with_the_openai_planner_prints_a_plan_that_lint_passes(cli, tmp_path, monkeypatch):
    with FakeLLM([Reply(answer())]) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        result = cli("plan", SCENE_FILE, "--planner", "openai", "--llm-model", "tiny-local")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["planner"] == "openai" and len(document["frames"]) == 8
    assert server.requests[0]["model"] == "tiny-local"
    plan = tmp_path / "plan.json"
    plan.write_text(result.stdout)
    linted = cli("lint", plan)
    assert linted.exit_code == 0, linted.output


def test_plan_offers_the_rules_plan_when_the_model_never_answers_in_shape(cli, monkeypatch):
    with FakeLLM([], default=Reply("no plan today")) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        result = cli("plan", SCENE_FILE, "--planner", "openai")
    assert result.exit_code == 0
    assert "the openai planner gave no usable plan" in result.stderr and "rules planner" in result.stderr
    assert json.loads(result.stdout)["planner"] == "rules"


def test_run_auto_uses_the_model_when_a_base_url_is_set_and_says_so(cli, tmp_path, monkeypatch):
    with FakeLLM([Reply(answer())]) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        result = cli("run", SCENE_FILE, "--out", tmp_path / "out", "--renderer", "sketch")
    assert result.exit_code == 0, result.output
    assert "with the openai planner" in result.stdout
    assert json.loads((tmp_path / "out" / "storyboard.json").read_text())["planner"] == "openai"


def test_run_falls_back_to_rules_with_a_notice(cli, tmp_path, monkeypatch):
    with FakeLLM([], default=Status(500, "broken")) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        result = cli("run", SCENE_FILE, "--out", tmp_path / "out", "--renderer", "sketch", "--planner", "openai")
    assert result.exit_code == 0, result.output
    assert "notice: the openai planner gave no usable plan" in result.stdout and "HTTP 500" in result.stdout
    assert json.loads((tmp_path / "out" / "storyboard.json").read_text())["planner"] == "rules"


def test_the_llm_table_of_the_library_configures_the_planner(cli, tmp_path):
    scene = tmp_path / "scene.toml"
    scene.write_text(SCENE_FILE.read_text())
    with FakeLLM([Reply(answer())]) as server:
        (tmp_path / "library.toml").write_text(f'[model]\nbase = "someone/model"\n[llm]\nmodel = "from-library"\n'
                                               f'base_url = "{server.url}"\ntimeout = 30\nrounds = 1\n')
        result = cli("plan", scene)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["planner"] == "openai" and server.requests[0]["model"] == "from-library"


def test_a_bad_llm_table_is_one_line(cli, tmp_path):
    scene = tmp_path / "scene.toml"
    scene.write_text(SCENE_FILE.read_text())
    (tmp_path / "library.toml").write_text('[model]\nbase = "someone/model"\n[llm]\nrounds = 9\n')
    result = cli("plan", scene)
    assert result.exit_code == 2 and "llm.rounds" in result.stderr and "0 to 5" in result.stderr
