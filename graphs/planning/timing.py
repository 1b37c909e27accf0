"""How long each frame is held in the animatic and the timeline, estimated from what happens and what is said.

Speech is timed at a steady speaking pace; action gets a short base hold plus a little per word, so a
busy beat stays up long enough to read. A duration the person set in chat always wins.
"""

from __future__ import annotations

from graphs.state import Frame, FrameSpec

SPEAKING_PACE = 2.5
"""Words spoken per second (150 words a minute)."""
BASE_HOLD = 1.5
"""Seconds every frame is held, however little happens in it."""
PER_ACTION_WORD = 0.12
"""Seconds added for each word of the frame's action."""
PER_SPEECH_PAUSE = 0.3
"""Seconds added between speeches, for the cut of breath between lines."""
LONGEST_ESTIMATE = 12.0
"""Action alone never holds a frame longer than this; a person may still set a longer hold."""
LONGEST_SPEECH = 60.0
"""Speech is timed in full, up to this many seconds for one frame."""


def estimate(spec: FrameSpec) -> float:
    """Return the seconds a frame should be held, from its action and dialogue, rounded to a tenth."""
    action = min(len(spec.action.split()) * PER_ACTION_WORD, LONGEST_ESTIMATE - BASE_HOLD)
    spoken = sum(len(line.text.split()) for line in spec.dialogue) / SPEAKING_PACE
    pauses = PER_SPEECH_PAUSE * len(spec.dialogue)
    return round(min(LONGEST_SPEECH, BASE_HOLD + max(action, spoken + pauses)), 1)


def duration(frame: Frame) -> float:
    """Return how long the frame is held: the person's setting when there is one, else the estimate."""
    return frame.duration if frame.duration is not None else estimate(frame.spec)
