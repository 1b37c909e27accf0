"""Read a person's correction ("frame 3: close-up", "swap 2 and 4") as typed edit commands, by rules alone."""

from __future__ import annotations

import re

from graphs.commands import (HELP, AddFrame, Append, ChooseMask, Clarify, Command, CorrectionError, Duplicate, Export,
                             Inpaint, MoveCharacter, MoveFrame, Pick, Refusal, Regenerate, Remove, Rewrite, SetShot,
                             SetStyle, Swap, Undo)
from graphs.corrections.setting_words import export_formats, read_duration, read_setting
from prompts.shot_types import ShotType, find_shot

_FLAGS = re.IGNORECASE | re.DOTALL
_FRAME_WORD = r"(?:frame|shot|panel)"
_FRAME_REF = rf"(?:{_FRAME_WORD}\s*)?#?(\d+)"
"""A frame named by number, with or without the word "frame"."""

_FRAME = re.compile(rf"^(?:(?:in|for|on)\s+)?{_FRAME_WORD}\s*#?(\d+)\s*(->|→|=>|[:\-–,])?\s*(.*)$", _FLAGS)
_NUMBERED = re.compile(r"^#?(\d+)\s*(?:->|→|=>|:)\s*(.*)$", _FLAGS)
_MAKE_FRAME = re.compile(rf"^(?:make|turn|change|set|switch)\s+{_FRAME_WORD}\s*#?(\d+)\s+(?:(?:into|to|in)\s+)?(.+)$",
                         _FLAGS)
_REGEN_WORD = r"(?:regenerate|regen|redo|re-?render|re-?draw|re-?roll|retry|try\s+again)"
_REGEN = re.compile(rf"^{_REGEN_WORD}\s+(?:(?:on|with|for)\s+)?{_FRAME_REF}$", re.IGNORECASE)
_REGEN_ALL = re.compile(rf"^{_REGEN_WORD}\s+(?:all|everything|every\s+(?:frame|shot|panel|one)|"
                        r"all\s+(?:of\s+)?(?:the\s+)?(?:frames|shots|panels|of\s+them|them)|"
                        r"the\s+whole\s+(?:thing|storyboard|board|lot))$", re.IGNORECASE)
_THIS = (r"(?:\s+(?:it|this|that|this\s+one|that\s+one|one|the\s+frame|this\s+frame|that\s+frame|a\s+frame|"
         r"the\s+image|the\s+picture))?")
_REGEN_BARE = re.compile(rf"^{_REGEN_WORD}{_THIS}$", re.IGNORECASE)
_SWAP = re.compile(r"^(?:swap|switch|exchange|flip)\s+(?:frames?\s*|shots?\s*|panels?\s*)?#?(\d+)\s*"
                   rf"(?:and|with|&|,)\s*"
                   rf"{_FRAME_REF}$", re.IGNORECASE)
_REMOVE_WORD = r"(?:remove|delete|drop|get\s+rid\s+of)"
_REMOVE = re.compile(rf"^{_REMOVE_WORD}\s+{_FRAME_REF}$", re.IGNORECASE)
_REMOVE_BARE = re.compile(rf"^{_REMOVE_WORD}{_THIS}$", re.IGNORECASE)
_DUPLICATE_WORD = r"(?:duplicate|copy|clone|repeat)"
_DUPLICATE = re.compile(rf"^{_DUPLICATE_WORD}\s+{_FRAME_REF}$", re.IGNORECASE)
_DUPLICATE_BARE = re.compile(rf"^{_DUPLICATE_WORD}{_THIS}$", re.IGNORECASE)
_MOVE_FRAME = re.compile(rf"^(?:move|put|place|shift)\s+{_FRAME_REF}\s+(?:"
                         r"to\s+(?:(?:position|place|slot|index|spot)\s*|(?:frame|shot|panel)\s*)?#?(\d+)|"
                         rf"(before|after|behind)\s+{_FRAME_REF}|"
                         r"to\s+the\s+(?:start|beginning|front))$", re.IGNORECASE)
_MOVE_HERE = re.compile(r"^(?:move|put|place|shift)(?:\s+(?:it|this))?\s+to\s+"
                        r"(?:(?:position|place|slot|index|spot)\s*)?"
                        r"#?(\d+)$", re.IGNORECASE)
