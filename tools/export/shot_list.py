"""A finished storyboard as every export reads it, and the shot list written from it as CSV and JSON.

`read_board` reads storyboard.json from a storyboard's folder; the PDF sheet, the animatic and the
timeline all start from the Board it returns, so they agree on numbers, images and durations.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from prompts.camera import ANGLES, FRAMINGS, MOVEMENTS, camera_words
from tools.errors import ExportRefused, FieldError, FileRefused
from tools.files import atomic
from tools.files.bounded import STORYBOARD_LIMIT, read_text

COLUMNS = ("number", "shot_type", "shot_name", "framing", "angle", "movement", "camera", "characters", "setting", "lighting", "action", "dialogue",
           "duration", "image", "seed", "clip_score")
"""The shot list's columns, in order."""


@dataclass(frozen=True)
class Said:
    """One speech over a shot."""

    character: str
    text: str
    parenthetical: str = ""

    def line(self) -> str:
        """Return the speech as one line: "HORATIO (quietly): Stay, illusion!"."""
        how = f" ({self.parenthetical})" if self.parenthetical else ""
        return f"{self.character}{how}: {self.text}"


@dataclass(frozen=True)
class Shot:
    """One frame of a finished storyboard, with everything a crew needs to shoot or cut it."""

    number: int
    """Frame number, from 0 like the files."""
    shot_type: str
    """Slug of the shot type ("close_up")."""
    shot_name: str
    """Its name as people say it ("Close-up")."""
    characters: list[tuple[str, str]]
    """(name, position) for everyone in the frame, left to right as planned; the name is the one people read
    (storyboard.json's `shown`), the token only for a storyboard written before there was one."""
    setting: str
    lighting: str
    action: str
    dialogue: list[Said]
    duration: float
    """Seconds the frame is held in the animatic and the timeline."""
    image: str
    """The shot's image, relative to the storyboard folder ("frames/shot_0.png")."""
    seed: int
    clip_score: float | None = None
    framing: str = "single"
    angle: str = "eye_level"
    movement: str = "static"
    camera: str = ""
    """The camera in a crew's words ("over Tomas's shoulder, low angle, push in"); empty for the defaults."""


@dataclass(frozen=True)
class Board:
    """A finished storyboard: its title, its folder and its shots in order."""

    title: str
    description: str
    folder: Path
    shots: list[Shot] = field(default_factory=list)

    def image(self, shot: Shot) -> Path:
        """Return the path of a shot's image."""
        return self.folder / shot.image

    def running_time(self) -> float:
        """Return the sum of every shot's duration, in seconds."""
        return sum(shot.duration for shot in self.shots)


HOLD_RANGE = (0.2, 60.0)
"""The shortest and longest hold, in seconds, a frame may have (the range chat accepts, graphs.commands)."""
MOST_FRAMES = 10_000
"""More frames than any storyboard has; a larger frame number in storyboard.json is refused."""


def read_board(folder: Path) -> Board:
    """Read a storyboard folder's storyboard.json; raise ExportError with one line when it cannot be used.

    The whole file is checked before anything is exported from it: every number finite and in its range
    (a hold from HOLD_RANGE), every image a file inside the folder (no absolute path, no "..", no symlink
    pointing out), so a hand-edited file can neither stall an export nor make it read another file.
    """
    path = folder / "storyboard.json"
    document = _read_document(folder, path)
    frames = document.get("frames") if isinstance(document, dict) else None
    if not isinstance(frames, list) or not frames:
        raise ExportRefused(f"{path}: expected a storyboard with at least one frame")
    inside = folder.resolve()
    shots = []
    for position, frame in enumerate(frames):
        try:
            shot = _shot(frame)
        except FieldError as error:
            raise ExportRefused(f"{path}: frame {position}: {error}") from None
        except (KeyError, TypeError, ValueError) as error:
            raise ExportRefused(f"{path}: frame {position} is missing or has a bad field ({error})") from None
        image = folder / shot.image
        try:
            outside = not image.resolve().is_relative_to(inside)
        except (OSError, ValueError):  # a NUL byte, a name too long, a symlink loop
            outside = True
        if outside:
            raise ExportRefused(f"{path}: frame {position}: image: expected a file inside {folder}, got "
                              f"{_shown(shot.image)}")
        if not image.is_file():
            raise ExportRefused(f"{image}: the image of frame {shot.number} is missing")
        shots.append(shot)
    return Board(title=str(document.get("title") or "Untitled scene"),
                 description=str(document.get("description") or ""), folder=folder, shots=shots)


