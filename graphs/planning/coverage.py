"""Choose shots for a scene: the kind of scene, a sequence of shot types, and who each frame shows."""

from __future__ import annotations

import re
from collections import Counter

from graphs.planning.beats import Beat
from prompts.shot_types import BY_NUMBER, ShotType

_KINDS = {
    "fight": r"\b(?:fight\w*|punch\w*|kick\w*|strik\w*|duel\w*|sword\w*|brawl\w*|attack\w*|blow\w*|struggl\w*)",
    "chase": r"\b(?:chas\w*|run\w*|ran|flee\w*|fled|pursu\w*|sprint\w*|race\w*|racing|escap\w*|dash\w*)",
    "investigation": r"\b(?:search\w*|investigat\w*|clue\w*|examin\w*|inspect\w*|discover\w*|find\w*|found|evidence)",
    "dialogue": r"\b(?:talk\w*|say\w*|said|ask\w*|argu\w*|conversation|tell\w*|told|whisper\w*|repl\w*|speak\w*)",
    "farewell": r"\b(?:goodbye|farewell|leav\w*|hug\w*|embrac\w*|depart\w*|part ways)",
    "dream": r"\b(?:dream\w*|float\w*|surreal|vision\w*|drift\w*|hallucinat\w*)",
}

PATTERNS: dict[str, tuple[int, ...]] = {
    "dialogue": (7, 4, 3, 3, 2, 2, 9, 4, 1, 5),
    "investigation": (8, 6, 4, 9, 3, 9, 2, 7, 1, 5),
    "chase": (8, 7, 5, 6, 9, 2, 7, 4, 8, 3),
    "fight": (7, 5, 4, 2, 9, 6, 1, 3, 7, 4),
    "farewell": (7, 4, 3, 2, 9, 1, 5, 8),
    "dream": (8, 6, 1, 7, 9, 3, 8, 2),
    "scene": (8, 6, 4, 3, 9, 2, 7, 5, 1),
}
"""Shot numbers in the order each kind of scene tends to use them; longer scenes cycle after the opener."""

_NO_CAST = (8, 7, 9, 8, 9, 7)


def scene_kind(description: str) -> str:
    """Return the kind of scene the description reads as ("chase", "dialogue", ... or "scene")."""
    counts = {kind: len(re.findall(pattern, description, re.IGNORECASE)) for kind, pattern in _KINDS.items()}
    kind, hits = max(counts.items(), key=lambda item: item[1])
    return kind if hits else "scene"


def shot_sequence(kind: str, count: int, has_cast: bool) -> list[int]:
    """Return `count` shot numbers for a scene of this kind, opening wide."""
    pattern = PATTERNS[kind] if has_cast else _NO_CAST
    shots = list(pattern[:count])
    while len(shots) < count:
        shots.extend(pattern[1:][: count - len(shots)])
    return shots


def beat_for(index: int, frames: int, beats: int) -> int:
    """Return which beat frame `index` of `frames` illustrates, spreading frames across beats."""
    return min(beats - 1, index * beats // frames) if beats else 0


def tighten(shot: ShotType, beat: Beat, index: int) -> ShotType:
    """Move an emotional beat's medium-to-long shot in to a close-up (never the opening frame)."""
    if index > 0 and beat.emotional and beat.characters and 4 <= shot.rank <= 7:
        return BY_NUMBER[2]
    return shot


def pick_cast(shot: ShotType, beat: Beat, recent: list[str], close_counts: Counter[str]) -> list[str]:
    """Return the tokens a frame shows: one for close shots (least covered first), up to three wider."""
    present = beat.characters or recent
    if shot.slug == "detail":
        return [] if beat.prop or not present else present[:1]
    if shot.rank <= 3 and present:
        return [min(present, key=lambda name: (close_counts[name], present.index(name)))]
    return present[:3]


def cover_everyone(visible: list[list[str]], shots: list[ShotType], cast: list[str]) -> None:
    """Give every cast member at least one frame: take a single-character frame from the most shown
    character, or else join the widest frame that has room for one more."""
    for name in cast:
        if any(name in frame for frame in visible):
            continue
        counts = Counter(n for frame in visible for n in frame)
        options = [i for i, frame in enumerate(visible)
                   if len(frame) == 1 and counts[frame[0]] > 1 and shots[i].slug != "detail"]
        roomy = [i for i, frame in enumerate(visible) if len(frame) < 3 and shots[i].slug != "detail"]
        if options:
            visible[max(options, key=lambda i: counts[visible[i][0]])] = [name]
        elif roomy:
            visible[max(roomy, key=lambda i: (shots[i].rank, i))].append(name)
