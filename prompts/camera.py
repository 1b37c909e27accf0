"""The camera beyond the shot size: framing, angle and movement, with the words people read on a board and the
phrases image models answer to.

Every choice has a plain default (a single, at eye level, static) that adds nothing to a prompt, so a board
planned before these existed reads and draws as it did.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Framing = Literal["single", "two_shot", "group", "over_the_shoulder", "pov", "reaction", "insert"]
Angle = Literal["eye_level", "high", "low", "overhead", "dutch"]
Movement = Literal["static", "pan", "tilt", "push_in", "pull_out", "tracking", "handheld"]


@dataclass(frozen=True)
class Choice:
    """One framing, angle or movement: its slug, what a crew calls it, and what a prompt says."""

    slug: str
    label: str
    """As a storyboard artist writes it ("over the shoulder")."""
    phrase: str
    """As a prompt says it ("over-the-shoulder shot"); empty adds nothing."""


FRAMINGS = {c.slug: c for c in (
    Choice("single", "single", ""),
    Choice("two_shot", "two-shot", "two-shot, both in frame"),
    Choice("group", "group shot", "group shot"),
    Choice("over_the_shoulder", "over the shoulder", "over-the-shoulder shot"),
    Choice("pov", "POV", "point-of-view shot"),
    Choice("reaction", "reaction", "reaction shot"),
    Choice("insert", "insert", "insert shot"),
)}
ANGLES = {c.slug: c for c in (
    Choice("eye_level", "eye level", ""),
    Choice("high", "high angle", "high angle shot, looking down"),
    Choice("low", "low angle", "low angle shot, looking up"),
    Choice("overhead", "overhead", "overhead shot, bird's-eye view"),
    Choice("dutch", "dutch angle", "dutch angle, tilted horizon"),
)}
MOVEMENTS = {c.slug: c for c in (
    Choice("static", "static", ""),
    Choice("pan", "pan", "panning shot"),
    Choice("tilt", "tilt", "tilting shot"),
    Choice("push_in", "push in", "slow push in"),
    Choice("pull_out", "pull out", "camera pulling back"),
    Choice("tracking", "tracking", "tracking shot, motion blur"),
    Choice("handheld", "handheld", "handheld camera, shaky framing"),
)}
TOWARD = {"over_the_shoulder", "pov", "reaction"}
"""Framings that name a character (FrameSpec.toward): whose shoulder the camera looks over, whose eyes it
looks through, who reacts."""


def camera_phrase(framing: str, angle: str, movement: str, toward: str = "") -> str:
    """The prompt sentence for the camera, or "" for a static single at eye level.

    `toward` is the "token class" of whose shoulder it is. A point-of-view shot never names whose eyes it looks
    through: that person is not in the frame, and naming them would draw them.
    """
    parts = []
    if framing == "over_the_shoulder" and toward:
        parts.append(f"over-the-shoulder shot from behind {toward}")
    elif FRAMINGS[framing].phrase:
        parts.append(FRAMINGS[framing].phrase)
    parts += [choice.phrase for choice in (ANGLES[angle], MOVEMENTS[movement]) if choice.phrase]
    return (", ".join(parts)[:1].upper() + ", ".join(parts)[1:] + ".") if parts else ""


def camera_words(framing: str, angle: str, movement: str, toward: str = "", subject: str = "") -> str:
    """What a board prints for the camera ("over Mara's shoulder, low angle, push in"); "" for the defaults.

    `toward` is the display name of whose shoulder, eyes or reaction it is; `subject` what an insert shows.
    """
    parts = []
    if framing == "over_the_shoulder" and toward:
        parts.append(f"over {toward}'s shoulder")
    elif framing in ("pov", "reaction") and toward:
        parts.append(f"{FRAMINGS[framing].label} of {toward}")
    elif framing == "insert" and subject:
        parts.append(f"insert of {subject}")
    elif framing != "single":
        parts.append(FRAMINGS[framing].label)
    parts += [choice.label for choice, default in ((ANGLES[angle], "eye_level"), (MOVEMENTS[movement], "static"))
              if choice.slug != default]
    return ", ".join(parts)


def with_article(words: str) -> str:
    """ "a two-shot", "an extreme close-up", "an American shot": the article a sentence needs before the words."""
    return ("an " if words[:1].lower() in "aeiou" else "a ") + words
