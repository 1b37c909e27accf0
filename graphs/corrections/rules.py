"""Read a person's correction ("frame 3: close-up", "swap 2 and 4") as typed edit commands, by rules alone.

The rules are one table (RULES), tried in order; the first that reads the message gives its commands.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from graphs.commands import (HELP, Append, ChooseMask, Clarify, Command, Duplicate, Export, MoveCharacter, Pick,
                             Refusal, Regenerate, Remove, SetShot, SetStyle, Swap, Undo)
from graphs.corrections.film_words import film_commands
from graphs.corrections.frame_list import MOVE_FRAME, add_frame, move_frame
from graphs.corrections.frame_rules import frame_command
from graphs.corrections.phrasing import (CHOOSE, CHOOSE_ORDINAL, DUPLICATE_BARE, DUPLICATE_WORD, FLAGS, FRAME_REF,
                                         FRAME_WORD, MASK, ONE, ORDINAL, POSITION, REGEN_BARE, REGEN_WORD, REMOVE_BARE,
                                         REMOVE_WORD, WHERE_WORDS, WHO, Rule, Said, found_already, on_whole, ordinal_of,
                                         plain_text, position_of, read_by, read_number, shot_of)
from graphs.corrections.setting_words import export_formats, read_setting
from graphs.errors import CorrectionError
from prompts.shot_types import ShotType

_FRAME = re.compile(rf"^(?:(?:in|for|on)\s+)?{FRAME_WORD}\s*#?(\d+)\s*(->|→|=>|[:\-–,])?\s*(.*)$", FLAGS)
_NUMBERED = re.compile(r"^#?(\d+)\s*(?:->|→|=>|:)\s*(.*)$", FLAGS)
_MAKE_FRAME = re.compile(rf"^(?:make|turn|change|set|switch)\s+{FRAME_WORD}\s*#?(\d+)\s+(?:(?:into|to|in)\s+)?(.+)$",
                         FLAGS)
_CAMERA_ON = re.compile(rf"^(.+?)\s+(?:on|in|for)\s+{FRAME_REF}$", re.IGNORECASE)
_REGEN = re.compile(rf"^{REGEN_WORD}\s+(?:(?:on|with|for)\s+)?{FRAME_REF}$", re.IGNORECASE)
_REGEN_ALL = re.compile(rf"^{REGEN_WORD}\s+(?:all|everything|every\s+(?:frame|shot|panel|one)|"
                        r"all\s+(?:of\s+)?(?:the\s+)?(?:frames|shots|panels|of\s+them|them)|"
                        r"the\s+whole\s+(?:thing|storyboard|board|lot))$", re.IGNORECASE)
_SWAP = re.compile(r"^(?:swap|switch|exchange|flip)\s+(?:frames?\s*|shots?\s*|panels?\s*)?#?(\d+)\s*"
                   rf"(?:and|with|&|,)\s*"
                   rf"{FRAME_REF}$", re.IGNORECASE)
_REMOVE = re.compile(rf"^{REMOVE_WORD}\s+{FRAME_REF}$", re.IGNORECASE)
_DUPLICATE = re.compile(rf"^{DUPLICATE_WORD}\s+{FRAME_REF}$", re.IGNORECASE)
_MOVE_CHARACTER = re.compile(rf"^(?:move|put|place|stand|have|shift)\s+{WHO}\s+(?:(?:to|on|at|in|over)\s+(?:the\s+)?)?"
                             rf"{POSITION}(?:\s*,?\s*(?:in|of|for|on)\s+{FRAME_REF})?$", re.IGNORECASE)
_PICK = re.compile(rf"^{CHOOSE}\s+(?:for|in|of)\s+(?:frame\s*)?(\d+)$", re.IGNORECASE)
_PICK_ORDINAL = re.compile(rf"^{CHOOSE_ORDINAL}{ONE}?\s+(?:for|in|of|on)\s+{FRAME_REF}$", re.IGNORECASE)
_ORDINAL_BARE = re.compile(rf"^(?:take|pick|use|choose|select|go\s+with)\s+(?:the\s+)?{ORDINAL}{ONE}?$",
                           re.IGNORECASE)
_APPEND_TO = re.compile(rf"^(?:append|add)\s+to\s+(?:the\s+(?:prompt\s+of\s+)?)?{FRAME_REF}\s*(?:[:\-–,]\s*|\s)(.+)$",
                        FLAGS)
_APPEND_ONTO = re.compile(r"^(?:append|add)\s+(.+?)\s+to\s+(?:the\s+)?(?:end\s+of\s+)?(?:the\s+)?"
                          r"(?:prompt\s+(?:of|for)\s+)?"
                          rf"{FRAME_REF}$", FLAGS)
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
                    r"(?P<style>.*)$", FLAGS)
_STYLE_BARE = re.compile(r"^(?:(?:set|change|switch)\s+(?:the\s+)?)?style\s*[:=]?$", re.IGNORECASE)
_LOOKS = (r"black\s+and\s+white|b\s*&\s*w|b/w|monochrome|greyscale|grayscale|sepia|noir|(?:in\s+)?colou?r|"
          r"colou?rful|vintage|retro|cartoon(?:ish|y)?|anime|comic(?:\s+book)?|watercolou?r|painterly|"
          r"photo-?realistic|realistic|cinematic|sketchy|pencil|ink")
_LOOK = re.compile(r"^(?:(?:make|turn)\s+(?:it|them|this|that|everything|it\s+all|"
                   rf"the\s+(?:frames|storyboard|board|images|"
                   rf"pictures|shots))\s+(?:look\s+)?(?:more\s+)?|(?:in\s+)?)(?P<look>{_LOOKS})$", re.IGNORECASE)


def _asking(question: str) -> Callable[[object], list[Command]]:
    """Return a builder that answers whatever its rule found with the question alone."""
    return lambda _: [Clarify(question=question)]


def _make_shot(match: re.Match) -> list[Command]:
    number, shot = read_number(match.group(1)), shot_of(match.group(2))
    if shot is None and (camera := film_commands(number, match.group(2))):
        return camera
    if shot is None:
        raise CorrectionError(f'frame {number}: expected a shot type such as "close-up" or "long shot"; '
                              f'to give it a new prompt write "frame {number}: <new prompt>"')
    return [SetShot(frame=number, shot_type=shot.slug)]


def _which_frame_for_camera(commands: list[Command]) -> list[Command]:
    return [Clarify(question='which frame? say it with the frame\'s number, e.g. "frame 3: tighter" or '
                             '"frame 3: low angle"')]


def _which_candidate(match: re.Match) -> list[Command]:
    word = match.group(1).lower()
    return [Clarify(question=f'which frame should show the {word} candidate? say "use the {word} one for frame 4"')]


def _character_move(said: Said) -> re.Match | None:
    """Find "move Mara to the left [in frame 2]", but not "move frame to the left"."""
    match = _MOVE_CHARACTER.match(said.plain)
    return match if match and match.group("who").lower() not in ("frame", "shot", "panel") else None


def _move_character(match: re.Match) -> list[Command]:
    who, position = match.group("who"), position_of(match.group("pos"))
    if match.group(3) is None:
        return [Clarify(question=f"in which frame should {who} stand {WHERE_WORDS[position]}? say "
                                 f'"frame 3: {who} {WHERE_WORDS[position]}"')]
    return [MoveCharacter(frame=read_number(match.group(3)), character=who, position=position)]


def _style(match: re.Match) -> list[Command]:
    style = (match.groupdict().get("style") or "").strip()
    if style.lower() in ("", "to", "into", "as", "is"):
        return [Clarify(question='which style? say "style: noir, high contrast", or "no style" to remove it')]
    return [SetStyle(style=style)]


def _look(match: re.Match) -> list[Command]:
    look = " ".join(match.group("look").split()).lower()
    return [Clarify(question=f'should every frame look {look}? say "style: {look}" to change the style of '
                             'the whole storyboard')]


def _which_frame_for(shot: ShotType) -> list[Command]:
    name = shot.spoken.split(" ", 1)[1]
    return [Clarify(question=f'which frame should be {shot.spoken}? say "frame 3: {name}"')]


RULES: list[Rule] = [
    (on_whole(_FRAME), lambda m: frame_command(read_number(m.group(1)), m.group(3), bool(m.group(2)))),
    (on_whole(_NUMBERED), lambda m: frame_command(read_number(m.group(1)), m.group(2))),
    (_CAMERA_ON, lambda m: film_commands(read_number(m.group(2)), m.group(1))),
    (_MAKE_FRAME, _make_shot),
    (_REGEN, lambda m: [Regenerate(frame=read_number(m.group(1)))]),
    (_REGEN_ALL, lambda _: [Regenerate(frame=None)]),
    (REGEN_BARE, _asking('which frame should be drawn again? say "regenerate 3", or "regenerate all" for every '
                         'frame')),
    (MASK, lambda m: [ChooseMask(frame=None, mask=read_number(m.group(1)))]),
    (_PICK, lambda m: [Pick(frame=read_number(m.group(2)), candidate=read_number(m.group(1)))]),
    (_PICK_ORDINAL, lambda m: [Pick(frame=read_number(m.group(2)), candidate=ordinal_of(m.group(1)))]),
    (_ORDINAL_BARE, _which_candidate),
    (_SWAP, lambda m: [Swap(first=read_number(m.group(1)), second=read_number(m.group(2)))]),
    (_REMOVE, lambda m: [Remove(frame=read_number(m.group(1)))]),
    (REMOVE_BARE, _asking('which frame should be removed? say "remove 3"')),
    (_DUPLICATE, lambda m: [Duplicate(frame=read_number(m.group(1)))]),
    (DUPLICATE_BARE, _asking('which frame should be copied? say "duplicate 3"')),
    (MOVE_FRAME, move_frame),
    (on_whole(_APPEND_TO), lambda m: [Append(frame=read_number(m.group(1)), text=m.group(2).strip())]),
    (lambda said: add_frame(said.plain), found_already),
    (_APPEND_ONTO, lambda m: [Append(frame=read_number(m.group(2)), text=m.group(1).strip())]),
    (_character_move, _move_character),
    (_UNDO, lambda _: [Undo()]),
    (_EXPORT, lambda _: [Export()]),
    (_EXPORT_AS, lambda m: [Export(formats=export_formats(m.group(1)))]),
    (_NO_STYLE, lambda _: [SetStyle(style="")]),
    (lambda said: _STYLE.match(said.plain) or _STYLE_BARE.match(said.plain), _style),
    (lambda said: read_setting(said.plain), found_already),
    (_LOOK, _look),
    (lambda said: not said.plain.isdigit() and shot_of(said.plain), _which_frame_for),
    (lambda said: film_commands(0, said.plain), _which_frame_for_camera),
]
"""Every phrasing the rules read, tried in order: the first rule that fits gives the commands."""


def parse_correction(text: str) -> list[Command]:
    """Return the commands a message asks for; raise CorrectionError when it cannot be read.

    A message that is read but leaves something open ("make it a close-up": which frame?) gives a Clarify.
    """
    message = " ".join(text.split()).strip()
    if not message:
        raise CorrectionError(f"empty message: {HELP}")
    commands = read_by(RULES, Said(whole=message, plain=plain_text(message)))
    if commands is None:
        raise CorrectionError(f"did not understand {message[:60]!r}: {HELP}")
    return commands


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
