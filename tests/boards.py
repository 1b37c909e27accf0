"""A small sketch board in a session, for the tests that correct one and count what is drawn again."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agent.scenes.scene_file import load_scene
from agent.session import Session
from graphs.context import Context
from graphs.events import Problem
from graphs.planning.planner import RulesPlanner
from graphs.state import Settings, Storyboard

SCENE_FILE = Path(__file__).resolve().parents[1] / "examples" / "investigation.toml"


@contextmanager
def board(folder: Path, renderer: object, frames: int, size: int = 128, candidates: int = 1) -> Iterator[Session]:
    """A session in `folder` that has planned and drawn `frames` frames of the investigation with `renderer`."""
    scene = load_scene(SCENE_FILE, {"frames": frames})
    session = Session.create(folder, Context(planner=RulesPlanner(), renderer=renderer))
    try:
        list(session.start(scene, Settings(width=size, height=size, candidates=candidates)))
        yield session
    finally:
        session.close()


def send(session: Session, text: str) -> Storyboard:
    """Send a correction that must be applied: no problem reported and no refusal in the notice."""
    events = list(session.send(text))
    state = session.state()
    assert not [e for e in events if isinstance(e, Problem)], state.notice
    assert not state.notice.startswith("error:"), state.notice
    return state


def shot_files(out: Path) -> dict[str, bytes]:
    """The published shot_<i>.png files by name."""
    return {p.name: p.read_bytes() for p in sorted((out / "frames").glob("shot_*.png"))}
