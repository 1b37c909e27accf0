"""Read a person's correction ("frame 3: close-up", "swap 2 and 4") as typed edit commands."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel

from prompts.shot_types import find_shot


class SetShot(BaseModel):
    """Change a frame's shot type."""

    kind: Literal["set_shot"] = "set_shot"
    frame: int
    shot_type: str


class Rewrite(BaseModel):
    """Replace a frame's prompt with the person's own text."""

    kind: Literal["rewrite"] = "rewrite"
    frame: int
    prompt: str


class Regenerate(BaseModel):
    """Render a frame again with a new seed; frame None means every frame."""

    kind: Literal["regenerate"] = "regenerate"
    frame: int | None


class Pick(BaseModel):
    """Show another of a frame's candidates (numbered from 0, like the files) as its shot."""

    kind: Literal["pick"] = "pick"
    frame: int
    candidate: int


class Inpaint(BaseModel):
    """Redraw a region of a frame's image: a SAM box, a plain rectangle, or a SAM point (then a mask is chosen)."""

    kind: Literal["inpaint"] = "inpaint"
    frame: int
    region: Literal["box", "rect", "point"]
    coords: list[int]
    """x0, y0, x1, y1 for a box or rectangle; x, y for a point; in image pixels."""
    prompt: str
    blur: float | None = None
    dilate: int | None = None
    close: int | None = None
    """Mask refinement; None takes the default for the region."""


class ChooseMask(BaseModel):
    """Inpaint with one of the masks SAM proposed for a point (numbered from 0)."""

    kind: Literal["mask"] = "mask"
    frame: int | None
    """None: the one frame that has masks waiting."""
    mask: int


class Swap(BaseModel):
    """Exchange two frames."""

    kind: Literal["swap"] = "swap"
    first: int
    second: int


class Remove(BaseModel):
    """Delete a frame."""

    kind: Literal["remove"] = "remove"
    frame: int


class Undo(BaseModel):
    """Go back to the frames as they were before the last correction."""

    kind: Literal["undo"] = "undo"


class Export(BaseModel):
    """Finish the session and write the final storyboard."""

    kind: Literal["export"] = "export"


Command = SetShot | Rewrite | Regenerate | Pick | Inpaint | ChooseMask | Swap | Remove | Undo | Export

HELP = ('try "frame 3: close-up", "frame 2: <new prompt>", "regenerate 5", "regenerate all", '
        '"frame 4: candidate 1", "frame 4: inpaint box 120,60,380,500 with <what to draw>", '
        '"swap 2 and 4", "remove 6", "undo" or "export"')


class CorrectionError(ValueError):
    """A message that could not be read or applied; its text is shown to the person."""


REFUSED = "error: "
"""How a notice starts when the last message changed nothing because it could not be applied."""


_FRAME = re.compile(r"^(?:frame|shot|panel)\s*#?(\d+)\s*[:\-–,]?\s*(.*)$", re.IGNORECASE | re.DOTALL)
_REGEN = re.compile(r"^(?:regenerate|regen|redo|re-?render)\s+(?:frame\s*)?(all|\d+)$", re.IGNORECASE)
_SWAP = re.compile(r"^swap\s+(?:frames?\s*)?(\d+)\s*(?:and|with|&|,)\s*(?:frame\s*)?(\d+)$", re.IGNORECASE)
_REMOVE = re.compile(r"^(?:remove|delete|drop)\s+(?:frame\s*)?(\d+)$", re.IGNORECASE)
_CHOOSE = r"(?:(?:take|pick|use|choose)\s+(?:candidate|option)?|candidate|option|take)\s*#?(\d+)"
_CANDIDATE = re.compile(rf"^{_CHOOSE}$", re.IGNORECASE)
_PICK = re.compile(rf"^{_CHOOSE}\s+(?:for|in|of)\s+(?:frame\s*)?(\d+)$", re.IGNORECASE)
_INPAINT = re.compile(r"^(?:inpaint|repaint|redraw)\s+(box|rect|rectangle|point)\s+(-?\d[-\d\s,]*?)"
                      r"((?:\s+(?:blur|dilate|close)\s+\d+(?:\.\d+)?)*)\s+with\s+(.+)$", re.IGNORECASE | re.DOTALL)
