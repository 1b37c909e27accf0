"""Choose each frame's framing, angle and movement for the kind of scene (see prompts/camera.py).

A dialogue gets a two-shot for its master, over-the-shoulder pairs for two people facing each other and a
reaction single of whoever listens; a chase gets tracking and handheld frames; an object a beat names gets an
insert. Movement widens and emotion tightens: a moving beat keeps a wider frame moving with it, an emotional
close-up pushes in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from graphs.planning.beats import Beat
from prompts.shot_types import BY_NUMBER, ShotType

_MOVING = re.compile(r"\b(?:run\w*|ran|sprint\w*|chas\w*|flee\w*|fled|vault\w*|dash\w*|race\w*|racing|jump\w*|"
                     r"climb\w*|walk\w*|drive\w*|drove|ride\w*|rode|escap\w*|follow\w*|disappear\w*)\b", re.IGNORECASE)
_SPEECH = re.compile(r"\b(?:ask\w*|tell\w*|tells|told|say\w*|said|whisper\w*|repl\w*|shout\w*|answer\w*|"
                     r"confess\w*|admit\w*)\b", re.IGNORECASE)


@dataclass
class Camera:
    """The camera of one frame; `toward` is the token of whose shoulder, eyes or reaction it is."""

    framing: str = "single"
    angle: str = "eye_level"
    movement: str = "static"
    toward: str = ""


def first_camera(kind: str, index: int, shot: ShotType, beat: Beat, names: list[str], subject: str) -> Camera:
    """The camera a frame gets on its own, before the scene's coverage pairs frames up."""
    framing = ("insert" if subject and not names else "two_shot" if len(names) == 2 else
               "group" if len(names) > 2 else "single")
    moving = bool(_MOVING.search(beat.text))
    movement = "static"
    if kind in ("chase", "fight") and moving and names:
        movement = "tracking" if shot.rank >= 5 else "handheld"
    elif moving and names and shot.rank >= 6:
        movement = "pan"
    elif beat.emotional and names and shot.rank <= 3:
        movement = "push_in"
    angle = "eye_level"
    if index == 0 and shot.rank == 8:
        angle = "high"
    elif kind in ("chase", "fight") and 5 <= shot.rank <= 6 and names:
        angle = "low"
    elif kind == "dream" and shot.rank <= 3:
        angle = "dutch"
    return Camera(framing, angle, movement)


def cover_dialogue(cameras: list[Camera], shots: list[ShotType], beats: list[Beat],
                   visible: list[list[str]]) -> None:
    """Turn the first close single of a line said to someone into the listener's reaction shot, then pair
    neighbouring close singles of two people who are both on set as over-the-shoulder shots, each over the
    other's shoulder (who joins the frame)."""
    for index, camera in enumerate(cameras):
        people = beats[index].characters
        if index and _close_single(camera, shots[index], visible[index], 3) and len(people) > 1 \
                and _SPEECH.search(beats[index].text):
            camera.framing, camera.toward = "reaction", people[1]
            visible[index] = [people[1]]
            break
    on_set, index = [], 0
    while index + 1 < len(cameras):
        on_set += beats[index].characters + beats[index + 1].characters
        a, b = visible[index], visible[index + 1]
        if all(_close_single(cameras[k], shots[k], visible[k], 4) for k in (index, index + 1)) and a != b \
                and a[0] in on_set and b[0] in on_set:
            for k, other in ((index, b[0]), (index + 1, a[0])):
                cameras[k].framing, cameras[k].toward = "over_the_shoulder", other
                visible[k] = visible[k] + [other]
            index += 2
        else:
            index += 1


def _close_single(camera: Camera, shot: ShotType, names: list[str], widest: int) -> bool:
    """One person, framed on their own, from close-up out to rank `widest` (never a detail insert)."""
    return camera.framing == "single" and len(names) == 1 and 2 <= shot.rank <= widest and shot.slug != "detail"


def fit_inserts(shots: list[ShotType], beats: list[Beat], chosen: list[int]) -> list[Beat]:
    """Give each planned detail insert something to show; return the beat each frame tells.

    A detail on a beat that names no object would only show hands: on a moving beat ("vaults over a fruit stall")
    it becomes a full shot that keeps the movement in view; otherwise it shows the object a neighbouring beat
    names ("the stolen briefcase"), when there is one.
    """
    told = [beats[b] for b in chosen]
    for index, b in enumerate(chosen):
        if shots[index].slug != "detail" or told[index].prop:
            continue
        if _MOVING.search(told[index].text) and told[index].characters:
            shots[index] = BY_NUMBER[6]
        elif near := next((beats[k].prop for k in (b - 1, b + 1) if 0 <= k < len(beats) and beats[k].prop), ""):
            told[index] = replace(told[index], prop=near)
    return told
