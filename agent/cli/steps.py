"""The steps every drawing command shares: read the scene with the command line's overrides, check the render
settings, open the session in an output folder, let Ctrl-C stop a render, and print the closing summary."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agent.cli.display import Report
from agent.cli.output import fail, fail_on, say, warn
from agent.scenes.scene_file import load_scene
from agent.session import Session
from graphs.context import Context
from graphs.state import Scene, Settings, Storyboard
from tools.errors import ShotsmithError
from tools.models.hub import SCHEDULERS

SCREENPLAY_SUFFIXES = (".fountain", ".spmd")
"""Files read as Fountain screenplays rather than TOML scene files."""


def read_scene(path: Path, frames: int | None, shots: str | None, seed: int | None = None,
               number: str | None = None, cast: Path | None = None) -> Scene:
    """Read a scene file, or one scene of a Fountain screenplay, with the command line's overrides."""
    if path.suffix.lower() not in SCREENPLAY_SUFFIXES and (number is not None or cast is not None):
        fail(f"--scene and --cast are for screenplays ({', '.join(SCREENPLAY_SUFFIXES)}); {path} is a scene file")
    overrides = {"frames": frames} if frames is not None else {}
    if shots is not None:
        overrides = {"shots": shot_numbers(shots)}
    if seed is not None:
        overrides["seed"] = seed
    try:
        if path.suffix.lower() in SCREENPLAY_SUFFIXES:
            return screenplay_scene(path, number, cast, overrides)
        return load_scene(path, overrides)
    except ShotsmithError as error:
        fail_on(error)


def shot_numbers(text: str) -> list[int]:
    """Read --shots, such as 2,3,8, as a list of shot numbers."""
    try:
        return [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        fail(f"--shots: expected shot numbers 1-9 separated by commas, such as 2,3,8; got {text!r}")


def screenplay_scene(path: Path, number: str | None, cast: Path | None, overrides: dict) -> Scene:
    """Read one scene of a screenplay, saying which was taken when the file holds several and none was named."""
    from agent.scenes.screenplay import read_screenplay, scene_from_screenplay  # only screenplays need it

    story = scene_from_screenplay(path, number, cast, overrides.get("frames"))
    if number is None and len(scenes := read_screenplay(path)) > 1:
        warn(f"notice: {path} has {len(scenes)} scenes; using scene {scenes[0].label} ({scenes[0].heading}); "
             "pick another with --scene N")
    if "shots" in overrides:
        story = story.model_copy(update={"shots": overrides["shots"], "frames": None})
    return story.model_copy(update={"seed": overrides["seed"]}) if "seed" in overrides else story


def default_out(scene: Path, number: str | None) -> Path:
    """Name the output folder after the scene file, and after the scene for a screenplay."""
    return Path("out") / (f"{scene.stem}-scene{number}" if number is not None else scene.stem)


def make_settings(width: int, height: int, steps: int, guidance: float, scheduler: str,
                  candidates: int) -> Settings:
    """Check the render options and return them as Settings; fail on the first out of range."""
    for name, size in (("width", width), ("height", height)):
        if not 64 <= size <= 2048 or size % 8:
            fail(f"--{name}: expected a multiple of 8 from 64 to 2048, got {size}")
    if not 1 <= steps <= 150:
        fail(f"--steps: expected a whole number from 1 to 150, got {steps}")
    if not 0 <= guidance <= 30:
        fail(f"--guidance: expected a number from 0 to 30, got {guidance}")
    if scheduler not in SCHEDULERS:
        fail(f"--scheduler: expected one of {', '.join(SCHEDULERS)}, got {scheduler!r}")
    if not 1 <= candidates <= 8:
        fail(f"--candidates: expected a whole number from 1 to 8, got {candidates}")
    return Settings(width=width, height=height, steps=steps, guidance=guidance, scheduler=scheduler,
                    candidates=candidates)


def open_session(out: Path, context: Context, resume: bool) -> Session:
    """Return the session in the output folder: the last one when resuming, else a new one."""
    if out.exists() and not out.is_dir():
        fail(f"--out {out}: expected a folder, found a file")
    try:
        session = Session.reopen(out, context) if resume else Session.create(out, context)
    except ShotsmithError as error:
        fail_on(error)
    except OSError as error:
        fail(f"--out {out}: cannot use this folder ({error.strerror or error})")
    for notice in session.notices:
        warn(f"notice: {notice}")
    return session


def summary(state: Storyboard, out: Path, report: Report) -> None:
    """Print the closing lines: what was drawn and by whom, and where the storyboard is."""
    broken = sum(len(f.lint) for f in state.frames)
    say(f"{len(state.frames)} frames by the {state.planner} planner, drawn by the {state.renderer} renderer "
        f"({report.rendered} rendered, {report.reused} reused from files already on disk); {broken} lint violations")
    say(f"storyboard: {out / 'storyboard.png'}  data: {out / 'storyboard.json'}")


@contextmanager
def cancel_on_interrupt(*workers: object) -> Iterator[None]:
    """Let Ctrl-C stop a render or inpaint after its current step; a second Ctrl-C stops at once."""
    cancels = [cancel for worker in workers if (cancel := getattr(worker, "cancel", None)) is not None]
    if not cancels or threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        signal.signal(signal.SIGINT, previous)
        for cancel in cancels:
            cancel()
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
