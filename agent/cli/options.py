"""Command-line options that several commands (`run`, `plan`, `chat`) declare the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

SceneNumber = Annotated[Optional[str], typer.Option("--scene", help="Which scene of a screenplay (its number, "
                                                                   "or its place from 1; default 1).")]
CastFile = Annotated[Optional[Path], typer.Option(help="Cast file (TOML) giving a screenplay's characters tokens, "
                                                       "class words and LoRAs.")]
