"""Reading the corrections that change the list of frames: adding a new frame and moving one to another place."""

from __future__ import annotations

import re

from graphs.commands import AddFrame, Clarify, Command, MoveFrame
from graphs.corrections.phrasing import FLAGS, FRAME_REF, read_number, shot_of
from prompts.shot_types import ShotType

MOVE_FRAME = re.compile(rf"^(?:move|put|place|shift)\s+{FRAME_REF}\s+(?:"
                        r"to\s+(?:(?:position|place|slot|index|spot)\s*|(?:frame|shot|panel)\s*)?#?(\d+)|"
                        rf"(before|after|behind)\s+{FRAME_REF}|"
                        r"to\s+the\s+(?:start|beginning|front))$", re.IGNORECASE)
_ADD_LEAD = re.compile(r"^(?:add|insert)\s+(?:(?:a|an|one|another)\s+)?(?:new\s+|extra\s+|more\s+)?(.*)$", FLAGS)
_ADD_WHERE = re.compile(rf"\b(?:(after|before)\s+{FRAME_REF}|(?:at|to)\s+the\s+(end|start|beginning|front))\b",
                        re.IGNORECASE)
_ACTION_LEAD = re.compile(r"^(?:[:\-–,;]\s*|(?:showing|of|with|where|in\s+which|that\s+shows|to\s+show)\s+)",
                          re.IGNORECASE)
_ACTION_SPLIT = re.compile(r"\s*[:,;]\s*|\s+(?:of|showing|with|where|in\s+which|that\s+shows|to\s+show)\s+",
                           re.IGNORECASE)
_FRAME_NOUNS = ("frame", "shot", "panel", "image", "picture")


def _move_to(frame: int, where: str, other: int) -> int:
    """Return the index a frame ends up at when put before or after another (counted after it is taken out)."""
    if frame == other:
        return frame
    if where.lower() == "before":
        return other if frame > other else other - 1
    return other + 1 if frame > other else other  # "after" or "behind"


def move_frame(match: re.Match) -> list[Command]:
    """Build the MoveFrame a MOVE_FRAME match asks for: to a position, before or after a frame, or to the start."""
    frame = read_number(match.group(1))
    if match.group(2):
        to = read_number(match.group(2))
    elif match.group(3):
        to = _move_to(frame, match.group(3), read_number(match.group(4)))
    else:
        to = 0
    return [MoveFrame(frame=frame, to=to)]


def _split(body: str, where: re.Match | None) -> tuple[str, str]:
    """Split what follows "add" into what is added ("a close-up") and what it shows."""
    if where is not None:
        return body[:where.start()].strip(), _ACTION_LEAD.sub("", body[where.end():].strip(), count=1)
    split = _ACTION_SPLIT.search(body)
    if split is None:
        return body.strip(), ""
    return body[:split.start()].strip(), body[split.end():]


def _after(where: re.Match | None) -> int | None:
    """Return the frame the new one follows: None for the end, -1 for the start."""
    if where is not None and where.group(1):
        other = read_number(where.group(2))
        return other if where.group(1).lower() == "after" else other - 1
    if where is not None and where.group(3).lower() != "end":
        return -1
    return None


def add_frame(plain: str) -> list[Command] | None:
    """Read "add a frame after 3: ...", "add a close-up after frame 2 showing ..." or "add a frame at the end: ..."."""
    lead = _ADD_LEAD.match(plain)
    if lead is None:
        return None
    where = _ADD_WHERE.search(lead.group(1))
    what, action = _split(lead.group(1), where)
    shot: ShotType | None = None
    if what.lower() not in _FRAME_NOUNS:
        shot = shot_of(what)
        if shot is None:
            return None
    elif action and (split := _ACTION_SPLIT.search(action)) and (found := shot_of(action[:split.start()])):
        shot, action = found, action[split.end():]
    after = _after(where)
    action = action.strip()
    if not action:
        place = "at the end" if after is None else "at the start" if after == -1 else f"after frame {after}"
        return [Clarify(question=f'what should the new frame {place} show? say "add a frame {place}: '
                                 '<what happens>"')]
    return [AddFrame(after=after, shot_type=shot.slug if shot else None, action=action)]
