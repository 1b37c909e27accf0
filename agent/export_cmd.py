"""The `shotsmith export` command: write a finished storyboard as a PDF sheet, shot list, animatic and timeline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tools.exports import FILES, Options, write_exports
from tools.shot_list import ExportError

DEFAULT_FORMATS = "pdf,csv,json,mp4,gif,otio"


def export(
    folder: Annotated[Path, typer.Argument(help="A storyboard's output folder (the one holding storyboard.json).")],
    format: Annotated[str, typer.Option("--format", help=f"Comma-separated formats: {', '.join(FILES)}.")
                      ] = DEFAULT_FORMATS,
    panels: Annotated[int, typer.Option(help="Panels per PDF page, 1 to 12.")] = 6,
    orientation: Annotated[str, typer.Option(help="PDF page orientation: landscape or portrait.")] = "landscape",
    captions: Annotated[bool, typer.Option(help="Burn frame numbers, shot types and lines into the animatic.")
                        ] = False,
    push_in: Annotated[bool, typer.Option(help="A slow push-in on wide shots in the animatic.")] = False,
    timeline: Annotated[str, typer.Option(help="Extra timeline formats besides .otio, comma-separated "
                                                "(e.g. edl,xml), as the installed OpenTimelineIO adapters allow.")
                        ] = "",
) -> None:
    """Write the storyboard in FOLDER in the formats crews use, next to its images."""
    from agent import cli  # imported here: agent.cli registers this command at its end, so it must load first

    formats = [f.strip().lower().lstrip(".") for f in format.split(",") if f.strip()]
    if not formats:
        cli.fail(f"--format: expected some of {', '.join(FILES)}")
    extra = tuple(f".{t.strip().lower().lstrip('.')}" for t in timeline.split(",") if t.strip())
    if extra and "otio" not in formats:
        formats.append("otio")
    options = Options(panels=panels, orientation=orientation, captions=captions, push_in=push_in,
                      timeline_formats=extra)
    try:
        written = write_exports(folder, list(dict.fromkeys(formats)), options)
    except ExportError as error:
        cli.fail(str(error))
    for path in written:
        cli.console.print(f"wrote {path}", markup=False, highlight=False)