_REFINE = re.compile(r"(blur|dilate|close)\s+(\d+(?:\.\d+)?)", re.IGNORECASE)
_MASK = re.compile(r"^(?:(?:use|pick|take|choose)\s+)?mask\s*#?(\d+)$", re.IGNORECASE)
_INPAINT_WORD = re.compile(r"^(?:inpaint|repaint|redraw)\b", re.IGNORECASE)
_ARTICLE = re.compile(r"^(?:make\s+it\s+|to\s+|into\s+)?(?:an?\s+)?", re.IGNORECASE)


def _inpaint(number: int, rest: str) -> Inpaint:
    match = _INPAINT.match(rest)
    if match is None:
        raise CorrectionError(f'frame {number}: expected "inpaint box x0,y0,x1,y1 with <what to draw>", '
                              '"inpaint rect ..." or "inpaint point x,y with ..." (options: dilate N, blur N, close N)')
    region = "rect" if match.group(1).lower().startswith("rect") else match.group(1).lower()
    try:
        coords = [int(n) for n in re.split(r"[\s,]+", match.group(2).strip()) if n]
    except ValueError:
        raise CorrectionError(f"frame {number}: expected whole pixel numbers such as 120,60,380,500") from None
    wanted = 2 if region == "point" else 4
    if len(coords) != wanted:
        shape = "x,y" if region == "point" else "x0,y0,x1,y1"
        raise CorrectionError(f"frame {number}: a {region} takes {wanted} numbers ({shape}), got {len(coords)}")
    options = {name.lower(): value for name, value in _REFINE.findall(match.group(3) or "")}
    return Inpaint(frame=number, region=region, coords=coords, prompt=match.group(4).strip(),
                   blur=float(options["blur"]) if "blur" in options else None,
                   dilate=int(float(options["dilate"])) if "dilate" in options else None,
                   close=int(float(options["close"])) if "close" in options else None)


def _frame_command(number: int, rest: str) -> Command:
    rest = rest.strip()
    if not rest:
        raise CorrectionError(f"say what to change in frame {number}: a shot type or a new prompt")
    if _INPAINT_WORD.match(rest):
        return _inpaint(number, rest)
    if match := _MASK.match(rest.rstrip(" .!")):
        return ChooseMask(frame=number, mask=int(match.group(1)))
    if match := _CANDIDATE.match(rest.rstrip(" .!")):
        return Pick(frame=number, candidate=int(match.group(1)))
    shot = find_shot(_ARTICLE.sub("", rest).rstrip(" .!"))
    if shot is not None:
        return SetShot(frame=number, shot_type=shot.slug)
    return Rewrite(frame=number, prompt=rest)


def parse_correction(text: str) -> list[Command]:
    """Return the commands a message asks for; raise CorrectionError when it cannot be read."""
    message = " ".join(text.split()).strip()
    if not message:
        raise CorrectionError(f"empty message: {HELP}")
    if match := _FRAME.match(message):
        return [_frame_command(int(match.group(1)), match.group(2))]
    if match := _REGEN.match(message):
        return [Regenerate(frame=None if match.group(1).lower() == "all" else int(match.group(1)))]
    if match := _MASK.match(message.rstrip(" .!")):
        return [ChooseMask(frame=None, mask=int(match.group(1)))]
    if match := _PICK.match(message.rstrip(" .!")):
        return [Pick(frame=int(match.group(2)), candidate=int(match.group(1)))]
    if match := _SWAP.match(message):
        return [Swap(first=int(match.group(1)), second=int(match.group(2)))]
    if match := _REMOVE.match(message):
        return [Remove(frame=int(match.group(1)))]
    lowered = message.lower().rstrip(".!")
    if lowered == "undo":
        return [Undo()]
    if lowered in ("export", "done", "finish", "finished"):
        return [Export()]
    raise CorrectionError(f"did not understand {message[:60]!r}: {HELP}")