_POSITION = r"(?P<pos>left|right|centre|center|middle)(?:\s+side)?(?:\s+of\s+the\s+(?:frame|screen|shot|picture))?"
_WHO = r"(?P<who>[^\W\d_][\w'’\-]*)"
_STAND = re.compile(rf"^(?:(?P<verb>move|put|place|stand|have|shift)\s+)?{_WHO}\s+"
                    rf"(?P<prep>(?:to|on|at|in|over)\s+(?:the\s+)?)?{_POSITION}$", re.IGNORECASE)
_MOVE_CHARACTER = re.compile(rf"^(?:move|put|place|stand|have|shift)\s+{_WHO}\s+(?:(?:to|on|at|in|over)\s+(?:the\s+)?)?"
                             rf"{_POSITION}(?:\s*,?\s*(?:in|of|for|on)\s+{_FRAME_REF})?$", re.IGNORECASE)
_CHOOSE = r"(?:(?:take|pick|use|choose)\s+(?:candidate|option)?|candidate|option|take)\s*#?(\d+)"
_CANDIDATE = re.compile(rf"^{_CHOOSE}$", re.IGNORECASE)
_PICK = re.compile(rf"^{_CHOOSE}\s+(?:for|in|of)\s+(?:frame\s*)?(\d+)$", re.IGNORECASE)
_ORDINALS = {"first": 0, "second": 1, "third": 2, "fourth": 3, "fifth": 4, "sixth": 5, "seventh": 6, "eighth": 7}
_ORDINAL = r"(first|second|third|fourth|fifth|sixth|seventh|eighth|1st|2nd|3rd|[4-8]th)"
_ONE = r"(?:\s+(?:one|candidate|option|image|picture|version))"
_CHOOSE_ORDINAL = rf"(?:(?:take|pick|use|choose|select|keep|show|go\s+with)\s+)?(?:the\s+)?{_ORDINAL}"
_PICK_ORDINAL = re.compile(rf"^{_CHOOSE_ORDINAL}{_ONE}?\s+(?:for|in|of|on)\s+{_FRAME_REF}$", re.IGNORECASE)
_ORDINAL_HERE = re.compile(rf"^{_CHOOSE_ORDINAL}{_ONE}$", re.IGNORECASE)
_ORDINAL_BARE = re.compile(rf"^(?:take|pick|use|choose|select|go\s+with)\s+(?:the\s+)?{_ORDINAL}{_ONE}?$",
                           re.IGNORECASE)
_INPAINT = re.compile(r"^(?:inpaint|repaint|redraw)\s+(box|rect|rectangle|point)\s+(-?\d[-\d\s,]*?)"
                      r"((?:\s+(?:blur|dilate|close)\s+\d+(?:\.\d+)?)*)\s+with\s+(.+)$", _FLAGS)
_REFINE = re.compile(r"(blur|dilate|close)\s+(\d+(?:\.\d+)?)", re.IGNORECASE)
_MASK = re.compile(r"^(?:(?:use|pick|take|choose)\s+)?mask\s*#?(\d+)$", re.IGNORECASE)
_INPAINT_WORD = re.compile(r"^(?:inpaint|repaint|redraw)\b", re.IGNORECASE)
_APPEND_HERE = re.compile(r"^(?:\+=?|(?:also\s+|and\s+)?(?:add|append)\b\s*:?)\s*(.*)$", _FLAGS)
_APPEND_TO = re.compile(rf"^(?:append|add)\s+to\s+(?:the\s+(?:prompt\s+of\s+)?)?{_FRAME_REF}\s*(?:[:\-–,]\s*|\s)(.+)$",
                        _FLAGS)
_APPEND_ONTO = re.compile(r"^(?:append|add)\s+(.+?)\s+to\s+(?:the\s+)?(?:end\s+of\s+)?(?:the\s+)?"
                          r"(?:prompt\s+(?:of|for)\s+)?"
                          rf"{_FRAME_REF}$", _FLAGS)
