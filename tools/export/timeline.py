"""The storyboard as an editorial timeline: one video track, one clip per shot, in any format OpenTimelineIO
can write (.otio always; .edl, .xml and others where their adapters are installed).

Clip lengths are the animatic's frame counts (tools/animatic.py), so the timeline and the animatic cut
together frame for frame. Each clip points at its shot's image and carries the shot's words as metadata.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import opentimelineio as otio

from tools.errors import ExportFailed, ExportRefused, ShotsmithError
from tools.export.animatic import FPS, frame_counts, replacing
from tools.export.shot_list import Board, Shot

LEFT_OUT = {
    "AAF": "its writer only accepts clips that came from an AAF file (it needs their mob ids)",
    "maya_sequencer": "it writes by running Autodesk Maya",
    "otiod": "it writes a folder, which cannot replace an older one in a single rename",
    "burnins": "it renders video through ffmpeg instead of writing a timeline",
}
"""Installed adapters that can write but are not offered, and why."""


def timeline(board: Board, fps: int = FPS) -> otio.schema.Timeline:
    """Return the board as a timeline named after its title, with one clip per shot on one video track."""
    if not board.shots:
        raise ExportRefused(f"{board.folder}: the storyboard has no shots to put on a timeline")
    result = otio.schema.Timeline(name=board.title, global_start_time=otio.opentime.RationalTime(0, fps),
                                  metadata={"shotsmith": {"description": board.description}})
    track = otio.schema.Track(name="Storyboard", kind=otio.schema.TrackKind.Video)
    result.tracks.append(track)
    for shot, count in zip(board.shots, frame_counts(board, fps)):
        track.append(_clip(board, shot, count, fps))
    return result


def _clip(board: Board, shot: Shot, count: int, fps: int) -> otio.schema.Clip:
    """A clip holding the shot's image for `count` frames."""
    held = otio.opentime.TimeRange(otio.opentime.RationalTime(0, fps), otio.opentime.RationalTime(count, fps))
    image = board.image(shot).resolve()
    reference = otio.schema.ExternalReference(target_url=image.as_uri(), available_range=held)
    reference.name = image.name
    metadata = {
        "shotsmith": {
            "number": shot.number, "shot_type": shot.shot_type, "shot_name": shot.shot_name,
            "framing": shot.framing, "angle": shot.angle, "movement": shot.movement, "camera": shot.camera,
            "duration": shot.duration, "action": shot.action, "setting": shot.setting,
            "lighting": shot.lighting, "image": shot.image, "seed": shot.seed,
            "characters": [{"name": name, "position": position} for name, position in shot.characters],
            "dialogue": [said.line() for said in shot.dialogue],
        },
        # An EDL reel name: at most eight letters and digits, and one per shot so no two clips share one.
        "cmx_3600": {"reel": f"SHOT{shot.number:04d}"[-8:]},
    }
    return otio.schema.Clip(name=clip_name(shot), media_reference=reference, source_range=held, metadata=metadata)


def clip_name(shot: Shot) -> str:
    """Return "Frame N - Shot name" in plain ASCII, which every edit list format can carry."""
    return _ascii(f"Frame {shot.number} - {shot.shot_name}")


def _ascii(text: str) -> str:
    """Drop accents and anything else outside ASCII, and fold line breaks and runs of spaces into one space."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return " ".join(plain.split())


def timeline_suffixes() -> list[str]:
    """Return the suffixes (".otio", ".edl", ...) the installed adapters can write, sorted."""
    return sorted(_writers())


def _writers() -> dict[str, str]:
    """Map each suffix a timeline can be written as to the name of the adapter that writes it."""
    writers = {}
    for adapter in otio.plugins.ActiveManifest().adapters:
        if adapter.name not in LEFT_OUT and adapter.has_feature("write"):
            writers.update({f".{suffix.lower()}": adapter.name for suffix in adapter.suffixes})
    return writers


def write_timeline(board: Board, path: Path, fps: int = FPS) -> None:
    """Write the board's timeline in the format `path`'s suffix names, replacing any older file in one step.

    Raises ExportError for a suffix no installed adapter writes (listing those that do) or a failed write.
    """
    writers = _writers()
    if path.suffix.lower() not in writers:
        raise ExportRefused(f"{path}: cannot write a timeline as {path.suffix or 'a file without a suffix'!r};"
                          f" expected one of {', '.join(sorted(writers))}")
    result = timeline(board, fps)
    if path.suffix.lower() == ".edl":
        result.name = _ascii(result.name)  # an EDL's TITLE line is read by tools that expect plain ASCII
    try:
        with replacing(path) as temporary:
            name = writers[path.suffix.lower()]
            otio.adapters.write_to_file(result, str(temporary), adapter_name=name, **_options(name, fps))
    except ShotsmithError:
        raise
    except Exception as error:  # the adapters raise their own error classes, and plain ones for bad input
        first = str(error).strip().splitlines()[:1] or [type(error).__name__]
        raise ExportFailed(f"{path}: cannot write the timeline ({first[0]})") from None


def _options(adapter: str, fps: int) -> dict:
    """Arguments an adapter needs to write at the board's rate: EDL and ALE files otherwise assume 24 fps."""
    return {"cmx_3600": {"rate": fps}, "ale": {"fps": fps}}.get(adapter, {})