def _read_document(folder: Path, path: Path) -> object:
    """Return the decoded JSON of a storyboard folder's storyboard.json, or raise ExportError with one line."""
    try:
        return json.loads(read_text(path, STORYBOARD_LIMIT, "storyboard.json"))
    except FileNotFoundError:
        raise ExportRefused(f"{folder}: no storyboard.json here; expected the output folder of a storyboard") from None
    except FileRefused as error:
        raise ExportRefused(str(error)) from None
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ExportRefused(f"{path}: cannot read it ({error})") from None


def _whole(frame: dict, key: str, low: int, high: int) -> int:
    value = frame[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise FieldError(f"{key}: expected a whole number from {low} to {high}, got {_shown(value)}")
    return value


def _number(value: object, key: str, low: float, high: float, unit: str = "") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not low <= value <= high:
        raise FieldError(f"{key}: expected a number{unit} from {low:g} to {high:g}, got {_shown(value)}")
    return float(value)


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "\u2026"


def _text(value: object, key: str) -> str:
    if not isinstance(value, str):
        raise FieldError(f"{key}: expected text, got {_shown(value)}")
    return value


def _choice(frame: dict, key: str, known: dict, default: str) -> str:
    value = frame.get(key, default)
    if value not in known:
        raise FieldError(f"{key}: expected one of {', '.join(known)}, got {_shown(value)}")
    return value


def _shot(frame: object) -> Shot:
    if not isinstance(frame, dict):
        raise FieldError(f"expected an object with index, shot_type, duration and seed, got {_shown(frame)}")
    number = _whole(frame, "index", 0, MOST_FRAMES)
    critique = frame.get("critique") or {}
    if not isinstance(critique, dict):
        raise FieldError(f"critique: expected an object, got {_shown(critique)}")
    score = critique.get("clip_score")
    image = frame.get("image") or f"frames/shot_{number}.png"
    camera = [_choice(frame, key, known, default) for key, known, default in
              (("framing", FRAMINGS, "single"), ("angle", ANGLES, "eye_level"), ("movement", MOVEMENTS, "static"))]
    return Shot(
        framing=camera[0], angle=camera[1], movement=camera[2],
        camera=_text(frame["camera"], "camera") if "camera" in frame else camera_words(*camera),
        number=number, shot_type=_text(frame["shot_type"], "shot_type"),
        shot_name=_text(frame["shot_name"], "shot_name"),
        characters=[(str(c["shown"] if "shown" in c else c["name"]), str(c["position"]))
                    for c in frame.get("characters", [])],
        setting=str(frame.get("setting", "")), lighting=str(frame.get("lighting", "")),
        action=str(frame.get("action", "")),
        dialogue=[Said(str(d["character"]), str(d["text"]), str(d.get("parenthetical", "")))
                  for d in frame.get("dialogue", [])],
        duration=_number(frame["duration"], "duration", *HOLD_RANGE, unit=" of seconds"),
        image=_text(image, "image"), seed=_whole(frame, "seed", 0, 2**63 - 1),
        clip_score=None if score is None else _number(score, "critique.clip_score", 0.0, 100.0))


def rows(board: Board) -> list[dict]:
    """Return the shot list as one dict per shot, with the columns of COLUMNS (plain JSON types)."""
    return [{**{k: v for k, v in asdict(shot).items() if k in COLUMNS},
             "characters": [{"name": name, "position": position} for name, position in shot.characters],
             "dialogue": [asdict(said) for said in shot.dialogue]} for shot in board.shots]


def write_json(board: Board, path: Path) -> None:
    """Write the shot list as JSON: the title, the running time and one object per shot."""
    atomic.write_json(path, {"title": board.title, "running_time": round(board.running_time(), 3),
                             "shots": rows(board)})


def write_csv(board: Board, path: Path) -> None:
    """Write the shot list as CSV, one row per shot; characters and dialogue are joined into readable text."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row, shot in zip(rows(board), board.shots):
        writer.writerow({**row,
                         "characters": "; ".join(f"{name} ({position})" for name, position in shot.characters),
                         "dialogue": " / ".join(said.line() for said in shot.dialogue),
                         "clip_score": "" if shot.clip_score is None else f"{shot.clip_score:.2f}"})
    atomic.write_bytes(path, buffer.getvalue().encode("utf-8"))


def read_csv(path: Path) -> list[dict]:
    """Read a shot list CSV back as one dict of text per row."""
    with path.open(newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))
