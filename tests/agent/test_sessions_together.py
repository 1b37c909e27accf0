"""Two sessions in one process: their GPU work takes turns, the later one hears its place, each keeps its own frames."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from agent.scenes.scene_file import load_scene
from agent.session import Session
from graphs.context import Context
from graphs.events import FrameDrawn, Queued
from graphs.planning.planner import RulesPlanner
from graphs.state import Settings
from tools.models.gpu_queue import GpuQueue
from tools.render.sketch import SketchRenderer

ROOT = Path(__file__).resolve().parents[2]


class SlowRenderer(SketchRenderer):
    """The sketch renderer, slowed down and keeping when each render ran."""

    def __init__(self, spans: list) -> None:
        self.spans = spans

    def render(self, job, on_progress=None):
        start = time.perf_counter()
        time.sleep(0.03)
        result = super().render(job, on_progress)
        self.spans.append((start, time.perf_counter()))
        return result


def test_two_sessions_never_render_at_once_and_keep_their_own_frames(tmp_path):
    queue, spans, events = GpuQueue(), [], {}
    scenes = {"chase": load_scene(ROOT / "examples" / "chase.toml", {"frames": 4}),
              "dialogue": load_scene(ROOT / "examples" / "dialogue.toml", {"frames": 4})}

    def run(name: str) -> None:
        context = Context(planner=RulesPlanner(), renderer=SlowRenderer(spans), gpu_lock=queue)
        session = Session.create(tmp_path / name, context)
        events[name] = list(session.start(scenes[name], Settings(width=96, height=96)))
        session.close()

    threads = [threading.Thread(target=run, args=(name,)) for name in scenes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    spans.sort()
    assert len(spans) == 8
    assert all(earlier[1] <= later[0] for earlier, later in zip(spans, spans[1:])), "two renders overlapped"
    assert any(isinstance(e, Queued) and e.ahead >= 1 for name in scenes for e in events[name])
    for name in scenes:
        shots = sorted(p.name for p in (tmp_path / name / "frames").glob("shot_*.png"))
        assert shots == [f"shot_{i}.png" for i in range(4)]
        paths = [e.path for e in events[name] if isinstance(e, FrameDrawn)]
        assert len(paths) == 4 and all((tmp_path / name / p).exists() for p in paths)
        other = tmp_path / ("dialogue" if name == "chase" else "chase")
        assert not any((other / p).exists() for p in paths)
