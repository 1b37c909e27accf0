"""Command-line options that several commands declare the same way, each written once here.

Each is an Annotated type a command gives a parameter; the default stays in the command's signature. An
option whose help differs from one command to the next (--out, --library for the bots) is declared by its
command instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

SceneFile = Annotated[Path, typer.Argument(help="Scene file (TOML), or a screenplay (.fountain).")]
SceneNumber = Annotated[Optional[str], typer.Option("--scene", help="Which scene of a screenplay (its number, "
                                                                   "or its place from 1; default 1).")]
CastFile = Annotated[Optional[Path], typer.Option(help="Cast file (TOML) giving a screenplay's characters tokens, "
                                                       "class words and LoRAs.")]
Frames = Annotated[Optional[int], typer.Option(help="Number of frames (overrides the scene).")]
Shots = Annotated[Optional[str], typer.Option(help="Shot numbers such as 2,3,8 (overrides the scene).")]

Planner = Annotated[str, typer.Option(help="auto, rules or openai.")]
LlmModel = Annotated[Optional[str], typer.Option(help="Chat model for --planner openai "
                                                      "(default: SHOTSMITH_LLM_MODEL, else gpt-4o-mini).")]
Renderer = Annotated[str, typer.Option(help="auto, sketch or diffusers.")]
SceneLibrary = Annotated[Optional[Path], typer.Option(help="Model library (library.toml); default: "
                                                           "the one beside the scene.")]
AllowPickle = Annotated[bool, typer.Option("--allow-pickle", help="Also load .ckpt/.bin weights, "
                                                                   "which can run code.")]

Steps = Annotated[int, typer.Option(help="Denoising steps.")]
Guidance = Annotated[float, typer.Option(help="Guidance scale.")]
Scheduler = Annotated[str, typer.Option(help="dpm++, ddim or euler_a.")]
Candidates = Annotated[int, typer.Option(help="Images per frame; the first becomes the shot.")]
Seed = Annotated[Optional[int], typer.Option(help="Base seed; frame seeds follow from it.")]
