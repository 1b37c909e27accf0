"""Apply parsed corrections to a storyboard, returning the state update; nothing else changes."""

from __future__ import annotations

import re

from graphs.context import Planner
from graphs.corrections import (Command, CorrectionError, Export, Pick, Regenerate, Remove, Rewrite, SetShot,
                                Swap, Undo)
from graphs.planner import home_sides, place
from graphs.rendering import answering, job_of
from graphs.state import Character, Frame, Placement, Storyboard
from prompts.shot_types import shot_by_slug

HISTORY_LIMIT = 50


def next_seed(seed: int) -> int:
    """Return a fresh seed that follows from the old one, so regenerating is reproducible."""
    return (seed * 1103515245 + 12345) % (2**31 - 1)


def _check(frames: list[Frame], number: int) -> int:
    if not 0 <= number < len(frames):
        raise CorrectionError(f"there is no frame {number}: frames are numbered 0 to {len(frames) - 1}")
    return number


def named(cast: list[Character], text: str) -> list[Character]:
    """Return the cast members a text names by token, in cast order."""
    return [p for p in cast if re.search(rf"\b{re.escape(p.name)}\b", text, re.IGNORECASE)]


def _rewrite(state: Storyboard, frame: Frame, text: str) -> Frame:
    cast = state.scene.characters
    named_here = named(cast, text)
    old = {c.name: c for c in frame.spec.characters}
    positions = place([p.name for p in named_here], home_sides(cast)) if named_here else []
    people = [old[p.name] if p.name in old and len(named_here) == len(old) else
              Placement(name=p.name, class_word=p.class_word, position=pos) for p, pos in zip(named_here, positions)]
    spec = frame.spec.model_copy(update={"prompt": text, "characters": people, "written_by": "person"})
    return frame.model_copy(update={"spec": spec})


def _pick(frame: Frame, number: int, candidate: int) -> Frame:
    """Return the frame showing another candidate of its current job (retries add candidates)."""
    image = frame.image()
    if image is None:
        raise CorrectionError(f"frame {number} has no image yet")
    job = job_of(image)
    group = answering(frame, job)
    if not 0 <= candidate < len(group):
        raise CorrectionError(f"frame {number} has candidates 0 to {len(group) - 1}, not {candidate}")
    return frame.model_copy(update={"selected": group[candidate], "picks": {**frame.picks, job: candidate}})


def _edit(state: Storyboard, frames: list[Frame], command: Command, planner: Planner) -> str:
    """Change `frames` in place for one command; return a short description of what changed."""
    if isinstance(command, SetShot):
        i = _check(frames, command.frame)
        shot = shot_by_slug(command.shot_type)
        frames[i] = frames[i].model_copy(update={"spec": planner.restage(state.scene, frames[i].spec, shot)})
        return f"frame {i} is now a {shot.name.lower()}"
    if isinstance(command, Rewrite):
        i = _check(frames, command.frame)
        frames[i] = _rewrite(state, frames[i], command.prompt)
        return f"frame {i} has a new prompt"
    if isinstance(command, Regenerate):
        targets = range(len(frames)) if command.frame is None else [_check(frames, command.frame)]
        for i in targets:
            spec = frames[i].spec.model_copy(update={"seed": next_seed(frames[i].spec.seed)})
            frames[i] = frames[i].model_copy(update={"spec": spec})
        return "regenerating every frame" if command.frame is None else f"regenerating frame {command.frame}"
    if isinstance(command, Pick):
        i = _check(frames, command.frame)
        frames[i] = _pick(frames[i], i, command.candidate)
        return f"frame {i} now shows candidate {command.candidate}"
    if isinstance(command, Swap):
        a, b = _check(frames, command.first), _check(frames, command.second)
        frames[a], frames[b] = frames[b], frames[a]
        return f"swapped frames {a} and {b}"
    if isinstance(command, Remove):
        i = _check(frames, command.frame)
        if len(frames) == 1:
            raise CorrectionError("cannot remove the only frame: a storyboard needs at least one")
        del frames[i]
        return f"removed frame {i}; later frames moved up by one"
    raise CorrectionError(f"{command.kind} cannot be combined with other changes")


def apply_commands(state: Storyboard, commands: list[Command], planner: Planner) -> dict:
    """Return the state update for a list of commands, or raise CorrectionError leaving state as it was."""
    if len(commands) == 1 and isinstance(commands[0], Undo):
        if not state.history:
            raise CorrectionError("nothing to undo yet")
        return {"frames": state.history[-1], "history": state.history[:-1],
                "notice": "undid the last correction"}
    if len(commands) == 1 and isinstance(commands[0], Export):
        return {"done": True, "notice": "storyboard exported"}
    frames = list(state.frames)
    notes = [_edit(state, frames, command, planner) for command in commands]
    history = (state.history + [state.frames])[-HISTORY_LIMIT:]
    return {"frames": frames, "history": history, "notice": "; ".join(notes)}
