"""The `shotsmith export` command: write a finished storyboard as a PDF sheet, shot list, animatic and timeline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from agent.cli.output import console, fail, fail_on
from tools.errors import ShotsmithError
from tools.export.exports import FILES, Options, write_exports
from tools.files.folder_lock import FolderLock

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
    formats = [f.strip().lower().lstrip(".") for f in format.split(",") if f.strip()]
    if not formats:
        fail(f"--format: expected some of {', '.join(FILES)}")
    extra = tuple(f".{t.strip().lower().lstrip('.')}" for t in timeline.split(",") if t.strip())
    if extra and "otio" not in formats:
        formats.append("otio")
    options = Options(panels=panels, orientation=orientation, captions=captions, push_in=push_in,
                      timeline_formats=extra)
    folder = folder.absolute()
    lock = _lock(folder) if folder.is_dir() else None  # a missing folder is write_exports' to explain
    try:
        written = write_exports(folder, list(dict.fromkeys(formats)), options)
    except ShotsmithError as error:
        fail_on(error)
    except OSError as error:
        fail(f"{folder}: the exports could not be written ({error.strerror or error}); files written before "
             "this stay, and the others are unchanged", 1)
    finally:
        if lock is not None:
            lock.release()
    for path in written:
        console.print(f"wrote {path}", markup=False, highlight=False)


def _lock(folder: Path) -> FolderLock:
    """Hold the folder while exporting: a run still drawing here would change the board under the export."""
    try:
        return FolderLock(folder)
    except ShotsmithError as error:
        fail_on(error)
    except OSError as error:
        fail(f"{folder}: cannot write the exports here ({error.strerror or error}); expected a folder you "
             "can write to (copy it somewhere writable and export the copy)")
