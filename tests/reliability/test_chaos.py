"""The short chaos run (five kills, one aimed at each phase, each resumed with nothing lost), and two things a kill
can leave behind, replayed without one: a step whose writes were saved but not the checkpoint after it, and
half-written temporaries.

The full run (20 kills) is `python tests/reliability/chaos.py`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from chaos import PHASES, run_chaos
from counting import CountingRenderer

import agent.session
from agent.scenes.scene_file import load_scene
from agent.session import Session
from agent.store import PruningSaver
from graphs.context import Context
from graphs.planning.planner import RulesPlanner
from tools.export.animatic import replacing

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.long
def test_killed_sessions_resume_to_the_same_storyboard(tmp_path, tiny_sd, tiny_clip, tiny_sam, tiny_inpaint):
    models = {"base": tiny_sd, "clip": tiny_clip, "sam": tiny_sam[0], "sam_type": tiny_sam[1], "inpaint": tiny_inpaint}
    figures = run_chaos(kills=len(PHASES), seed=1, work_dir=tmp_path, models=models)
    print(figures.table())  # shown with -s, and on failure
    assert sorted(figures.aimed) == sorted(PHASES)
    assert figures.total("resumed") == figures.total("equal") == len(PHASES), figures.table()
    for name in ("rerendered", "picks_lost", "corrupt", "left", "sqlite"):
        assert figures.total(name) == 0, (name, figures.table())
    assert figures.goals_met(), figures.table()


class Killed(Exception):
    """Stands in for a kill that lands after a step's writes are saved and before the checkpoint that follows."""


def test_a_kill_between_a_steps_writes_and_the_next_checkpoint_is_resumed(tmp_path, monkeypatch):
    scene = load_scene(ROOT / "examples" / "investigation.toml", {"frames": 2})
    renderer = CountingRenderer()
    context = Context(planner=RulesPlanner(), renderer=renderer)

    class Dying(PruningSaver):
        def put(self, config, checkpoint, metadata, new_versions):
            if "render" in checkpoint["versions_seen"]:  # the checkpoint after render, whose writes are saved
                raise Killed()
            return super().put(config, checkpoint, metadata, new_versions)

    monkeypatch.setattr(agent.session, "PruningSaver", Dying)
    session = Session.create(tmp_path / "out", context)
    with pytest.raises(Killed):
        list(session.start(scene))
    session.close()
    monkeypatch.undo()
    drawn = renderer.calls

    again = Session.reopen(tmp_path / "out", context)
    try:
        snapshot = again._graph.get_state(again._config)
        assert snapshot.tasks and not snapshot.next  # the case itself: LangGraph reports no next step
        assert again.unfinished() and not again.waiting()
        list(again.carry_on())
        assert again.waiting() and all(frame.image() for frame in again.state().frames)
        assert renderer.calls == drawn, "the saved render was applied, not drawn again"
    finally:
        again.close()


def test_reopening_sweeps_half_written_temporaries_and_nothing_else(tmp_path):
    out = tmp_path / "out"
    Session.create(out, None).close()
    versions = out / "frames" / "versions"
    versions.mkdir(parents=True)
    left = [Path(tempfile.mkstemp(dir=versions, prefix=".f0-abc-0.png.", suffix=".tmp")[1]),
            Path(tempfile.mkstemp(dir=out, prefix=".storyboard.json.", suffix=".tmp")[1])]
    with pytest.raises(Killed), replacing(out / "animatic.mp4") as temporary:  # the video's name while written
        name = temporary.name
        raise Killed()
    left.append(out / name)
    left[-1].write_bytes(b"half a video")
    kept = [versions / "f0-abc-0.png", out / "frames" / ".notes.tmp", out / "animatic.mp4", out / ".gitignore"]
    for path in kept:
        path.write_bytes(b"finished")

    Session.reopen(out, None).close()
    assert [path for path in left if path.exists()] == []
    assert all(path.read_bytes() == b"finished" for path in kept)
