"""Slack messages the bot writes: one-line replies in a thread, and the status message edited as work goes on."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from slack_sdk import WebClient

from agent.session import Event

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
        """Edit the status for each event worth showing; return the error messages met."""
        errors = []
        for event in events:
            kind = event.get("type")
            if kind == "plan":
                self.set(f"Planned {event['frames']} frames with the {event['planner']} planner; drawing\u2026")
            elif kind == "progress" and time.monotonic() - self.last >= UPDATE_EVERY:
                self.set(f"Drawing frame {event['frame']} ({event['frame'] + 1} of {event['frames']}): step "
                         f"{event['step']} of {event['steps']}")
            elif kind == "frame":  # frames are numbered from 0, as in corrections and file names
                self.set(f"Frame {event['frame']} {event['status']} ({event['frame'] + 1} of {event['frames']})")
            elif kind == "queue" and event.get("ahead"):
                self.set(f"Waiting for the GPU: {event['ahead']} ahead of this storyboard")
            elif kind == "error":
                errors.append(event["message"])
        return errors
