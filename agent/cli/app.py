"""The shotsmith command: run a scene to a storyboard, print a plan, lint a storyboard."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from agent.config import ConfigError, make_context, make_planner, read_library
from agent.cli.display import Report, show
from agent.cli.options import CastFile, SceneNumber
from agent.scenes.scene_file import SceneError, load_scene
from agent.session import Session, SessionError
from graphs.context import Context
from graphs.frames.document import read_plan
from graphs.planning.llm_planner import plan_or_rules
from graphs.state import Settings, Storyboard
from prompts.lint import lint_plan
from tools.render.diffusion import Cancelled
from tools.files.bounded import STORYBOARD_LIMIT, FileRefused, read_text
from tools.models.hub import SCHEDULERS
from tools.models.library import LibraryError
from tools.files.text import clean

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Shotsmith: storyboards from a scene.")
console = Console()
errors = Console(stderr=True)


def fail(message: str, code: int = 2) -> None:
    """Print one line on stderr and exit."""
    errors.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _shots(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        fail(f"--shots: expected shot numbers 1-9 separated by commas, such as 2,3,8; got {text!r}")


SCREENPLAY_SUFFIXES = (".fountain", ".spmd")
"""Files read as Fountain screenplays rather than TOML scene files."""


def _scene(path: Path, frames: int | None, shots: str | None, seed: int | None = None, number: str | None = None,
           cast: Path | None = None):
    """Read a scene file, or one scene of a Fountain screenplay, with the command line's overrides."""
    if path.suffix.lower() not in SCREENPLAY_SUFFIXES and (number is not None or cast is not None):
        fail(f"--scene and --cast are for screenplays ({', '.join(SCREENPLAY_SUFFIXES)}); {path} is a scene file")
    overrides = {"frames": frames} if frames is not None else {}
    if shots is not None:
        overrides = {"shots": _shots(shots)}
    if seed is not None:
        overrides["seed"] = seed
    try:
        if path.suffix.lower() in SCREENPLAY_SUFFIXES:
            return _screenplay_scene(path, number, cast, overrides)
        return load_scene(path, overrides)
    except SceneError as error:
        fail(str(error))


def _screenplay_scene(path: Path, number: str | None, cast: Path | None, overrides: dict):
    from agent.scenes.screenplay import read_screenplay, scene_from_screenplay

    story = scene_from_screenplay(path, number, cast, overrides.get("frames"))
    if number is None and len(scenes := read_screenplay(path)) > 1:
        errors.print(f"notice: {path} has {len(scenes)} scenes; using scene {scenes[0].label} "
                     f"({scenes[0].heading}); pick another with --scene N", markup=False, highlight=False,
                     soft_wrap=True)
    if "shots" in overrides:
        story = story.model_copy(update={"shots": overrides["shots"], "frames": None})
    return story.model_copy(update={"seed": overrides["seed"]}) if "seed" in overrides else story


def _default_out(scene: Path, number: str | None) -> Path:
    """Name the output folder after the scene file, and after the scene for a screenplay."""
    return Path("out") / (f"{scene.stem}-scene{number}" if number is not None else scene.stem)


def _continue(session: Session, thens: list[str], report: Report) -> list[str]:
    """Return the corrections not yet applied in a resumed session, after finishing any cut-off work."""
    state = session.state()
    if state is None:
        fail(f"{session.out_dir}: the session there never started; run without --resume")
    show(session.carry_on(), console, errors, report)
    done = session.state().applied
    return thens[len(done):] if thens[: len(done)] == done else thens


