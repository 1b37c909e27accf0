"""What the Slack bot writes in a thread: one-line replies, the status message edited as a drawing goes on, what
a correction did, and the shots and exports as files."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from slack_sdk import WebClient

from agent.session import Event
from graphs.events import Done, FrameDrawn, Notice, Planned, Problem, Progress, Queued, Question, Reply

log = logging.getLogger("shotsmith.slack")

UPDATE_EVERY = 1.0
"""The least number of seconds between two edits of the status message for denoising steps."""


class Poster:
    """Posts one-line replies in a thread."""

    def __init__(self, client: WebClient, channel: str, thread_ts: str):
        self.client, self.channel, self.thread_ts = client, channel, thread_ts

    def __call__(self, text: str) -> dict:
        return self.client.chat_postMessage(channel=self.channel, thread_ts=self.thread_ts, text=text)


class Status:
    """A message posted once and then edited in place to show how the drawing goes."""

    def __init__(self, client: WebClient, say: Poster, text: str):
        self.client = client
        posted = say(text)
        self.channel = posted.get("channel") or say.channel
        self.ts = posted["ts"]
        self.last = 0.0

    def set(self, text: str) -> None:
        try:
            self.client.chat_update(channel=self.channel, ts=self.ts, text=text)
        except Exception:  # a status edit that fails must not stop the drawing
            log.exception("status update failed")
        self.last = time.monotonic()

    def follow(self, events: Iterable[Event]) -> list[str]:
        """Edit the status for each event worth showing; return the problems met."""
        errors = []
        for event in events:
            match event:
                case Planned(frames=frames, planner=planner):
                    self.set(f"Planned {frames} frames with the {planner} planner; drawing\u2026")
                case Progress(frame=i, frames=frames, step=step, steps=steps) if (
                        time.monotonic() - self.last >= UPDATE_EVERY):
                    self.set(f"Drawing frame {i} ({i + 1} of {frames}): step {step} of {steps}")
                case FrameDrawn(frame=i, frames=frames, status=status):  # numbered from 0, as in corrections
                    self.set(f"Frame {i} {status} ({i + 1} of {frames})")
                case Queued(ahead=ahead) if ahead:
                    self.set(f"Waiting for the GPU: {ahead} ahead of this storyboard")
                case Problem(message=message):
                    errors.append(message)
        return errors


@dataclass
class Said:
    """What a correction's events had to say in the thread, and the files written when it was an export."""

    lines: list[str] = field(default_factory=list)
    exported: list[Path] | None = None


def collect(events: Iterable[Event], say: Callable[[str], object]) -> Said:
    """Gather the sentences of a correction's events; a wait for the GPU is said at once, once per correction."""
    said, waited = Said(), False
    for event in events:
        match event:
            case Reply(message=text) | Notice(message=text):
                said.lines.append(text)
            case Question(message=text):
                said.lines.append(f"Question: {text}")
            case Problem(message=text):
                said.lines.append(f"Problem: {text}")
            case Queued(ahead=ahead) if ahead and not waited:
                waited = True  # said once per correction, not once per frame that waits
                say(f"Waiting for the GPU: {ahead} ahead of this thread.")
            case Done(files=files):
                said.exported = [Path(f) for f in files]
    return said


def upload(client: WebClient, say: Poster, folder: Path, files: list[Path], sheet: bool = False) -> None:
    """Post the given files (shots, exports), and the storyboard sheet when asked, in the thread."""
    paths = list(files)
    if sheet:
        paths.append(folder / "storyboard.png")
    items = [{"file": str(p), "filename": p.name, "title": p.stem.replace("_", " ")} for p in paths if p.is_file()]
    if not items:
        return
    try:
        client.files_upload_v2(channel=say.channel, thread_ts=say.thread_ts, file_uploads=items)
    except Exception as error:
        log.exception("upload to %s failed", say.channel)
        say(f"The files are in {folder} but I could not upload them: {error}")
