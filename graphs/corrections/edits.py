"""Apply parsed corrections to a storyboard, returning the state update; nothing else changes.

Each command class has one small function in EDITS that applies it to a draft of the board.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from graphs.commands import (ALWAYS_WRITTEN, ASKED, DURATION_RANGE, AddFrame, Append, Clarify, Command, Duplicate,
                             Export, Hold, MoveCharacter, MoveFrame, Pick, Regenerate, Remove, Resize, Rewrite,
                             SetCamera, SetDuration, SetSetting, SetShot, SetStyle, Swap, Undo)
from graphs.context import Planner
from graphs.corrections.camera_edits import hold, resize, set_camera
from graphs.corrections.findings import findings
from graphs.corrections.frame_edits import (append_sentence, check_frame, move_character, next_seed, restaged,
                                            rewrite_prompt, shot_named)
from graphs.corrections.history import restore, settle
from graphs.corrections.setting_words import check_setting
from graphs.errors import CorrectionError
from graphs.frames.rendering import answering, job_of
from graphs.planning.planner import frame_seed
from graphs.state import Frame, FrameSpec, Scene, Settings, Step, Storyboard

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


# --- one function per command: each changes the draft and says what changed ------------------------------------
def _set_shot(draft: _Draft, command: SetShot, planner: Planner) -> str:
    frames, i = draft.frames, check_frame(draft.frames, command.frame)
    shot = shot_named(command.shot_type)
    frames[i] = frames[i].model_copy(update={"spec": planner.restage(draft.scene, frames[i].spec, shot)})
    return f"frame {i} is now {shot.spoken}"


def _rewrite(draft: _Draft, command: Rewrite, planner: Planner) -> str:
    frames, i = draft.frames, check_frame(draft.frames, command.frame)
    if not command.prompt.strip():
        raise CorrectionError(f"frame {i}: expected a new prompt, got nothing")
    frames[i] = rewrite_prompt(draft.scene, frames[i], command.prompt)
    return f"frame {i} has a new prompt"


def _append(draft: _Draft, command: Append, planner: Planner) -> str:
    frames, i = draft.frames, check_frame(draft.frames, command.frame)
    text = " ".join(command.text.split())
    if not text:
        raise CorrectionError(f"say what to add to frame {i}")
    frames[i] = append_sentence(draft.scene, frames[i], i, text)
    return f"frame {i}: added \"{text}\" to the prompt"


def _one_frame(change: Callable[[Scene, Frame, int, Command, Planner], tuple[Frame, str]]
               ) -> Callable[[_Draft, Command, Planner], str]:
    """An edit of the one frame a command names, made by `change`, which returns the frame and what changed."""
    def apply(draft: _Draft, command: Command, planner: Planner) -> str:
        frames, i = draft.frames, check_frame(draft.frames, command.frame)
        frames[i], note = change(draft.scene, frames[i], i, command, planner)
        return note
    return apply


def _regenerate(draft: _Draft, command: Regenerate, planner: Planner) -> str:
    frames = draft.frames
    targets = range(len(frames)) if command.frame is None else [check_frame(frames, command.frame)]
    for i in targets:
        spec = frames[i].spec.model_copy(update={"seed": next_seed(frames[i].spec.seed)})
        frames[i] = frames[i].model_copy(update={"spec": spec})
    return "regenerating every frame" if command.frame is None else f"regenerating frame {command.frame}"


def _set_duration(draft: _Draft, command: SetDuration, planner: Planner) -> str:
    frames, i = draft.frames, check_frame(draft.frames, command.frame)
    low, high = DURATION_RANGE
    if not low <= command.seconds <= high:
        raise CorrectionError(f"frame {i}: expected a hold from {low:g} to {high:g} seconds, got {command.seconds:g}")
    frames[i] = frames[i].model_copy(update={"duration": round(command.seconds, 2)})
    return f"frame {i} now holds for {frames[i].duration:g} s in the animatic"


def _pick_candidate(draft: _Draft, command: Pick, planner: Planner) -> str:
    frames, i = draft.frames, check_frame(draft.frames, command.frame)
    frames[i] = _pick(frames[i], i, command.candidate)
    return f"frame {i} now shows candidate {command.candidate}"


def _swap(draft: _Draft, command: Swap, planner: Planner) -> str:
    frames = draft.frames
    a, b = check_frame(frames, command.first), check_frame(frames, command.second)
    frames[a], frames[b] = frames[b], frames[a]
    return f"swapped frames {a} and {b}"


def _remove(draft: _Draft, command: Remove, planner: Planner) -> str:
    frames, i = draft.frames, check_frame(draft.frames, command.frame)
    if len(frames) == 1:
        raise CorrectionError("cannot remove the only frame: a storyboard needs at least one")
    del frames[i]
    return f"removed frame {i}; later frames moved up by one"


def _add_frame(draft: _Draft, command: AddFrame, planner: Planner) -> str:
    frames = draft.frames
    shot = None if command.shot_type is None else shot_named(command.shot_type)
    action = " ".join(command.action.split())
    if not action:
        raise CorrectionError('say what the new frame should show, e.g. "add a frame after 3: <what happens>"')
    if command.after is None:
        at = len(frames)
    elif command.after == -1:
        at = 0
    else:
        at = check_frame(frames, command.after) + 1
    scene = draft.scene
    frame = _new_frame(draft, lambda n: planner.extra(scene, action, shot, frame_seed(scene, n)))
    frames.insert(at, frame)
    return f"added frame {at}, {shot_named(frame.spec.shot_type).spoken}"


def _duplicate(draft: _Draft, command: Duplicate, planner: Planner) -> str:
    frames, i = draft.frames, check_frame(draft.frames, command.frame)
    source = frames[i].spec

    def copied(n: int) -> FrameSpec:
        seed = frame_seed(draft.scene, n)
        return source.model_copy(update={"seed": next_seed(seed) if seed == source.seed else seed})
    frames.insert(i + 1, _new_frame(draft, copied))
    return f"frame {i + 1} is a copy of frame {i} with a new seed; later frames moved down by one"


def _move_frame(draft: _Draft, command: MoveFrame, planner: Planner) -> str:
    frames, i = draft.frames, check_frame(draft.frames, command.frame)
    if not 0 <= command.to < len(frames):
        raise CorrectionError(f"cannot move frame {i} to {command.to}: positions run from 0 to {len(frames) - 1}")
    frames.insert(command.to, frames.pop(i))
    return f"frame {i} is now frame {command.to}"


def _set_style(draft: _Draft, command: SetStyle, planner: Planner) -> str:
    """Change the scene's style; frames the planner wrote are written again, frames with the person's prompt kept."""
    frames = draft.frames
    style = " ".join(command.style.split())
    draft.scene = draft.scene.model_copy(update={"style": style})
    restaged_count = 0
    for k, frame in enumerate(frames):
        if frame.spec.written_by == "planner":
            frames[k] = frame.model_copy(update={"spec": restaged(draft.scene, frame.spec, planner)})
            restaged_count += 1
    kept = len(frames) - restaged_count
    note = f'the style is now "{style}"' if style else "the style is removed"
    return note + (f"; {kept} frame(s) with your own prompt keep it" if kept else "")


def _set_setting(draft: _Draft, command: SetSetting, planner: Planner) -> str:
    value = check_setting(command.name, command.value)
    draft.settings = draft.settings.model_copy(update={command.name: value})
    return f"{command.name} is now {value}"


EDITS: dict[type, Callable[[_Draft, Command, Planner], str]] = {
    SetShot: _set_shot, Rewrite: _rewrite, Append: _append, MoveCharacter: _one_frame(move_character),
    Resize: _one_frame(resize), SetCamera: _one_frame(set_camera), Hold: _one_frame(hold),
    Regenerate: _regenerate, SetDuration: _set_duration, Pick: _pick_candidate, Swap: _swap, Remove: _remove,
    AddFrame: _add_frame, Duplicate: _duplicate, MoveFrame: _move_frame, SetStyle: _set_style,
    SetSetting: _set_setting,
}
"""The function that applies each command class that can be combined with others in one message."""


def _edit(draft: _Draft, command: Command, planner: Planner) -> str:
    """Change the draft for one command; return a short description of what changed."""
    apply = EDITS.get(type(command))
    if apply is None:
        raise CorrectionError(f"{command.kind} cannot be combined with other changes")
    return apply(draft, command, planner)


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


def _undo(state: Storyboard) -> dict:
    """Return the state update that puts the board back as it was before the last correction."""
    if not state.history:
        if state.forgotten:
            raise CorrectionError(f"nothing more to undo: undo goes back over the last {HISTORY_LIMIT} "
                                  "corrections, and they are all undone")
        raise CorrectionError("nothing to undo yet")
    frames, scene, settings = restore(state.history[-1], state)
    return {"frames": frames, "scene": scene, "settings": settings,
            "history": state.history[:-1], "notice": "undid the last correction"}


def _export(command: Export) -> dict:
    """Return the state update that ends the session with an export, naming the extra formats asked for."""
    extra = [f for f in command.formats if f not in ALWAYS_WRITTEN]
    return {"done": True, "exports": extra,
            "notice": "storyboard exported" + (f" (with {', '.join(extra)})" if extra else "")}


def _edited(state: Storyboard, commands: list[Command], planner: Planner) -> dict:
    """Return the state update for commands applied one after another to a draft of the board."""
    # A settled step with the newer board's order names no ids, and that board's are named further on.
    taken = {f.id for f in state.frames} | {i for step in state.history for i in step.ids(state.frames)}
    draft = _Draft(scene=state.scene, settings=state.settings, frames=list(state.frames), next_id=state.next_id,
                   taken=taken)
    notes = [_edit(draft, command, planner) for command in commands]
    notice = "; ".join(notes) + findings(state.frames, draft.frames, draft.scene.characters)
    update = {"frames": draft.frames, **remember(state), "next_id": draft.next_id, "notice": notice}
    if draft.scene != state.scene:
        update["scene"] = draft.scene
    if draft.settings != state.settings:
        update["settings"] = draft.settings
    return update


def apply_commands(state: Storyboard, commands: list[Command], planner: Planner) -> dict:
    """Return the state update for a list of commands, or raise CorrectionError leaving state as it was.

    The update always holds frames, history, next_id and notice; scene and settings only when they changed.
    A Clarify changes nothing: the update is its question alone, marked as a question.
    """
    question = next((c for c in commands if isinstance(c, Clarify)), None)
    if question is not None:
        return {"notice": f"{ASKED}{question.question}", "outcome": "asked"}
    if len(commands) == 1 and isinstance(commands[0], Undo):
        return _undo(state)
    if len(commands) == 1 and isinstance(commands[0], Export):
        return _export(commands[0])
    return _edited(state, commands, planner)
