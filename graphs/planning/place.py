"""Find where a scene happens and under what light, so every frame can say the same thing."""

from __future__ import annotations

import re

from prompts import vocabulary as vocab

_PLACES = ("house", "home", "library", "street", "alley", "alleyway", "rooftop", "roof", "kitchen", "office",
           "forest", "woods", "beach", "station", "platform", "train", "car", "warehouse", "bar", "cafe",
           "café", "restaurant", "room", "corridor", "hallway", "hall", "market", "field", "desert", "city",
           "town", "village", "park", "church", "cathedral", "hospital", "school", "classroom", "bedroom",
           "garden", "harbour", "harbor", "dock", "docks", "pier", "bridge", "mountain", "mountains",
           "river", "lake", "shore", "cave", "castle", "palace", "temple", "shrine", "studio", "theatre",
           "theater", "museum", "gallery", "apartment", "flat", "attic", "basement", "cellar", "garage",
           "parking lot", "highway", "road", "square", "plaza", "courtyard", "ship", "boat", "airport",
           "laboratory", "lab", "factory", "farm", "barn", "meadow", "valley", "canyon", "cliff", "island",
           "jungle", "swamp", "mansion", "cabin", "tunnel", "subway", "stadium", "gym", "arena", "diner",
           "motel", "hotel", "lobby", "prison", "cell", "courtroom", "precinct", "stairwell", "staircase",
           "balcony", "terrace", "camp", "battlefield", "ruins", "graveyard", "cemetery", "spaceship")
_SETTING = re.compile(
    r"\b(?:of|in|inside|at|into|through|across|on|outside|within|around|along|down|onto|toward|towards|near)\s+"
    r"((?:the|a|an)\s+(?:[a-z][a-z'-]*\s+){0,3}?(?:" + "|".join(_PLACES) + r"))\b", re.IGNORECASE)
_LEADING_PREPOSITION = re.compile(r"^(?:in|inside|at|on|within|across|through)\s+", re.IGNORECASE)

_LIGHTS = (
    (r"\bcandle\w*|\bfirelight|\bfireplace|\blantern", "warm candlelight"),
    (r"\bneon\b", "neon light"),
    (r"\bmoon\w*", "cold moonlight"),
    (r"\bnight\w*|\bmidnight|\bdark\b|\bdarkness", "dim night light"),
    (r"\bflashlight|\btorchlight", "dim light and flashlight beams"),
    (r"\bsunset|\bdusk|\bevening|\btwilight", "warm sunset light"),
    (r"\bdawn|\bsunrise|\bdaybreak", "pale dawn light"),
    (r"\brain\w*|\bstorm\w*|\bovercast|\bfog\w*|\bmist\w*", "grey overcast light"),
    (r"\bnoon|\bmidday|\bscorching|\bblazing sun", "hard midday sun"),
    (r"\bmorning", "soft morning light"),
    (r"\bsnow\w*", "cold diffuse light"),
)

_FALLBACK_SETTINGS = {
    "dialogue": "a quiet room", "investigation": "a dim old house", "chase": "a crowded city street",
    "fight": "an empty warehouse", "farewell": "a train platform", "dream": "an endless misty plain",
}


def _clean(phrase: str) -> str | None:
    """Drop a candidate setting that would break a prompt rule (people, feelings, faces)."""
    for pattern in (vocab.PERSON_NOUNS, vocab.PRONOUNS, vocab.EMOTIONS, vocab.FACE_AND_POSE, vocab.LOWER_BODY):
        if pattern.search(phrase):
            return None
    return " ".join(phrase.split()).lower()


def find_setting(description: str, kind: str, given: str = "") -> str:
    """Return the scene's setting as a short noun phrase ("an abandoned house")."""
    if given.strip():
        return _LEADING_PREPOSITION.sub("", " ".join(given.split()))
    for match in _SETTING.finditer(description):
        phrase = _clean(match.group(1))
        if phrase:
            return phrase
    return _FALLBACK_SETTINGS.get(kind, "an open landscape")


def find_lighting(description: str, given: str = "") -> str:
    """Return the scene's light ("cold moonlight") from the earliest light cue in the description."""
    if given.strip():
        return " ".join(given.split())
    found = [(match.start(), light) for pattern, light in _LIGHTS
             if (match := re.search(pattern, description, re.IGNORECASE))]
    return min(found)[1] if found else "soft daylight"