_ADD_LEAD = re.compile(r"^(?:add|insert)\s+(?:(?:a|an|one|another)\s+)?(?:new\s+|extra\s+|more\s+)?(.*)$", _FLAGS)
_ADD_WHERE = re.compile(rf"\b(?:(after|before)\s+{_FRAME_REF}|(?:at|to)\s+the\s+(end|start|beginning|front))\b",
                        re.IGNORECASE)
_ACTION_LEAD = re.compile(r"^(?:[:\-–,;]\s*|(?:showing|of|with|where|in\s+which|that\s+shows|to\s+show)\s+)",
                          re.IGNORECASE)
_ACTION_SPLIT = re.compile(r"\s*[:,;]\s*|\s+(?:of|showing|with|where|in\s+which|that\s+shows|to\s+show)\s+",
                           re.IGNORECASE)
_SHOT_LEAD = re.compile(r"^(?:(?:make\s+(?:it|this|that)(?:\s+into)?|turn\s+(?:it|this|that)\s+into|"
                        r"change\s+(?:it\s+|this\s+)?(?:to|into)|switch\s+(?:it\s+)?to|should\s+be|must\s+be|"
                        r"needs\s+to\s+be|becomes?|is|as|to|into)\s+)?(?:an?\s+)?", re.IGNORECASE)
_UNDO = re.compile(r"^(?:undo(?:\s+(?:that|it|this|last|the\s+last(?:\s+one)?|(?:the|my)\s+last\s+"
                   r"(?:change|correction|edit|step)))?|go\s+back(?:\s+(?:one|a)\s+step)?|step\s+back|"
                   r"revert(?:\s+(?:that|it|the\s+last\s+change))?|take\s+(?:that|it)\s+back)$", re.IGNORECASE)
_EXPORT_AS = re.compile(r"^export(?:\s+(?:it|this|that|the\s+(?:storyboard|board)))?\s+(?:as\s+|to\s+|in\s+)?(.+)$",
                        re.IGNORECASE)
_EXPORT = re.compile(r"^(?:export(?:\s+(?:it|this|that|now|the\s+(?:storyboard|board)))?|done|finish(?:ed)?|"
                     r"(?:i['’]?m|we['’]?re|all)\s+done|that['’]?s\s+(?:all|it)|that\s+is\s+(?:all|it)|"
                     r"ship\s+it)$",
                     re.IGNORECASE)
_NO_STYLE = re.compile(r"^(?:no\s+style|(?:remove|clear|drop|reset)\s+the\s+style|"
                       r"style\s*[:=]?\s*(?:none|nothing|off))$",
                       re.IGNORECASE)
_STYLE = re.compile(r"^(?:(?:set|change|switch|make)\s+(?:the\s+)?(?:visual\s+|art\s+)?style\s+(?:(?:to|into|as)\s+)?|"
                    r"use\s+(?:the\s+|a\s+)?style\s+|(?:the\s+)?style\s*(?:[:=]\s*|\s+(?:is|should\s+be)\s+|\s+))"
                    r"(?P<style>.*)$", _FLAGS)
_STYLE_BARE = re.compile(r"^(?:(?:set|change|switch)\s+(?:the\s+)?)?style\s*[:=]?$", re.IGNORECASE)
_LOOKS = (r"black\s+and\s+white|b\s*&\s*w|b/w|monochrome|greyscale|grayscale|sepia|noir|(?:in\s+)?colou?r|"
          r"colou?rful|vintage|retro|cartoon(?:ish|y)?|anime|comic(?:\s+book)?|watercolou?r|painterly|"
          r"photo-?realistic|realistic|cinematic|sketchy|pencil|ink")
_LOOK = re.compile(r"^(?:(?:make|turn)\s+(?:it|them|this|that|everything|it\s+all|"
                   rf"the\s+(?:frames|storyboard|board|images|"
                   rf"pictures|shots))\s+(?:look\s+)?(?:more\s+)?|(?:in\s+)?)(?P<look>{_LOOKS})$", re.IGNORECASE)
_POLITE = re.compile(r"^(?:please|pls|ok(?:ay)?|can\s+you|could\s+you|would\s+you)[\s,]+|"
                     r"[\s,]+(?:please|pls|thanks|thank\s+you)$", re.IGNORECASE)
