"""The nine cinematic shot types as data: numbers, names, prompt phrases and framing facts."""

from __future__ import annotations

import re
from dataclasses import dataclass

from prompts.camera import with_article


@dataclass(frozen=True)
class ShotType:
    """One shot type, as users number it and as prompts and renderers use it."""

    number: int
    """The 1-9 number people type (SPEC.md section 1)."""
    slug: str
    """Stable identifier used in files and config."""
    name: str
    """Human name for captions and messages."""
    phrase: str
    """Words every prompt of this type opens with, followed by " of "."""
    trigger: str | None
    """Trigger phrase the shot-type LoRA was trained on; None where no LoRA exists."""
    definition: str
    """How much of the human figure the frame shows."""
    negative: tuple[str, ...]
    """Terms added to the negative prompt to keep the framing from drifting."""
    rank: int
    """Camera distance: 0 for a detail insert, 1 (closest) to 8 (farthest)."""

    @property
    def spoken(self) -> str:
        """The name inside a sentence, with its article: "a close-up", "an extreme close-up", "an American shot"."""
        return with_article(self.name if self.slug == "american" else self.name.lower())


SHOT_TYPES: tuple[ShotType, ...] = (
    ShotType(1, "extreme_close_up", "Extreme close-up", "Extreme close up", "extreme close up of a person",
             "the face or part of it, from the chin up",
             ("shoulders", "torso", "full body", "wide shot", "legs", "feet"), 1),
    ShotType(2, "close_up", "Close-up", "Close up", "close up of a person",
             "from just above the shoulders up",
             ("full body", "legs", "feet", "lower body", "wide shot", "waist"), 2),
    ShotType(3, "medium_close_up", "Medium close-up", "Medium close up", "medium close up of a person",
             "from mid-torso up",
             ("legs", "feet", "lower body", "full body", "extreme close up"), 3),
    ShotType(4, "medium", "Medium shot", "Medium shot", "medium shot picture of a person",
             "from the waist up",
             ("legs", "feet", "lower body", "full body", "close-up"), 4),
    ShotType(5, "american", "American shot", "American shot", "american shot picture of a person",
             "from mid-thigh to the head",
             ("feet", "full body", "close-up", "cropped head"), 5),
    ShotType(6, "full", "Full shot", "Full body shot", "full body picture of a person",
             "the whole figure, more than two thirds of the frame height",
             ("cropped", "out of frame", "cut-off feet", "close-up", "missing feet", "missing head"), 6),
    ShotType(7, "long", "Long shot", "Long shot", "long shot picture of a person",
             "the whole figure between one and two thirds of the frame height, with its surroundings",
             ("close-up", "portrait", "cropped", "out of frame"), 7),
    ShotType(8, "extreme_long", "Extreme long shot", "Extreme long shot", "extreme long shot view of a person",
             "the figure under a third of the frame height, or absent; the place dominates",
             ("close-up", "portrait", "cropped", "large figure"), 8),
    ShotType(9, "detail", "Detail shot", "Detail shot", None,
             "objects, hands or a close detail of an action",
             ("wide shot", "full body", "landscape", "portrait"), 0),
)

BY_SLUG: dict[str, ShotType] = {shot.slug: shot for shot in SHOT_TYPES}
BY_NUMBER: dict[int, ShotType] = {shot.number: shot for shot in SHOT_TYPES}

_ALIASES: dict[str, str] = {
    "ecu": "extreme_close_up", "xcu": "extreme_close_up", "extreme closeup": "extreme_close_up",
    "cu": "close_up", "closeup": "close_up", "close": "close_up", "close shot": "close_up",
    "mcu": "medium_close_up", "medium closeup": "medium_close_up",
    "ms": "medium", "mid shot": "medium", "mid": "medium", "waist shot": "medium",
    "cowboy": "american", "cowboy shot": "american", "medium long": "american", "medium long shot": "american",
    "fs": "full", "full body": "full", "full figure": "full",
    "ls": "long", "wide": "long", "wide shot": "long",
    "els": "extreme_long", "xls": "extreme_long", "extreme wide": "extreme_long",
    "extreme wide shot": "extreme_long", "establishing": "extreme_long", "establishing shot": "extreme_long",
    "insert": "detail", "insert shot": "detail", "detail insert": "detail",
}


def _normalise(text: str) -> str:
    words = re.sub(r"[-_]", " ", text.strip().lower())
    return re.sub(r"\s+", " ", words)


def _build_lookup() -> dict[str, ShotType]:
    table: dict[str, ShotType] = {}
    for shot in SHOT_TYPES:
        for key in (shot.slug, shot.name, shot.phrase, str(shot.number)):
            table[_normalise(key)] = shot
        if _normalise(shot.name).endswith(" shot"):
            table[_normalise(shot.name)[: -len(" shot")]] = shot
    for alias, slug in _ALIASES.items():
        table[_normalise(alias)] = BY_SLUG[slug]
    return table


_LOOKUP = _build_lookup()


def find_shot(text: str | int) -> ShotType | None:
    """Return the shot type a number, slug, name or common alias refers to, or None."""
    return _LOOKUP.get(_normalise(str(text)))


def shot_by_slug(slug: str) -> ShotType:
    """Return the shot type with this slug; raise ValueError naming the valid slugs otherwise."""
    try:
        return BY_SLUG[slug]
    except KeyError:
        raise ValueError(f"unknown shot type {slug!r}: expected one of {', '.join(BY_SLUG)}") from None


DEFAULT_BASE_NEGATIVE = "blurry, low quality, deformed, disfigured, bad anatomy, extra limbs, watermark, text"
"""Base negative prompt used until a checkpoint supplies its own."""


def negative_prompt(slug: str, base: str = DEFAULT_BASE_NEGATIVE) -> str:
    """Return the base negative prompt followed by the shot type's own negative terms."""
    terms = [base] if base.strip() else []
    return ", ".join(terms + list(shot_by_slug(slug).negative))


def opening_shot(prompt: str) -> ShotType | None:
    """Return the shot type whose phrase and "of" open the prompt (longest phrase first), or None."""
    flat = _normalise(prompt)
    for shot in sorted(SHOT_TYPES, key=lambda s: -len(s.phrase)):
        if flat.startswith(_normalise(shot.phrase) + " of "):
            return shot
    return None


def strip_opening(prompt: str) -> str:
    """Return the prompt without its opening shot phrase and "of" (unchanged if it has none)."""
    shot = opening_shot(prompt)
    return prompt.strip()[len(shot.phrase) + len(" of "):] if shot else prompt.strip()


def shot_description(shot: ShotType) -> str:
    """Return a caption of what a frame of this shot type looks like, for zero-shot image classification."""
    return f"a {shot.name.lower()} film still showing {shot.definition}"
