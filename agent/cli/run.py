"""The `shotsmith run` command: plan and render a scene, then apply each --then correction in order.

The work itself is `run_storyboard`, a plain function taking a `Run`; `shotsmith script` calls it too, so
a turns file prints, writes and exits exactly as the same corrections passed with --then would.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Optional

import typer

from agent.cli.chat_views import shot_list_table
from agent.cli.display import Report, show
from agent.cli.options import (AllowPickle, Candidates, CastFile, Frames, Guidance, LlmModel, Planner, Renderer,
                               SceneFile, SceneLibrary, SceneNumber, Scheduler, Seed, Shots, Steps)
from agent.cli.output import console, errors, fail, fail_on, say, warn
from agent.cli.steps import cancel_on_interrupt, default_out, make_settings, open_session, read_scene, summary
from agent.config import make_context, read_library
from agent.session import Session
from graphs.context import Context
from graphs.state import Scene, Settings
from tools.errors import Cancelled, ShotsmithError
from tools.files.text import clean


@dataclass(frozen=True)
class Run:
    """What one run needs: the scene, where to write, the corrections to apply and how to draw.

    The defaults are the `run` command's.
    """

    scene: Path
    out: Path | None = None
    scene_number: str | None = None
    cast: Path | None = None
    frames: int | None = None
    shots: str | None = None
    planner: str = "auto"
    llm_model: str | None = None
    renderer: str = "auto"
    then: list[str] = field(default_factory=list)
    resume: bool = False
    width: int = 512
    height: int = 512
    library: Path | None = None
    steps: int = 25
    guidance: float = 7.5
    scheduler: str = "dpm++"
    candidates: int = 1
    seed: int | None = None
    allow_pickle: bool = False
    quiet: bool = False
    """Leave out the shot list table printed before the summary."""


def run(
    scene: SceneFile,
    out: Annotated[Optional[Path], typer.Option(help="Output folder; default out/<scene name>.")] = None,
    scene_number: SceneNumber = None,
    cast: CastFile = None,
    frames: Frames = None,
    shots: Shots = None,
    planner: Planner = "auto",
    llm_model: LlmModel = None,
    renderer: Renderer = "auto",
    then: Annotated[Optional[list[str]], typer.Option("--then", help="A correction applied after rendering.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the last session in the output folder.")] = False,
    width: Annotated[int, typer.Option(help="Frame width in pixels.")] = 512,
    height: Annotated[int, typer.Option(help="Frame height in pixels.")] = 512,
    library: SceneLibrary = None,
    steps: Steps = 25,
    guidance: Guidance = 7.5,
    scheduler: Scheduler = "dpm++",
    candidates: Candidates = 1,
    seed: Seed = None,
    allow_pickle: AllowPickle = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Do not print the shot list table.")] = False,
) -> None:
    """Plan and render a storyboard, then apply each --then correction in order, and print the shot list."""
    run_storyboard(Run(scene=scene, out=out, scene_number=scene_number, cast=cast, frames=frames, shots=shots,
                       planner=planner, llm_model=llm_model, renderer=renderer, then=then or [], resume=resume,
                       width=width, height=height, library=library, steps=steps, guidance=guidance,
                       scheduler=scheduler, candidates=candidates, seed=seed, allow_pickle=allow_pickle,
                       quiet=quiet))


def run_storyboard(request: Run) -> None:
    """Draw the storyboard (or finish a resumed one) and apply the corrections; exit 1 if one fails or asks."""
    settings = make_settings(request.width, request.height, request.steps, request.guidance, request.scheduler,
                             request.candidates)
    then = [clean(text) for text in request.then]  # no escape sequence reaches the terminal or the storyboard
    story = read_scene(request.scene, request.frames, request.shots, request.seed, request.scene_number,
                       request.cast)
    out = request.out or default_out(request.scene, request.scene_number)
    context = _context(request, story)
    session = open_session(out, context, request.resume)
    report = Report()
    with cancel_on_interrupt(context.renderer, context.inpainter), _render_errors(session):
        pending = (_continue(session, then, report) if request.resume
                   else _start(session, story, settings, report, then))
        _apply(session, pending, report)
    if not request.quiet and session.state().frames:
        console.print(shot_list_table(session.state(), console.width))
    summary(session.state(), out, report)
    session.close()
    if report.questions and not report.errors:
        warn("error: a correction changed nothing because it left a question open (shown above); reword it so it "
             "needs no answer")
    if report.errors or report.questions:
        raise typer.Exit(1)


def _context(request: Run, story: Scene) -> Context:
    """Build the planner and renderer the options name, printing a notice for each fallback."""
    try:
        choice = make_context(request.planner, request.renderer, read_library(request.library, request.scene, story),
                              request.allow_pickle, request.llm_model)
    except ShotsmithError as error:
        fail_on(error)
    for notice in choice.notices:
        say(f"notice: {notice}")
    return choice.context


def _start(session: Session, story: Scene, settings: Settings, report: Report, thens: list[str]) -> list[str]:
    show(session.start(story, settings), console, errors, report)
    return thens


def _continue(session: Session, thens: list[str], report: Report) -> list[str]:
    """Return the corrections not yet applied in a resumed session, after finishing any cut-off work."""
    state = session.state()
    if state is None:
        fail(f"{session.out_dir}: the session there never started; run without --resume")
    show(session.carry_on(), console, errors, report)
    done = session.state().applied
    return thens[len(done):] if thens[: len(done)] == done else thens


def _apply(session: Session, pending: list[str], report: Report) -> None:
    """Send each correction in turn, stopping at the first that fails or asks a question."""
    for text in pending:
        console.print(f"> {text}", markup=False, highlight=False)
        show(session.send(text), console, errors, report)  # a failure reaches _render_errors, around this
        if report.errors or report.questions:
            break


AGAIN = "fix it and run again with --resume"


@contextmanager
def _render_errors(session: Session) -> Iterator[None]:
    """Turn a model or LoRA problem met while rendering into one line; finished frames stay on disk."""
    try:
        yield
    except ShotsmithError as error:  # a model, a LoRA, the GPU or a full disk: what is finished stays
        session.close()
        said = "--resume" in str(error)  # a full disk's line already says how to go on
        fail_on(error, "" if said else f" (frames finished before this stay on disk; {AGAIN})")
    except Cancelled as error:
        session.close()
        fail(str(error), 130)
