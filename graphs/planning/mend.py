"""Mend what a program can mend in a frame prompt (shot phrase, missing class words) before linting."""

from __future__ import annotations

import re
from collections.abc import Sequence

from prompts.lint import Person
from prompts.shot_types import opening_shot, shot_by_slug, strip_opening


def repair_prompt(prompt: str, shot_slug: str, cast: Sequence[Person]) -> str:
    """Return the prompt opening with its shot type's phrase and naming every token with its class word."""
    text = " ".join(prompt.split())
    shot = shot_by_slug(shot_slug)
    if opening_shot(text) != shot:
        body = strip_opening(text) if opening_shot(text) else text[:1].lower() + text[1:]
        text = f"{shot.phrase} of {body}"
    for person in cast:
        bare = rf"\b({re.escape(person.name)})\b(?!\s+{re.escape(person.class_word)}\b)"
        text = re.sub(bare, rf"\1 {person.class_word}", text, flags=re.IGNORECASE)
    return text
