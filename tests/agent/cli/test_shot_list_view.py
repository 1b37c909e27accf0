"""What the terminal shows of the plan: `run` ends with the shot list a crew reads (framing, angle, who, action)
unless --quiet, and the chat's /plan shows every prompt whole, wrapped, at any terminal width."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from agent.cli.app import app
from agent.cli.chat_views import plan_table, shot_list_table
from agent.session import Session

ROOT = Path(__file__).resolve().parents[3]
SCENE = ROOT / "examples" / "dialogue.toml"


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    out = tmp_path_factory.mktemp("view") / "dialogue"
    result = CliRunner().invoke(app, ["run", str(SCENE), "--out", str(out), "--renderer", "sketch"])
    assert result.exit_code == 0, result.output
    session = Session.reopen(out, None)
    try:
        return result.output, session.state()
    finally:
        session.close()


def shown(renderable, width: int) -> str:
    console = Console(width=width, record=True, file=open("/dev/null", "w"))
    console.print(renderable)
    return console.export_text()


def words(text: str) -> list[str]:
    return re.findall(r"[\w'’-]+", text)


def test_run_ends_with_the_shot_list_a_crew_reads(drawn):
    output, state = drawn
    table = output[output.index(state.scene.title):]
    seen = words(table)
    for column in ("frame", "shot", "framing", "angle", "move", "who", "action"):
        assert column in seen
    for wanted in ("two-shot", "over Tomas's shoulder", "reaction of Mara", "MCU", "Mara", "Tomas",
                   *words(state.frames[3].spec.action)):
        assert all(word in seen for word in words(wanted)), wanted
    assert "maravance" not in output and "tomasreyes" not in output, "people read display names, not tokens"
    assert output.rstrip().splitlines()[-1].startswith("storyboard: "), "the summary stays last"


def test_quiet_leaves_the_table_out(tmp_path):
    result = CliRunner().invoke(app, ["run", str(SCENE), "--out", str(tmp_path / "q"), "--renderer", "sketch", "-q"])
    assert result.exit_code == 0 and "framing" not in result.output and "storyboard: " in result.output


@pytest.mark.parametrize("width", [40, 60, 80, 120, 200])
def test_the_plan_shows_every_prompt_whole_at_any_width(drawn, width):
    _, state = drawn
    text = shown(plan_table(state, width), width)
    assert max(len(line) for line in text.splitlines()) <= width
    seen = words(text)
    for frame in state.frames:
        for word in words(frame.spec.prompt):
            assert word in seen, (width, word)


@pytest.mark.parametrize("width", [40, 80, 160])
def test_the_shot_list_keeps_every_action_whole_at_any_width(drawn, width):
    _, state = drawn
    text = shown(shot_list_table(state, width), width)
    assert max(len(line) for line in text.splitlines()) <= width
    seen = words(text)
    for frame in state.frames:
        assert all(word in seen for word in words(frame.spec.action)), (width, frame.spec.action)


def test_chat_plan_prints_whole_prompts(tmp_path):
    out = tmp_path / "chat"
    result = CliRunner().invoke(app, ["chat", str(SCENE), "--out", str(out), "--renderer", "sketch"],
                                input="/plan\n/quit\n")
    assert result.exit_code == 0, result.output
    after = result.output[result.output.index("> /plan"):]
    session = Session.reopen(out, None)
    state = session.state()
    session.close()
    seen = words(after)
    for frame in state.frames:
        assert all(word in seen for word in words(frame.spec.prompt))
