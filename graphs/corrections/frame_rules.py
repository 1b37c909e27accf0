"""Reading what follows "frame N:" ("close-up", "add rain", "inpaint box ...") as one command for that frame."""

from __future__ import annotations

import re

from graphs.commands import (Append, ChooseMask, Clarify, Command, Duplicate, Inpaint, MoveCharacter, MoveFrame, Pick,
                             Regenerate, Remove, Rewrite, SetShot)
from graphs.corrections.film_words import film_commands
from graphs.corrections.phrasing import (CHOOSE, CHOOSE_ORDINAL, DUPLICATE_BARE, FLAGS, MASK, ONE, POSITION, REGEN_BARE,
                                         REMOVE_BARE, WHO, Rule, Said, on_whole, ordinal_of, plain_text, position_of,
                                         read_by, read_number, shot_of)
from graphs.corrections.setting_words import read_duration
from graphs.errors import CorrectionError

_INPAINT = re.compile(r"^(?:inpaint|repaint|redraw)\s+(box|rect|rectangle|point)\s+(-?\d[-\d\s,]*?)"
                      r"((?:\s+(?:blur|dilate|close)\s+\d+(?:\.\d+)?)*)\s+with\s+(.+)$", FLAGS)
_REFINE = re.compile(r"(blur|dilate|close)\s+(\d+(?:\.\d+)?)", re.IGNORECASE)
_INPAINT_WORD = re.compile(r"^(?:inpaint|repaint|redraw)\b", re.IGNORECASE)
_CANDIDATE = re.compile(rf"^{CHOOSE}$", re.IGNORECASE)
_ORDINAL_HERE = re.compile(rf"^{CHOOSE_ORDINAL}{ONE}$", re.IGNORECASE)
_APPEND_HERE = re.compile(r"^(?:\+=?|(?:also\s+|and\s+)?(?:add|append)\b\s*:?)\s*(.*)$", FLAGS)
_MOVE_HERE = re.compile(r"^(?:move|put|place|shift)(?:\s+(?:it|this))?\s+to\s+"
                        r"(?:(?:position|place|slot|index|spot)\s*)?"
                        r"#?(\d+)$", re.IGNORECASE)
_WHOLE_PROMPT = re.compile(r"^(?:(?:new|whole)\s+)?prompt\s*[:=]\s*(.+)$|^replace\s+(?:it|the\s+(?:whole\s+)?prompt)\s+"
                           r"with\s*:?\s*(.+)$", FLAGS)
_STAND = re.compile(rf"^(?:(?P<verb>move|put|place|stand|have|shift)\s+)?{WHO}\s+"
                    rf"(?P<prep>(?:to|on|at|in|over)\s+(?:the\s+)?)?{POSITION}$", re.IGNORECASE)


def _coords(number: int, region: str, digits: str) -> list[int]:
    """Read the pixel numbers of an inpaint region, checking there are as many as the region takes."""
    try:
        coords = [read_number(n) for n in re.split(r"[\s,]+", digits.strip()) if n]
    except ValueError:
        raise CorrectionError(f"frame {number}: expected whole pixel numbers such as 120,60,380,500") from None
    wanted = 2 if region == "point" else 4
    if len(coords) != wanted:
        shape = "x,y" if region == "point" else "x0,y0,x1,y1"
        raise CorrectionError(f"frame {number}: a {region} takes {wanted} numbers ({shape}), got {len(coords)}")
    return coords


def inpaint(number: int, rest: str) -> Inpaint:
    """Read "inpaint box x0,y0,x1,y1 [dilate N] [blur N] [close N] with <what to draw>" for frame `number`."""
    match = _INPAINT.match(rest)
    if match is None:
        raise CorrectionError(f'frame {number}: expected "inpaint box x0,y0,x1,y1 with <what to draw>", '
                              '"inpaint rect ..." or "inpaint point x,y with ..." (options: dilate N, blur N, close N)')
    region = "rect" if match.group(1).lower().startswith("rect") else match.group(1).lower()
    coords = _coords(number, region, match.group(2))
    options = {name.lower(): float(value) for name, value in _REFINE.findall(match.group(3) or "")}
    if any(value > 10_000 for value in options.values()):
        raise CorrectionError(f"frame {number}: blur, dilate and close take small numbers of pixels")
    return Inpaint(frame=number, region=region, coords=coords, prompt=match.group(4).strip(),
                   blur=options.get("blur"),
                   dilate=int(options["dilate"]) if "dilate" in options else None,
                   close=int(options["close"]) if "close" in options else None)


def _append(number: int, match: re.Match) -> Append:
    text = match.group(1).strip()
    if not text:
        raise CorrectionError(f'say what to add to frame {number}, e.g. "frame {number}: add rain on the window"')
    return Append(frame=number, text=text)


def _standing(said: Said) -> re.Match | None:
    """Find "move Mara to the left" or "Mara on the left", but not "frame on the left"."""
    match = _STAND.match(said.plain)
    if match and (match.group("verb") or match.group("prep")) and match.group("who").lower() not in ("frame", "shot"):
        return match
    return None


FRAME_RULES: list[Rule] = [
    (on_whole(_WHOLE_PROMPT), lambda n, match: Rewrite(frame=n, prompt=(match.group(1) or match.group(2)).strip(),
                                                       whole=True)),
    (REGEN_BARE, lambda n, _: Regenerate(frame=n)),
    (on_whole(_INPAINT_WORD), lambda n, match: inpaint(n, match.string)),
    (MASK, lambda n, match: ChooseMask(frame=n, mask=read_number(match.group(1)))),
    (_CANDIDATE, lambda n, match: Pick(frame=n, candidate=read_number(match.group(1)))),
    (_ORDINAL_HERE, lambda n, match: Pick(frame=n, candidate=ordinal_of(match.group(1)))),
    (on_whole(_APPEND_HERE), _append),
    (REMOVE_BARE, lambda n, _: Remove(frame=n)),
    (DUPLICATE_BARE, lambda n, _: Duplicate(frame=n)),
    (_MOVE_HERE, lambda n, match: MoveFrame(frame=n, to=read_number(match.group(1)))),
    (lambda said: said, lambda n, said: read_duration(n, said.plain)),
    (lambda said: shot_of(said.plain), lambda n, shot: SetShot(frame=n, shot_type=shot.slug)),
    (lambda said: said, lambda n, said: film_commands(n, said.plain)),
    (_standing, lambda n, match: MoveCharacter(frame=n, character=match.group("who"),
                                               position=position_of(match.group("pos")))),
]
"""What may follow "frame N:", tried in order; text no rule reads is a new prompt."""


def frame_command(number: int, rest: str, marked: bool = True) -> list[Command]:
    """Read what follows "frame N:"; without the colon (or arrow) `rest` is never taken as a whole new prompt."""
    rest = rest.strip()
    if not rest:
        raise CorrectionError(f"say what to change in frame {number}: a shot type or a new prompt")
    command = read_by(FRAME_RULES, Said(whole=rest, plain=plain_text(rest)), number)
    if command is not None:
        return command if isinstance(command, list) else [command]
    if not marked:
        return [Clarify(question=f'to give frame {number} a new prompt, write "frame {number}: <the new prompt>"; '
                                 f'to add words, "frame {number}: add <words>"')]
    return [Rewrite(frame=number, prompt=rest)]
