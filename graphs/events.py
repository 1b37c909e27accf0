"""What the graph reports while it works, one small frozen dataclass per kind of news.

The nodes hand these to LangGraph's stream writer; a session passes them on, and every front-end (terminal,
script, Slack, Discord) matches on the class, never on a string. Frames are numbered from 0 here, as in
corrections and file names. None of these is checkpointed: they only travel from a node to a front-end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Planned:
    """The planner has written the shot list."""

    planner: str
    frames: int


@dataclass(frozen=True)
class Progress:
    """One denoising step of one frame (or of the frame being inpainted) is done."""

    frame: int
    frames: int
    step: int
    steps: int


@dataclass(frozen=True)
class FrameDrawn:
    """A frame is up to date: drawn now, or its image was already on disk."""

    frame: int
    frames: int
    status: Literal["rendered", "reused"]
    path: str


@dataclass(frozen=True)
class Retrying:
    """The critic sent a frame back for fresh seeds."""

    frame: int
    attempt: int
    retries: int
    reason: Literal["score", "shot"]
    score: float
    threshold: float
    shot_boost: float


@dataclass(frozen=True)
class Queued:
    """This storyboard waits for the GPU behind `ahead` other sessions."""

    ahead: int


@dataclass(frozen=True)
class Notice:
    """Something worth knowing that needs no answer (a fallback taken, a file not written)."""

    message: str


@dataclass(frozen=True)
class Critiqued:
    """The critic's verdict on a frame changed."""

    frame: int
    summary: str


@dataclass(frozen=True)
class Published:
    """The frames, the sheet and storyboard.json are written in `out`."""

    out: str
    frames: int


@dataclass(frozen=True)
class Reply:
    """What a correction did, in a sentence for the person."""

    message: str


@dataclass(frozen=True)
class Question:
    """The storyboard needs the person to say more before it can act."""

    message: str


@dataclass(frozen=True)
class Problem:
    """A message or an export could not be carried out; nothing already made was lost."""

    message: str


@dataclass(frozen=True)
class Done:
    """The person exported the storyboard; these are the files written."""

    out: str
    files: tuple[str, ...]


Event = Planned | Progress | FrameDrawn | Retrying | Queued | Notice | Critiqued | Published | Reply | Question | Problem | Done
"""Every kind of news a session can report."""

SAID = (Reply, Notice, Question, Problem)
"""The events that carry a sentence for the person in `message`."""
