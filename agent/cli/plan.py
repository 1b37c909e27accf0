"""The `shotsmith plan` command: print a scene's shot list as JSON, without drawing anything."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from agent.cli.options import CastFile, Frames, LlmModel, Planner, SceneFile, SceneNumber, Shots
from agent.cli.output import fail_on, warn
from agent.cli.steps import read_scene
from agent.config import make_planner, read_library
from graphs.planning.llm_planner import plan_or_rules
from prompts.lint import lint_plan
from tools.errors import ShotsmithError


def plan(
    scene: SceneFile,
    scene_number: SceneNumber = None,
    cast: CastFile = None,
    frames: Frames = None,
    shots: Shots = None,
    planner: Planner = "auto",
    llm_model: LlmModel = None,
    library: Annotated[Optional[Path], typer.Option(help="library.toml (its [llm] table configures the chat "
                                                         "model); default: the one beside the scene.")] = None,
) -> None:
    """Print the frame specs for a scene as JSON, without rendering."""
    story = read_scene(scene, frames, shots, number=scene_number, cast=cast)
    try:
        chosen = make_planner(planner, llm_model, read_library(library, scene, story))
    except ShotsmithError as error:
        fail_on(error)
    specs, name, notice = plan_or_rules(chosen, story)
    if notice:
        warn(f"notice: {notice}")
    violations = lint_plan(specs, story.characters)
    document = {
        "title": story.title, "planner": name,
        "characters": [c.model_dump(by_alias=True) for c in story.characters],
        "frames": [{"index": i, **s.model_dump(by_alias=True), "lint": [v.model_dump() for v in violations
                                                                         if v.frame == i]}
                   for i, s in enumerate(specs)],
    }
    typer.echo(json.dumps(document, indent=2, ensure_ascii=False))