_END = re.compile(r"[\s.!?]+$")
WHERE_WORDS = {"left": "on the left", "right": "on the right", "centre": "in the centre"}
"""How a screen position reads in a sentence."""


def _number(digits: str) -> int:
    """Read a frame, candidate or setting number; an absurdly long one is refused rather than converted.

    Leading zeros are dropped first, so "frame 0001" is frame 1 however many zeros it has.
    """
    digits = digits.lstrip("0") or "0"
    if len(digits) > 9:
        raise CorrectionError(f"{digits[:12]}... is too large a number here")
    return int(digits)


def _plain(message: str) -> str:
    """Return the message without end punctuation and polite padding, for matching keywords."""
    text = _END.sub("", message)
    for _ in range(4):
        shorter = _END.sub("", _POLITE.sub("", text))
        if shorter == text:
            break
        text = shorter
    return text


def _ordinal(word: str) -> int:
    word = word.lower()
    return int(word[0]) - 1 if word[0].isdigit() else _ORDINALS[word]


def _position(word: str) -> str:
    word = word.lower()
    return "centre" if word in ("center", "middle") else word


def _shot_of(text: str) -> ShotType | None:
    """Return the shot type a short phrase names ("a close-up", "should be a long shot"), or None."""
    words = _END.sub("", _SHOT_LEAD.sub("", text.strip(), count=1)).strip()
    if not words or words.isdigit() and text.strip() != words:
        return None  # "is 3" is no shot type; a bare "3" after "frame 2:" is (the numbered types)
    shot = find_shot(words)
    if shot is None and (trimmed := re.sub(r"\s+(?:shot|frame|panel|one)$", "", words, flags=re.IGNORECASE)) != words:
        shot = find_shot(trimmed)
    return shot


def _inpaint(number: int, rest: str) -> Inpaint:
    match = _INPAINT.match(rest)
    if match is None:
        raise CorrectionError(f'frame {number}: expected "inpaint box x0,y0,x1,y1 with <what to draw>", '
                              '"inpaint rect ..." or "inpaint point x,y with ..." (options: dilate N, blur N, close N)')
    region = "rect" if match.group(1).lower().startswith("rect") else match.group(1).lower()
    try:
        coords = [_number(n) for n in re.split(r"[\s,]+", match.group(2).strip()) if n]
    except ValueError:
        raise CorrectionError(f"frame {number}: expected whole pixel numbers such as 120,60,380,500") from None
    wanted = 2 if region == "point" else 4
    if len(coords) != wanted:
        shape = "x,y" if region == "point" else "x0,y0,x1,y1"
        raise CorrectionError(f"frame {number}: a {region} takes {wanted} numbers ({shape}), got {len(coords)}")
    options = {name.lower(): float(value) for name, value in _REFINE.findall(match.group(3) or "")}
    if any(value > 10_000 for value in options.values()):
        raise CorrectionError(f"frame {number}: blur, dilate and close take small numbers of pixels")
    return Inpaint(frame=number, region=region, coords=coords, prompt=match.group(4).strip(),
                   blur=options.get("blur"),
                   dilate=int(options["dilate"]) if "dilate" in options else None,
                   close=int(options["close"]) if "close" in options else None)


def _frame_command(number: int, rest: str, marked: bool = True) -> Command:
    """Read what follows "frame N:"; without the colon (or arrow) `rest` is never taken as a whole new prompt."""
    rest = rest.strip()
    if not rest:
        raise CorrectionError(f"say what to change in frame {number}: a shot type or a new prompt")
    plain = _plain(rest)
    if _REGEN_BARE.match(plain):
        return Regenerate(frame=number)
    if _INPAINT_WORD.match(rest):
        return _inpaint(number, rest)
    if match := _MASK.match(plain):
        return ChooseMask(frame=number, mask=_number(match.group(1)))
    if match := _CANDIDATE.match(plain):
        return Pick(frame=number, candidate=_number(match.group(1)))
    if match := _ORDINAL_HERE.match(plain):
        return Pick(frame=number, candidate=_ordinal(match.group(1)))
    if match := _APPEND_HERE.match(rest):
        text = match.group(1).strip()
        if not text:
            raise CorrectionError(f'say what to add to frame {number}, e.g. "frame {number}: add rain on the window"')
        return Append(frame=number, text=text)
    if _REMOVE_BARE.match(plain):
        return Remove(frame=number)
    if _DUPLICATE_BARE.match(plain):
        return Duplicate(frame=number)
    if match := _MOVE_HERE.match(plain):
        return MoveFrame(frame=number, to=_number(match.group(1)))
    if (held := read_duration(number, plain)) is not None:
        return held
    shot = _shot_of(plain)
    if shot is not None:
        return SetShot(frame=number, shot_type=shot.slug)
    match = _STAND.match(plain)
    if match and (match.group("verb") or match.group("prep")) and match.group("who").lower() not in ("frame", "shot"):
        return MoveCharacter(frame=number, character=match.group("who"), position=_position(match.group("pos")))
    if not marked:
        return Clarify(question=f'to give frame {number} a new prompt, write "frame {number}: <the new prompt>"; '
                                f'to add words, "frame {number}: add <words>"')
    return Rewrite(frame=number, prompt=rest)


