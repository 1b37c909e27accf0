"""Mend what a program can mend in a frame prompt (shot phrase, missing class words) before linting."""

from __future__ import annotations

import re
from collections.abc import Sequence

from prompts.lint import Person
from prompts.shot_types import SHOT_TYPES, shot_by_slug


def _flat(text: str) -> str:
    return text.lower().replace("-", " ")


def repair_prompt(prompt: str, shot_slug: str, cast: Sequence[Person]) -> str:
    """Return the prompt opening with its shot type's phrase and naming every token with its class word."""
    text = " ".join(prompt.split())
    shot = shot_by_slug(shot_slug)
    if not _flat(text).startswith(_flat(shot.phrase) + " of "):
        openers = sorted(SHOT_TYPES, key=lambda s: -len(s.phrase))
        other = next((s for s in openers if _flat(text).startswith(_flat(s.phrase) + " of ")), None)
        body = text[len(other.phrase) + len(" of "):] if other else text[:1].lower() + text[1:]
        text = f"{shot.phrase} of {body}"
    for person in cast:
        bare = rf"\b({re.escape(person.name)})\b(?!\s+{re.escape(person.class_word)}\b)"
        text = re.sub(bare, rf"\1 {person.class_word}", text, flags=re.IGNORECASE)
    return text
