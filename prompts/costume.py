"""What a character's description says about their look: a few words for the prompt, and a colour for the sketch.

A description such as "grey trench coat, tired eyes" is free text. Prompts take its first few comma-separated
parts (the look, not a biography), and the sketch dresses the figure in the first colour it names, preferring
one that goes with a piece of clothing ("red scarf" over "blonde hair").
"""

from __future__ import annotations

import re

MOST_WORDS = 6
"""The most words of a description a prompt carries, so the look stays a short note beside the name."""

COLOURS = {
    "red": (200, 30, 40), "crimson": (170, 20, 50), "scarlet": (215, 35, 30), "maroon": (120, 20, 35),
    "burgundy": (115, 25, 45), "orange": (235, 120, 20), "yellow": (240, 205, 30), "mustard": (205, 165, 35),
    "gold": (210, 170, 50), "green": (40, 140, 60), "olive": (110, 115, 45), "teal": (20, 130, 130),
    "blue": (35, 80, 190), "navy": (25, 35, 95), "purple": (115, 45, 150), "violet": (140, 80, 200),
    "pink": (235, 120, 170), "brown": (115, 70, 40), "tan": (190, 150, 100), "beige": (215, 195, 160),
    "khaki": (175, 160, 110), "black": (28, 28, 32), "white": (242, 242, 238), "grey": (125, 125, 130),
    "gray": (125, 125, 130), "silver": (185, 188, 195), "denim": (70, 100, 150),
}
"""Colour words and the RGB a sketch paints for each; chosen away from the sketch's skin and hair colours."""
_BODY_WEAR = ("coat", "jacket", "shirt", "t-shirt", "dress", "hoodie", "sweater", "jumper", "uniform", "suit", "blouse",
              "vest", "cloak", "robe", "cardigan", "parka", "overcoat", "trench", "raincoat", "gown", "skirt", "top",
              "tunic", "kimono", "apron", "overalls", "blazer", "poncho", "jersey", "sari")
_FACE_WEAR = ("scarf", "hat", "cap", "shawl")
_FOOT_WEAR = ("boot", "shoe", "trousers", "jeans", "belt")


def _worn(*names: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(rf"\b(?:{'|'.join(n for group in names for n in group)})s?\b", re.IGNORECASE)


_GARMENTS = _worn(_BODY_WEAR, _FACE_WEAR)
"""Clothes whose colour dresses the sketch figure."""
_BELOW_THE_FACE = _worn(_BODY_WEAR, _FOOT_WEAR)
"""What a face-filling frame cannot show."""
_COLOUR = re.compile(rf"\b(?:dark\s+|light\s+|pale\s+|bright\s+)?({'|'.join(COLOURS)})\b", re.IGNORECASE)


def look_parts(description: str, face_only: bool = False) -> list[str]:
    """The description's comma-separated parts, in order, as short as the prompt should carry; `face_only` (an
    extreme close-up) keeps only the parts a face-filling frame can show (no coat, a scarf or hat still)."""
    parts, words = [], 0
    for part in re.split(r"\s*[,;]\s*|\s+and\s+", " ".join(description.split()).strip(" .")):
        if face_only and _BELOW_THE_FACE.search(part):
            continue
        count = len(part.split())
        if not part or words + count > MOST_WORDS:
            break
        parts.append(part)
        words += count
    return parts


def costume_colour(description: str) -> tuple[int, int, int] | None:
    """The colour a sketch dresses the character in, from the description's words; None when it names none."""
    parts = re.split(r"\s*[,;]\s*|\s+and\s+", description)
    dressed = [p for p in parts if _GARMENTS.search(p)]
    for part in dressed + parts:
        if match := _COLOUR.search(part):
            return COLOURS[match.group(1).lower()]
    return None