def _move_to(frame: int, where: str, other: int) -> int:
    """Return the index a frame ends up at when put before or after another (counted after it is taken out)."""
    if frame == other:
        return frame
    if where.lower() == "before":
        return other if frame > other else other - 1
    return other + 1 if frame > other else other  # "after" or "behind"


def _add_frame(plain: str) -> list[Command] | None:
    """Read "add a frame after 3: ...", "add a close-up after frame 2 showing ..." or "add a frame at the end: ..."."""
    lead = _ADD_LEAD.match(plain)
    if lead is None:
        return None
    body = lead.group(1)
    where = _ADD_WHERE.search(body)
    if where is not None:
        what, action = body[:where.start()].strip(), _ACTION_LEAD.sub("", body[where.end():].strip(), count=1)
    else:
        split = _ACTION_SPLIT.search(body)
        if split is None:
            what, action = body.strip(), ""
        else:
            what, action = body[:split.start()].strip(), body[split.end():]
    shot: ShotType | None = None
    if what.lower() not in ("frame", "shot", "panel", "image", "picture"):
        shot = _shot_of(what)
        if shot is None:
            return None
    elif action and (split := _ACTION_SPLIT.search(action)) and (found := _shot_of(action[:split.start()])):
        shot, action = found, action[split.end():]
    after: int | None = None
    if where is not None and where.group(1):
        other = _number(where.group(2))
        after = other if where.group(1).lower() == "after" else other - 1
    elif where is not None and where.group(3).lower() != "end":
        after = -1
    action = action.strip()
    if not action:
        place = "at the end" if after is None else "at the start" if after == -1 else f"after frame {after}"
        return [Clarify(question=f'what should the new frame {place} show? say "add a frame {place}: '
                                 '<what happens>"')]
    return [AddFrame(after=after, shot_type=shot.slug if shot else None, action=action)]


