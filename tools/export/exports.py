"""Writing a finished storyboard in the formats crews use: PDF sheet, shot list, animatic and timeline.

Every format starts from the same Board read from storyboard.json, so numbers, images and durations
agree across files. The PNG sheet and storyboard.json are written by the storyboard itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tools.errors import ExportFailed, ExportRefused
from tools.export.shot_list import Board, read_board
from tools.files import atomic
from tools.files.image_check import image_problem

FILES = {"png": "storyboard.png", "pdf": "storyboard.pdf", "csv": "shot_list.csv", "json": "shot_list.json",
         "mp4": "animatic.mp4", "gif": "animatic.gif", "otio": "timeline.otio"}
"""The file each format is written to, inside the storyboard folder; storyboard.json is always there."""
PICTURED = {"pdf", "mp4", "gif"}
"""Formats that draw the frames' images, so every image is checked before one of them is written."""


@dataclass(frozen=True)
class Options:
    """How the exports look; the defaults suit a printed sheet and a plain animatic."""

    panels: int = 6
    """Panels per PDF page, 1 to 12."""
    orientation: str = "landscape"
    captions: bool = False
    """Burn the frame number, shot type and first line into the animatic."""
    push_in: bool = False
    """Slowly push in on wide shots in the animatic."""
    timeline_formats: tuple[str, ...] = ()
    """Extra timeline suffixes (".edl", ".xml") written beside timeline.otio."""


def write_exports(folder: Path, formats: list[str], options: Options = Options()) -> list[Path]:
    """Write each format into the storyboard folder and return the files written (or already there).

    First removes what killed exports of these files left behind (temporaries unchanged for
    atomic.STALE_AFTER seconds). Raises ExportError with one line for an unusable folder or a format that
    fails; files written before the failure stay.
    """
    unknown = [f for f in formats if f not in FILES]
    if unknown:
        raise ExportRefused(f"unknown format {unknown[0]!r}: expected some of {', '.join(FILES)}")
    if not 1 <= options.panels <= 12:
        raise ExportRefused(f"panels: expected 1 to 12 panels per page, got {options.panels}")
    if options.orientation not in ("landscape", "portrait"):
        raise ExportRefused(f"orientation: expected landscape or portrait, got {options.orientation!r}")
    board = read_board(folder)
    if set(formats) & PICTURED:
        for shot in board.shots:
            if problem := image_problem(board.image(shot)):
                raise ExportFailed(f"{board.image(shot)}: the image of frame {shot.number} is {problem}; expected a PNG "
                                  "(run the storyboard again with --resume, or regenerate the frame, to redraw it)")
    atomic.sweep([folder / FILES[name] for name in formats] + _timeline_paths(folder, options))
    written = []
    for name in formats:
        path = folder / FILES[name]
        _write(name, board, path, options)
        written.append(path)
        if name == "otio":
            written += _other_timelines(board, folder, options)
    return written


def _write(name: str, board: Board, path: Path, options: Options) -> None:
    if name == "png":
        if not path.is_file():
            raise ExportRefused(f"{path}: missing; run the storyboard again to write it")
    elif name == "pdf":
        from tools.export.pdf_sheet import write_pdf
        write_pdf(board, path, panels=options.panels, orientation=options.orientation)
    elif name == "csv":
        from tools.export.shot_list import write_csv
        write_csv(board, path)
    elif name == "json":
        from tools.export.shot_list import write_json
        write_json(board, path)
    elif name in ("mp4", "gif"):
        from tools.export.animatic import write_animatic
        write_animatic(board, path, captions=options.captions, push_in=options.push_in)
    elif name == "otio":
        from tools.export.timeline import write_timeline
        write_timeline(board, path)


def _timeline_paths(folder: Path, options: Options) -> list[Path]:
    """The extra timeline files the options ask for, beside timeline.otio."""
    return [folder / f"timeline{suffix if suffix.startswith('.') else '.' + suffix}"
            for suffix in options.timeline_formats]


def _other_timelines(board: Board, folder: Path, options: Options) -> list[Path]:
    from tools.export.timeline import write_timeline

    paths = _timeline_paths(folder, options)
    for path in paths:
        write_timeline(board, path)
    return paths
