"""The `shotsmith chat` command: talk to a storyboard in the terminal, one correction per line.

A chat draws the scene (or picks up a session kept in an output folder), shows the shot list as a table,
and then reads lines until the person leaves (agent.cli.conversation). The session is checkpointed in its
folder after every step, so leaving at any point keeps it, and `--session` takes it up again later.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Optional

import typer

from agent.cli.chat_views import SESSIONS
from agent.cli.conversation import Conversation
from agent.cli.options import (AllowPickle, Candidates, CastFile, Frames, Guidance, LlmModel, Planner, Renderer,
                               SceneLibrary, SceneNumber, Scheduler, Seed, Shots, Steps)
from agent.cli.output import fail, fail_on, say, warn
from agent.cli.steps import default_out, make_settings, open_session, read_scene
from agent.config import Choice, make_context, read_library
from agent.session import Session
from graphs.context import Context
from graphs.state import Scene
from tools.errors import ShotsmithError
from tools.models.library import Library


def chat(
    scene: Annotated[Optional[Path], typer.Argument(help="Scene file (TOML) or screenplay (.fountain) for a new "
                                                         "session.")] = None,
    scene_number: SceneNumber = None,
    cast: CastFile = None,
    session_id: Annotated[Optional[str], typer.Option("--session", help="Go on with the session kept in "
                                                      "out/ID (or in --out).")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Output folder; default out/<scene name>, "
                                                     "or out/<ID> with --session.")] = None,
    frames: Frames = None,
    shots: Shots = None,
    planner: Planner = "auto",
    llm_model: LlmModel = None,
    renderer: Renderer = "auto",
    library: SceneLibrary = None,
    width: Annotated[int, typer.Option(help="Frame width in pixels (new sessions).")] = 512,
    height: Annotated[int, typer.Option(help="Frame height in pixels (new sessions).")] = 512,
    steps: Steps = 25,
    guidance: Guidance = 7.5,
    scheduler: Scheduler = "dpm++",
    candidates: Candidates = 1,
    seed: Seed = None,
    allow_pickle: AllowPickle = False,
) -> None:
    """Draw a scene, then take corrections typed one per line until /export or /quit."""
    _check_choice(scene, session_id)
    settings = make_settings(width, height, steps, guidance, scheduler, candidates)
    story = read_scene(scene, frames, shots, seed, scene_number, cast) if scene is not None else None
    folder = out or (SESSIONS / session_id if session_id is not None else default_out(scene, scene_number))
    session, cast = _kept(folder, story) if session_id is not None else (None, story)
    choice = _choose(session, lambda: make_context(planner, renderer, _library(library, scene, cast), allow_pickle,
                                                   llm_model))
    session = _with_context(session, folder, choice.context)
    for notice in choice.notices:
        say(f"notice: {notice}")
    Conversation(session, folder).hold(story, settings)


def _check_choice(scene: Path | None, session_id: str | None) -> None:
    """Refuse a chat given neither a scene nor a session, or a blank session name."""
    if scene is None and session_id is None:
        fail("expected a scene file to start a chat (shotsmith chat SCENE.toml) or --session ID to go on "
             f"with one kept under {SESSIONS}/")
    if session_id is not None and not session_id.strip():
        fail("--session: expected the name of a session folder, such as investigation")


def _kept(folder: Path, story: Scene | None) -> tuple[Session, Scene]:
    """Open the session kept in `folder`; return it and the scene it holds (or the one given, if it never started)."""
    session = _reopen(folder)
    state = session.state()
    cast = state.scene if state is not None else story
    refusal = (f"{folder}: that session never started; give the scene file too to start it there"
               if cast is None else f"{folder}: that session was exported and is finished; start a new one "
               "with shotsmith chat SCENE.toml" if state is not None and state.done else None)
    if refusal:
        session.close()
        fail(refusal)
    return session, cast


def _reopen(folder: Path) -> Session:
    if folder.exists() and not folder.is_dir():
        fail(f"{folder}: expected a session folder, found a file")
    try:
        session = Session.reopen(folder, None)  # the context is set once the library is read
    except ShotsmithError as error:
        if not (folder / "session.json").exists():
            fail(f"{folder}: no session kept here (no session.json); start one with shotsmith chat SCENE.toml")
        fail_on(error)
    for notice in session.notices:
        warn(f"notice: {notice}")
    return session


def _choose(session: Session | None, make: Callable[[], Choice]) -> Choice:
    """Return what `make` chooses; on a bad option or library, close the kept session and fail with one line."""
    try:
        return make()
    except ShotsmithError as error:
        if session is not None:
            session.close()
        fail_on(error)


def _with_context(session: Session | None, folder: Path, context: Context) -> Session:
    """Give a kept session its context, or open a new session in `folder` with it."""
    if session is None:
        return open_session(folder, context, False)
    session.context = context  # opened before the context existed, to read the scene it holds
    return session


def _library(library: Path | None, scene_file: Path | None, scene: Scene | None) -> Library | None:
    """Return the model library: --library, else library.toml beside the scene file, else none."""
    if library is None and scene_file is None:
        return None
    return read_library(library, scene_file or library, scene)