def parse_correction(text: str) -> list[Command]:
    """Return the commands a message asks for; raise CorrectionError when it cannot be read.

    A message that is read but leaves something open ("make it a close-up": which frame?) gives a Clarify.
    """
    message = " ".join(text.split()).strip()
    if not message:
        raise CorrectionError(f"empty message: {HELP}")
    if match := _FRAME.match(message):
        return [_frame_command(_number(match.group(1)), match.group(3), bool(match.group(2)))]
    if match := _NUMBERED.match(message):
        return [_frame_command(_number(match.group(1)), match.group(2))]
    plain = _plain(message)
    if match := _MAKE_FRAME.match(plain):
        number, shot = _number(match.group(1)), _shot_of(match.group(2))
        if shot is None:
            raise CorrectionError(f'frame {number}: expected a shot type such as "close-up" or "long shot"; '
                                  f'to give it a new prompt write "frame {number}: <new prompt>"')
        return [SetShot(frame=number, shot_type=shot.slug)]
    if match := _REGEN.match(plain):
        return [Regenerate(frame=_number(match.group(1)))]
    if _REGEN_ALL.match(plain):
        return [Regenerate(frame=None)]
    if _REGEN_BARE.match(plain):
        return [Clarify(question='which frame should be drawn again? say "regenerate 3", or "regenerate all" '
                                 'for every frame')]
    if match := _MASK.match(plain):
        return [ChooseMask(frame=None, mask=_number(match.group(1)))]
    if match := _PICK.match(plain):
        return [Pick(frame=_number(match.group(2)), candidate=_number(match.group(1)))]
    if match := _PICK_ORDINAL.match(plain):
        return [Pick(frame=_number(match.group(2)), candidate=_ordinal(match.group(1)))]
    if match := _ORDINAL_BARE.match(plain):
        return [Clarify(question=f'which frame should show the {match.group(1).lower()} candidate? say '
                                 f'"use the {match.group(1).lower()} one for frame 4"')]
    if match := _SWAP.match(plain):
        return [Swap(first=_number(match.group(1)), second=_number(match.group(2)))]
    if match := _REMOVE.match(plain):
        return [Remove(frame=_number(match.group(1)))]
    if _REMOVE_BARE.match(plain):
        return [Clarify(question='which frame should be removed? say "remove 3"')]
    if match := _DUPLICATE.match(plain):
        return [Duplicate(frame=_number(match.group(1)))]
    if _DUPLICATE_BARE.match(plain):
        return [Clarify(question='which frame should be copied? say "duplicate 3"')]
    if match := _MOVE_FRAME.match(plain):
        frame = _number(match.group(1))
        if match.group(2):
            to = _number(match.group(2))
        elif match.group(3):
            to = _move_to(frame, match.group(3), _number(match.group(4)))
        else:
            to = 0
        return [MoveFrame(frame=frame, to=to)]
    if match := _APPEND_TO.match(message):
        return [Append(frame=_number(match.group(1)), text=match.group(2).strip())]
    if found := _add_frame(plain):
        return found
    if match := _APPEND_ONTO.match(plain):
        return [Append(frame=_number(match.group(2)), text=match.group(1).strip())]
    if (match := _MOVE_CHARACTER.match(plain)) and match.group("who").lower() not in ("frame", "shot", "panel"):
        who, position = match.group("who"), _position(match.group("pos"))
        if match.group(3) is None:
            return [Clarify(question=f"in which frame should {who} stand {WHERE_WORDS[position]}? say "
                                     f'"frame 3: {who} {WHERE_WORDS[position]}"')]
        return [MoveCharacter(frame=_number(match.group(3)), character=who, position=position)]
    if _UNDO.match(plain):
        return [Undo()]
    if _EXPORT.match(plain):
        return [Export()]
    if match := _EXPORT_AS.match(plain):
        return [Export(formats=export_formats(match.group(1)))]
    if _NO_STYLE.match(plain):
        return [SetStyle(style="")]
    if match := (_STYLE.match(plain) or _STYLE_BARE.match(plain)):
        style = (match.groupdict().get("style") or "").strip()
        if style.lower() in ("", "to", "into", "as", "is"):
            return [Clarify(question='which style? say "style: noir, high contrast", or "no style" to remove it')]
        return [SetStyle(style=style)]
    if found := read_setting(plain):
        return found
    if match := _LOOK.match(plain):
        look = " ".join(match.group("look").split()).lower()
        return [Clarify(question=f'should every frame look {look}? say "style: {look}" to change the style of '
                                 'the whole storyboard')]
    if not plain.isdigit() and (shot := _shot_of(plain)) is not None:
        return [Clarify(question=f'which frame should be a {shot.name.lower()}? say "frame 3: '
                                 f'{shot.name.lower()}"')]
    raise CorrectionError(f"did not understand {message[:60]!r}: {HELP}")


def interpret_rules(text: str) -> list[Command]:
    """Read a message by rules alone and never fail: what cannot be read comes back as a Refusal saying what fits.

    A message read but left open (which frame?) gives a Clarify with the question. A Clarify (or Refusal) is always
    the only command in the list.
    """
    try:
        commands = parse_correction(text)
    except CorrectionError as error:
        return [Refusal(question=str(error))]
    except (ValueError, OverflowError):  # a bug in a rule must not end the conversation
        return [Refusal(question=f"did not understand that message: {HELP}")]
    questions = [c for c in commands if isinstance(c, Clarify)]
    if questions or not commands:
        return questions[:1] or [Refusal(question=f"did not understand that message: {HELP}")]
    return commands
