"""Mend what a program can mend in a frame prompt (shot phrase, missing class words) before linting."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from graphs.state import Character, FrameSpec
from prompts.lint import Person, lint_frame
from prompts.shot_types import opening_shot, shot_by_slug, strip_opening
from tools.memo import Memo


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


_LINTED = Memo(20_000)
"""(cast, frame spec) -> its mended prompt and the rules it still breaks, for frames linted before. A correction
to one frame of a long storyboard then lints one frame, not all of them, and its reply and the lint step that
follows share the one answer."""


def mended(spec: FrameSpec, cast: list[Character]) -> tuple[str, tuple[tuple[int, str], ...]]:
    """Return a spec's mended prompt and the (rule, reason) pairs the mended spec still breaks."""
    # json.dumps, not model_dump_json: text read straight from a message may hold a lone surrogate, which it escapes
    key = (tuple((c.name, c.class_word) for c in cast), json.dumps(spec.model_dump(), sort_keys=True))
    known = _LINTED.get(key)
    if known is None:
        fixed = repair_prompt(spec.prompt, spec.shot_type, cast)
        spec_now = spec if fixed == spec.prompt else spec.model_copy(update={"prompt": fixed})
        known = fixed, tuple((v.rule, v.reason) for v in lint_frame(0, spec_now, cast))
        _LINTED.put(key, known)  # sessions of a bot lint side by side; the memo locks
    return known
