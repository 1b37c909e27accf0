"""The `shotsmith script` command: play a YAML list of chat turns against a scene, without a person at the keyboard.

A turns file names a scene and the messages to send once the storyboard is drawn; the command hands them to
the work of `shotsmith run` as if each had been passed with --then, so the transcript, the files written and the
exit codes are the same as for that command. With --resume it goes on with the session last started in the output folder,
so a script killed part-way finishes without drawing again what was already on disk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from agent.cli.output import fail_on
from agent.cli.run import Run, run_storyboard
from agent.config import PLANNERS, RENDERERS
from agent.errors import TurnsError
from tools.errors import InputError, ShotsmithError
from tools.files.bounded import SCENE_LIMIT, read_text

KEYS = ("scene", "out", "turns", "renderer", "planner", "width", "height", "steps", "candidates", "seed")
"""Every key a turns file may hold; `scene` and `turns` are required."""

DEFAULTS = {"renderer": "sketch", "planner": "auto", "width": 512, "height": 512, "steps": 25, "candidates": 1,
            "seed": None}
"""Values used for the optional keys a turns file leaves out; the sketch renderer keeps scripts offline."""


def script(
    turns: Annotated[Path, typer.Argument(help="Turns file (YAML): a scene and the messages to send, in order.")],
    out: Annotated[Optional[Path], typer.Option(help="Output folder; overrides the file's `out` "
                                                     "(default out/<turns file name>).")] = None,
    resume: Annotated[bool, typer.Option(help="Pick up the session a crash or kill interrupted in the output "
                                              "folder: finish its cut-off step, then send only the turns it "
                                              "has not applied yet.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Do not print the shot list table.")] = False,
) -> None:
    """Render a scene, then send each turn of a turns file as a chat message; stop at the first that fails."""
    try:
        plan = read_turns(turns)
    except ShotsmithError as error:
        fail_on(error)
    run_storyboard(Run(scene=plan["scene"], out=out or plan["out"], then=plan["turns"], renderer=plan["renderer"],
                       planner=plan["planner"], width=plan["width"], height=plan["height"], steps=plan["steps"],
                       candidates=plan["candidates"], seed=plan["seed"], resume=resume, quiet=quiet))


def read_turns(path: Path) -> dict:
    """Read and check a turns file; return every key filled in, the scene path resolved beside the file.

    Raises TurnsError with one line naming the file and the problem.
    """
    data = _load(path)
    unknown = [key for key in data if key not in KEYS]
    if unknown:
        raise TurnsError(f"{path}: unknown key {unknown[0]!r}; expected only {', '.join(KEYS)}")
    if "scene" not in data:
        raise TurnsError(f"{path}: expected a `scene` key naming the scene file (relative to the turns file)")
    plan = {**DEFAULTS, **data}
    plan["scene"] = path.parent / _text(path, "scene", plan["scene"])
    plan["out"] = _out(path, data["out"]) if "out" in data else Path("out") / _name(path)
    plan["turns"] = _turns(path, data.get("turns"))
    for key, allowed in (("renderer", RENDERERS), ("planner", PLANNERS)):
        if plan[key] not in allowed:
            raise TurnsError(f"{path}: `{key}` expected one of {', '.join(allowed)}, got {plan[key]!r}")
    for key in ("width", "height", "steps", "candidates", "seed"):
        value = plan[key]
        if not (value is None and key == "seed") and (isinstance(value, bool) or not isinstance(value, int)):
            raise TurnsError(f"{path}: `{key}` expected a whole number, got {value!r}")
    return plan


def _load(path: Path) -> dict:
    import yaml

    try:
        text = read_text(path, SCENE_LIMIT, "turns file (YAML)")
    except FileNotFoundError:
        raise TurnsError(f"{path}: no such turns file") from None
    except InputError as error:  # too big, or not a regular file
        raise TurnsError(str(error)) from None
    except OSError as error:
        raise TurnsError(f"{path}: cannot read the turns file ({error})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        why = getattr(error, "problem", None) or type(error).__name__
        raise TurnsError(f"{path}: not valid YAML{where} ({why}); expected a mapping with `scene` and "
                         f"`turns` keys") from None
    if not isinstance(data, dict):
        raise TurnsError(f"{path}: expected a YAML mapping with `scene` and `turns` keys, "
                         f"got {type(data).__name__ if data is not None else 'an empty file'}")
    return data


def _text(path: Path, key: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise TurnsError(f"{path}: `{key}` expected a path as text, got {value!r}")
    return value


def _out(path: Path, value: object) -> Path:
    """Check a turns file's output folder: a relative path that stays below the working folder.

    A turns file may come from someone else, so it cannot send the files somewhere else on the disk; the
    person running it still can, with --out.
    """
    out = Path(_text(path, "out", value))
    if out.is_absolute() or ".." in out.parts:
        raise TurnsError(f"{path}: `out` expected a folder below the working folder, such as out/chase, got "
                         f"{value!r} (pass --out to write somewhere else)")
    return out


def _turns(path: Path, value: object) -> list[str]:
    if value is None:
        raise TurnsError(f"{path}: expected a `turns` key holding a list of messages to send")
    if not isinstance(value, list) or not value:
        raise TurnsError(f"{path}: `turns` expected a non-empty list of messages, got {value!r}")
    for number, turn in enumerate(value, 1):
        if isinstance(turn, dict):
            raise TurnsError(f"{path}: turn {number} expected text, got a mapping; put quotes around a turn "
                             f"that holds ': ', such as \"frame 2: close-up\"")
        if not isinstance(turn, str) or not turn.strip():
            raise TurnsError(f"{path}: turn {number} expected the text of a message, got {turn!r}")
    return [turn.strip() for turn in value]


def _name(path: Path) -> str:
    """Name the default output folder after the turns file: examples/chase.turns.yaml gives chase."""
    name = path.name
    for suffix in (".turns.yaml", ".turns.yml", ".yaml", ".yml"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return path.stem
