"""The undo history: how a step of it is kept small against the board that followed it, and read back whole."""

from __future__ import annotations

from graphs.errors import CorrectionError
from graphs.state import Frame, Scene, Settings, Step, Storyboard


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