@app.command()
def run(
    scene: Annotated[Path, typer.Argument(help="Scene file (TOML), or a screenplay (.fountain).")],
    out: Annotated[Optional[Path], typer.Option(help="Output folder; default out/<scene name>.")] = None,
    scene_number: SceneNumber = None,
    cast: CastFile = None,
    frames: Annotated[Optional[int], typer.Option(help="Number of frames (overrides the scene).")] = None,
    shots: Annotated[Optional[str], typer.Option(help="Shot numbers such as 2,3,8 (overrides the scene).")] = None,
    planner: Annotated[str, typer.Option(help="auto, rules or openai.")] = "auto",
    llm_model: Annotated[Optional[str], typer.Option(help="Chat model for --planner openai "
                                                          "(default: SHOTSMITH_LLM_MODEL, else gpt-4o-mini).")] = None,
    renderer: Annotated[str, typer.Option(help="auto, sketch or diffusers.")] = "auto",
    then: Annotated[Optional[list[str]], typer.Option("--then", help="A correction applied after rendering.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the last session in the output folder.")] = False,
    width: Annotated[int, typer.Option(help="Frame width in pixels.")] = 512,
    height: Annotated[int, typer.Option(help="Frame height in pixels.")] = 512,
    library: Annotated[Optional[Path], typer.Option(help="Model library (library.toml); default: "
                                                          "the one beside the scene.")] = None,
    steps: Annotated[int, typer.Option(help="Denoising steps.")] = 25,
    guidance: Annotated[float, typer.Option(help="Guidance scale.")] = 7.5,
    scheduler: Annotated[str, typer.Option(help="dpm++, ddim or euler_a.")] = "dpm++",
    candidates: Annotated[int, typer.Option(help="Images per frame; the first becomes the shot.")] = 1,
    seed: Annotated[Optional[int], typer.Option(help="Base seed; frame seeds follow from it.")] = None,
    allow_pickle: Annotated[bool, typer.Option("--allow-pickle", help="Also load .ckpt/.bin weights, "
                                                                       "which can run code.")] = False,
) -> None:
    """Plan and render a storyboard, then apply each --then correction in order."""
    settings = _settings(width, height, steps, guidance, scheduler, candidates)
    then = [clean(text) for text in then or []]  # no escape sequence reaches the terminal or the storyboard
    story = _scene(scene, frames, shots, seed, scene_number, cast)
    out = out or _default_out(scene, scene_number)
    try:
        choice = make_context(planner, renderer, read_library(library, scene, story), allow_pickle, llm_model)
    except (ConfigError, LibraryError) as error:
        fail(str(error))
    for notice in choice.notices:
        console.print(f"notice: {notice}", markup=False, highlight=False, soft_wrap=True)
    session = _open(out, choice.context, resume)
    report = Report()
    with _cancel_on_interrupt(choice.context.renderer, choice.context.inpainter), _render_errors(session):
        pending = _continue(session, then or [], report) if resume else _start(session, story, settings, report,
                                                                                then)
        for text in pending:
            console.print(f"> {text}", markup=False, highlight=False)
            try:
                show(session.send(text), console, errors, report)
            except SessionError as error:
                session.close()
                fail(str(error), 1)
            if report.errors or report.questions:
                break
    _summary(session.state(), out, report)
    session.close()
    if report.questions and not report.errors:
        errors.print("error: a correction changed nothing because it left a question open (shown above); reword "
                     "it so it needs no answer", markup=False, highlight=False, soft_wrap=True)
    if report.errors or report.questions:
        raise typer.Exit(1)


def _open(out: Path, context: Context, resume: bool) -> Session:
    """Return the session in the output folder: the last one when resuming, else a new one."""
    if out.exists() and not out.is_dir():
        fail(f"--out {out}: expected a folder, found a file")
    try:
        session = Session.reopen(out, context) if resume else Session.create(out, context)
    except SessionError as error:
        fail(str(error))
    except OSError as error:
        fail(f"--out {out}: cannot use this folder ({error.strerror or error})")
    for notice in session.notices:
        errors.print(f"notice: {notice}", markup=False, highlight=False, soft_wrap=True)
    return session


def _settings(width: int, height: int, steps: int, guidance: float, scheduler: str, candidates: int) -> Settings:
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


def _start(session: Session, story, settings: Settings, report: Report, thens: list[str] | None) -> list[str]:
    show(session.start(story, settings), console, errors, report)
    return thens or []


@contextmanager
def _cancel_on_interrupt(*workers: object) -> Iterator[None]:
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


@contextmanager
def _render_errors(session: Session) -> Iterator[None]:
    """Turn a model or LoRA problem met while rendering into one line; finished frames stay on disk."""
    try:
        yield
    except LibraryError as error:
        session.close()
        fail(f"{error} (frames finished before this stay on disk; fix it and run again with --resume)")
    except Cancelled as error:
        session.close()
        fail(str(error), 130)
    except SessionError as error:  # the folder became unwritable (a full disk): what is finished stays
        session.close()
        fail(str(error), 1)


