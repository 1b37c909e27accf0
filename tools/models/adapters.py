"""Which LoRAs a frame switches on, and how strongly: the weight policy in one readable place.

A frame gets the LoRA of its shot type (detail inserts have none) and the LoRA of every character
in it. Character weight follows the framing: full strength for close shots, where the face must
hold, a little less for long shots, where pose matters more than likeness. When several characters
share a frame, each gets the same reduced weight so none of them dominates.
"""

from __future__ import annotations

import re

from prompts.shot_types import shot_by_slug
from tools.models.library import Library, Weights
from tools.render.job import Adapter

_BANDS = {"extreme_close_up": "close", "close_up": "close", "medium_close_up": "close",
          "medium": "medium", "american": "medium", "full": "medium",
          "long": "long", "extreme_long": "long", "detail": "detail"}


def adapter_name(kind: str, key: str) -> str:
    """Return the name an adapter has inside the pipeline: "shot_close_up", "char_kaitoyosuke".

    Tokens keep their letters, digits, "_" and "-"; anything else (a dot would break the module
    names peft builds) becomes "~", which no token contains, so two tokens never share a name.
    """
    return f"{kind}_{re.sub(r'[^A-Za-z0-9_-]', '~', key)}"


def character_weight(weights: Weights, shot_type: str, count: int) -> float:
    """Return the weight of each character's LoRA in a frame of this shot type with `count` characters."""
    base = getattr(weights, _BANDS[shot_by_slug(shot_type).slug])
    return round(base * (weights.shared if count > 1 else 1.0), 4)


def adapters_for(library: Library, shot_type: str, names: list[str], with_shot: bool = True) -> tuple[Adapter, ...]:
    """Return the adapters for a frame: its shot LoRA (unless `with_shot` is off), then each named character's."""
    slug = shot_by_slug(shot_type).slug
    chosen = []
    if with_shot and slug in library.shots:
        chosen.append(Adapter(adapter_name("shot", slug), library.shots[slug], library.weights.shot))
    people = [name for name in dict.fromkeys(names) if name in library.characters]
    weight = character_weight(library.weights, slug, len(people))
    chosen += [Adapter(adapter_name("char", name), library.characters[name], weight) for name in people]
    return tuple(chosen)
