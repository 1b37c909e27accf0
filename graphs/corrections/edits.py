"""Apply parsed corrections to a storyboard, returning the state update; nothing else changes."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from graphs.context import Planner
from graphs.commands import (ALWAYS_WRITTEN, ASKED, DURATION_RANGE, AddFrame, Append, Clarify, Command, CorrectionError,
                             Duplicate, Export, MoveCharacter, MoveFrame, Pick, Regenerate, Remove, Rewrite, SetDuration,
                             SetSetting, SetShot, SetStyle, Swap, Undo)
from graphs.corrections.rules import WHERE_WORDS
from graphs.corrections.setting_words import check_setting
from graphs.planning.planner import frame_seed, home_sides, place
from graphs.frames.rendering import answering, job_of
from graphs.state import Character, Frame, FrameSpec, Placement, Scene, Settings, Step, Storyboard
from prompts.shot_types import SHOT_TYPES, ShotType, find_shot, shot_by_slug

HISTORY_LIMIT = 50


@dataclass
class _Draft:
    """What one message may change, edited command by command and turned into the state update at the end."""

    scene: Scene
    settings: Settings
    frames: list[Frame]
    next_id: int
    taken: set[str]
    """Frame ids in use now or in the undo history; a new frame never reuses one."""


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


def _member(cast: list[Character], word: str) -> Character | None:
    """Return the cast member a word names by token or alias (case and punctuation aside), or None."""
    flat = re.sub(r"[^a-z0-9]", "", word.lower())
    for person in cast:
        if flat in [re.sub(r"[^a-z0-9]", "", n.lower()) for n in [person.name, *person.aliases]]:
            return person
    return None


def _who(people: list[Placement]) -> str:
    names = [p.name for p in people]
    if not names:
        return "nobody is in it"
    if len(names) == 1:
        return f"only {names[0]} is"
    return ", ".join(names[:-1]) + f" and {names[-1]} are"


def _rewrite(scene: Scene, frame: Frame, text: str) -> Frame:
    cast = scene.characters
    named_here = named(cast, text)
    old = {c.name: c for c in frame.spec.characters}
    positions = place([p.name for p in named_here], home_sides(cast)) if named_here else []
    people = [old[p.name] if p.name in old and len(named_here) == len(old) else
              Placement(name=p.name, class_word=p.class_word, position=pos) for p, pos in zip(named_here, positions)]
    spec = frame.spec.model_copy(update={"prompt": text, "characters": people, "written_by": "person"})
    return frame.model_copy(update={"spec": spec})


def _append(scene: Scene, frame: Frame, number: int, text: str) -> Frame:
    """Return the frame with `text` added to its prompt as a sentence of its own.

    Cast members the text names who were not in the frame join it, and everyone's side is worked out again.
    """
    sentence = text if text[-1] in ".!?" else text + "."
    first = sentence.split()[0]
    if first.islower() and _member(scene.characters, first) is None:
        sentence = sentence[0].upper() + sentence[1:]
    base = frame.spec.prompt.rstrip()
    if base and base[-1] not in ".!?":
        base += "."
    people = list(frame.spec.characters)
    joining = [p for p in named(scene.characters, text) if p.name not in {c.name for c in people}]
    if joining:
        homes = home_sides(scene.characters)
        if len(people) + len(joining) > 3 or any(p.name not in homes for p in people):
            raise CorrectionError(f"frame {number}: {_who(people)} in it already; a frame holds three characters "
                                  "at most, so write the whole prompt instead")
        people += [Placement(name=p.name, class_word=p.class_word, position="centre") for p in joining]
        positions = place([p.name for p in people], homes)
        people = [p.model_copy(update={"position": pos}) for p, pos in zip(people, positions)]
    spec = frame.spec.model_copy(update={"prompt": f"{base} {sentence}".strip(), "characters": people,
                                         "written_by": "person"})
    return frame.model_copy(update={"spec": spec})


def _move_character(scene: Scene, frame: Frame, number: int, command: MoveCharacter,
                    planner: Planner) -> tuple[Frame, str]:
    """Return the frame with a character moved, and a note; whoever stood there takes the old place."""
    person = _member(scene.characters, command.character)
    token = person.name if person else command.character
    spec = frame.spec
    mover = next((k for k, c in enumerate(spec.characters) if c.name.lower() == token.lower()), None)
    if mover is None:
        raise CorrectionError(f"{command.character} is not in frame {number}: {_who(spec.characters)}")
    old = spec.characters[mover].position
    if old == command.position:
        return frame, f"{token} already stands {WHERE_WORDS[old]} in frame {number}"
    people = [c.model_copy(update={"position": old}) if c.position == command.position else c
              for c in spec.characters]
    people[mover] = people[mover].model_copy(update={"position": command.position})
    spec = spec.model_copy(update={"characters": people})
    if spec.written_by == "planner":
        spec = planner.restage(scene, spec, shot_by_slug(spec.shot_type))
    return frame.model_copy(update={"spec": spec}), f"{token} now stands {WHERE_WORDS[command.position]} in frame {number}"


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


def _new_frame(draft: _Draft, spec_for: Callable[[int], FrameSpec]) -> Frame:
    """Return a frame with an id never used in this storyboard; `spec_for(number)` gives its spec."""
    while f"f{draft.next_id}" in draft.taken:
        draft.next_id += 1
    number = draft.next_id
    draft.next_id += 1
    draft.taken.add(f"f{number}")
    return Frame(id=f"f{number}", spec=spec_for(number))


def _shot(slug: str) -> ShotType:
    shot = find_shot(slug)  # slugs, and the names and numbers people (or models) also use
    if shot is None:
        raise CorrectionError(f"unknown shot type {slug!r}: expected one of {', '.join(s.slug for s in SHOT_TYPES)}")
    return shot


def _restaged(scene: Scene, spec: FrameSpec, planner: Planner) -> FrameSpec:
    return planner.restage(scene, spec, _shot(spec.shot_type))


def _edit(draft: _Draft, command: Command, planner: Planner) -> str:
    """Change the draft for one command; return a short description of what changed."""
    frames = draft.frames
    if isinstance(command, SetShot):
        i = _check(frames, command.frame)
        shot = _shot(command.shot_type)
        frames[i] = frames[i].model_copy(update={"spec": planner.restage(draft.scene, frames[i].spec, shot)})
        return f"frame {i} is now a {shot.name.lower()}"
    if isinstance(command, Rewrite):
        i = _check(frames, command.frame)
        if not command.prompt.strip():
            raise CorrectionError(f"frame {i}: expected a new prompt, got nothing")
        frames[i] = _rewrite(draft.scene, frames[i], command.prompt)
        return f"frame {i} has a new prompt"
    if isinstance(command, Append):
        i = _check(frames, command.frame)
        text = " ".join(command.text.split())
        if not text:
            raise CorrectionError(f"say what to add to frame {i}")
        frames[i] = _append(draft.scene, frames[i], i, text)
        return f"frame {i}: added \"{text}\" to the prompt"
    if isinstance(command, MoveCharacter):
        i = _check(frames, command.frame)
        frames[i], note = _move_character(draft.scene, frames[i], i, command, planner)
        return note
    if isinstance(command, Regenerate):
        targets = range(len(frames)) if command.frame is None else [_check(frames, command.frame)]
        for i in targets:
            spec = frames[i].spec.model_copy(update={"seed": next_seed(frames[i].spec.seed)})
            frames[i] = frames[i].model_copy(update={"spec": spec})
        return "regenerating every frame" if command.frame is None else f"regenerating frame {command.frame}"
    if isinstance(command, SetDuration):
        i = _check(frames, command.frame)
        low, high = DURATION_RANGE
        if not low <= command.seconds <= high:
            raise CorrectionError(f"frame {i}: expected a hold from {low:g} to {high:g} seconds, got {command.seconds:g}")
        frames[i] = frames[i].model_copy(update={"duration": round(command.seconds, 2)})
        return f"frame {i} now holds for {frames[i].duration:g} s in the animatic"
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
    if isinstance(command, AddFrame):
        shot = None if command.shot_type is None else _shot(command.shot_type)
        action = " ".join(command.action.split())
        if not action:
            raise CorrectionError('say what the new frame should show, e.g. "add a frame after 3: <what happens>"')
        if command.after is None:
            at = len(frames)
        elif command.after == -1:
            at = 0
        else:
            at = _check(frames, command.after) + 1
        scene = draft.scene
        frame = _new_frame(draft, lambda n: planner.extra(scene, action, shot, frame_seed(scene, n)))
        frames.insert(at, frame)
        return f"added frame {at}, a {_shot(frame.spec.shot_type).name.lower()}"
    if isinstance(command, Duplicate):
        i = _check(frames, command.frame)
        source = frames[i].spec

        def copied(n: int) -> FrameSpec:
            seed = frame_seed(draft.scene, n)
            return source.model_copy(update={"seed": next_seed(seed) if seed == source.seed else seed})
        frames.insert(i + 1, _new_frame(draft, copied))
        return f"frame {i + 1} is a copy of frame {i} with a new seed; later frames moved down by one"
    if isinstance(command, MoveFrame):
        i = _check(frames, command.frame)
        if not 0 <= command.to < len(frames):
            raise CorrectionError(f"cannot move frame {i} to {command.to}: positions run from 0 to {len(frames) - 1}")
        frames.insert(command.to, frames.pop(i))
        return f"frame {i} is now frame {command.to}"
    if isinstance(command, SetStyle):
        style = " ".join(command.style.split())
        draft.scene = draft.scene.model_copy(update={"style": style})
        restaged = 0
        for k, frame in enumerate(frames):
            if frame.spec.written_by == "planner":
                frames[k] = frame.model_copy(update={"spec": _restaged(draft.scene, frame.spec, planner)})
                restaged += 1
        kept = len(frames) - restaged
        note = f'the style is now "{style}"' if style else "the style is removed"
        return note + (f"; {kept} frame(s) with your own prompt keep it" if kept else "")
    if isinstance(command, SetSetting):
        value = check_setting(command.name, command.value)
        draft.settings = draft.settings.model_copy(update={command.name: value})
        return f"{command.name} is now {value}"
    raise CorrectionError(f"{command.kind} cannot be combined with other changes")


def remember(state: Storyboard) -> dict:
    """Return the state update that adds the board as it is now to the undo history.

    The step added holds the whole board, since what the correction will change is not known yet; the step
    before it is settled against the board as it is now, which is final for it. Past HISTORY_LIMIT steps the
    oldest drop off, and `forgotten` counts them.
    """
    history = list(state.history)
    if history:
        history[-1] = settle(history[-1], state)
    history.append(Step(frames=state.frames, scene=state.scene, settings=state.settings))
    dropped = max(0, len(history) - HISTORY_LIMIT)
    return {"history": history[dropped:], "forgotten": state.forgotten + dropped}


def _shared(older: list, newer: list) -> int:
    """Return how many first items two lists have in common."""
    count = 0
    for a, b in zip(older, newer):
        if a != b:
            break
        count += 1
    return count


def settle(step: Step, newer: Storyboard) -> Step:
    """Return the step with what the newer board holds as it was left out (Step says how it is kept).

    Only the newest step needs settling. A step settled already is first read back whole against the board, so
    settling it again keeps what undo would give.
    """
    frames, scene, settings = restore(step, newer)
    now = {frame.id: frame for frame in newer.frames}
    kept, shared = [], {}
    for frame in frames:
        match = now.get(frame.id)
        count = _shared(frame.versions, match.versions) if match is not None else 0
        if match is not None and count == len(frame.versions) \
                and match.model_copy(update={"versions": match.versions[:count]}) == frame:
            if count < len(match.versions):
                shared[frame.id] = count
            continue
        if count:
            shared[frame.id] = count
        kept.append(frame.model_copy(update={"versions": frame.versions[count:]}) if count else frame)
    order = [frame.id for frame in frames]
    return Step(frames=kept, settled=True, order=[] if order == [f.id for f in newer.frames] else order,
                shared=shared, scene=None if scene == newer.scene else scene,
                settings=None if settings == newer.settings else settings)


def restore(step: Step, newer: Storyboard) -> tuple[list[Frame], Scene, Settings]:
    """Return the frames, scene and settings a step was made from, read against the board that followed it."""
    scene, settings = step.scene or newer.scene, step.settings or newer.settings
    if not step.settled:
        return list(step.frames), scene, settings
    now = {frame.id: frame for frame in newer.frames}
    kept = {frame.id: frame for frame in step.frames}
    frames = []
    for frame_id in step.ids(newer.frames):
        match, frame = now.get(frame_id), kept.get(frame_id)
        count = step.shared.get(frame_id, 0 if frame is not None else len(match.versions) if match else 0)
        if (frame is None or count) and (match is None or len(match.versions) < count):
            raise CorrectionError(f"the undo history has lost frame {frame_id}; undo cannot go back further")
        if frame is None:
            frames.append(match if count == len(match.versions) else
                          match.model_copy(update={"versions": match.versions[:count]}))
        else:
            frames.append(frame.model_copy(update={"versions": match.versions[:count] + frame.versions})
                          if count else frame)
    return frames, scene, settings


def apply_commands(state: Storyboard, commands: list[Command], planner: Planner) -> dict:
    """Return the state update for a list of commands, or raise CorrectionError leaving state as it was.

    The update always holds frames, history, next_id and notice; scene and settings only when they changed.
    A Clarify changes nothing: the update is its question alone, marked as a question.
    """
    question = next((c for c in commands if isinstance(c, Clarify)), None)
    if question is not None:
        return {"notice": f"{ASKED}{question.question}"}
    if len(commands) == 1 and isinstance(commands[0], Undo):
        if not state.history:
            if state.forgotten:
                raise CorrectionError(f"nothing more to undo: undo goes back over the last {HISTORY_LIMIT} "
                                      "corrections, and they are all undone")
            raise CorrectionError("nothing to undo yet")
        frames, scene, settings = restore(state.history[-1], state)
        return {"frames": frames, "scene": scene, "settings": settings,
                "history": state.history[:-1], "notice": "undid the last correction"}
    if len(commands) == 1 and isinstance(commands[0], Export):
        extra = [f for f in commands[0].formats if f not in ALWAYS_WRITTEN]
        return {"done": True, "exports": extra,
                "notice": "storyboard exported" + (f" (with {', '.join(extra)})" if extra else "")}
    # A settled step with the newer board's order names no ids, and that board's are named further on.
    taken = {f.id for f in state.frames} | {i for step in state.history for i in step.ids(state.frames)}
    draft = _Draft(scene=state.scene, settings=state.settings, frames=list(state.frames), next_id=state.next_id,
                   taken=taken)
    notes = [_edit(draft, command, planner) for command in commands]
    update = {"frames": draft.frames, **remember(state), "next_id": draft.next_id, "notice": "; ".join(notes)}
    if draft.scene != state.scene:
        update["scene"] = draft.scene
    if draft.settings != state.settings:
        update["settings"] = draft.settings
    return update