def _summary(state: Storyboard, out: Path, report: Report) -> None:
    broken = sum(len(f.lint) for f in state.frames)
    console.print(f"{len(state.frames)} frames by the {state.planner} planner, drawn by the {state.renderer} "
                  f"renderer ({report.rendered} rendered, {report.reused} reused from files already on disk); "
                  f"{broken} lint violations", soft_wrap=True, markup=False, highlight=False)
    console.print(f"storyboard: {out / 'storyboard.png'}  data: {out / 'storyboard.json'}", markup=False,
                  highlight=False, soft_wrap=True)


@app.command()
def plan(
    scene: Annotated[Path, typer.Argument(help="Scene file (TOML), or a screenplay (.fountain).")],
    scene_number: SceneNumber = None,
    cast: CastFile = None,
    frames: Annotated[Optional[int], typer.Option(help="Number of frames (overrides the scene).")] = None,
    shots: Annotated[Optional[str], typer.Option(help="Shot numbers such as 2,3,8 (overrides the scene).")] = None,
    planner: Annotated[str, typer.Option(help="auto, rules or openai.")] = "auto",
    llm_model: Annotated[Optional[str], typer.Option(help="Chat model for --planner openai "
                                                          "(default: SHOTSMITH_LLM_MODEL, else gpt-4o-mini).")] = None,
    library: Annotated[Optional[Path], typer.Option(help="library.toml (its [llm] table configures the chat "
                                                         "model); default: the one beside the scene.")] = None,
) -> None:
    """Print the frame specs for a scene as JSON, without rendering."""
    story = _scene(scene, frames, shots, number=scene_number, cast=cast)
    try:
        chosen = make_planner(planner, llm_model, read_library(library, scene, story))
    except (ConfigError, LibraryError) as error:
        fail(str(error))
    specs, name, notice = plan_or_rules(chosen, story)
    if notice:
        errors.print(f"notice: {notice}", markup=False, highlight=False, soft_wrap=True)
    violations = lint_plan(specs, story.characters)
    document = {
        "title": story.title, "planner": name,
        "characters": [c.model_dump(by_alias=True) for c in story.characters],
        "frames": [{"index": i, **s.model_dump(by_alias=True), "lint": [v.model_dump() for v in violations
                                                                         if v.frame == i]}
                   for i, s in enumerate(specs)],
    }
    typer.echo(json.dumps(document, indent=2, ensure_ascii=False))


@app.command()
def lint(storyboard: Annotated[Path, typer.Argument(help="storyboard.json, or the output of `shotsmith plan`.")]) -> None:
    """Check every frame prompt against the planning rules; exit 1 if any rule is broken."""
    try:
        text = read_text(storyboard, STORYBOARD_LIMIT, "storyboard.json or plan (JSON)")
        cast, specs = read_plan(json.loads(text))
    except FileNotFoundError:
        fail(f"{storyboard}: no such file")
    except FileRefused as error:
        fail(str(error))
    except (OSError, ValueError) as error:
        fail(f"{storyboard}: {str(error).splitlines()[0]}")
    violations = lint_plan(specs, cast)
    for violation in violations:
        typer.echo(str(violation))
    typer.echo(f"{len(violations)} violations in {len(specs)} frames")
    if violations:
        raise typer.Exit(1)
from agent.cli.script import script  # noqa: E402  (registered last: it reuses this module's helpers)
app.command()(script)
from agent.cli.chat import chat  # noqa: E402  (registered last: it reuses this module's helpers)
app.command()(chat)
from agent.cli.bots import discord_cmd  # noqa: E402  (registered last: it reuses this module's helpers)
app.command("discord")(discord_cmd)
from agent.cli.bots import slack  # noqa: E402  (registered last: it reuses this module's helpers)
app.command()(slack)
from agent.cli.export import export  # noqa: E402  (registered last: it reuses this module's helpers)
app.command()(export)
from agent.cli.train import train_app  # noqa: E402  (registered last: it reuses this module's helpers)
app.add_typer(train_app, name="train")
