"""The pieces of phrasing both rule tables share, the small readers they use, and the loop that tries a table.

A rule table is a list of (test, builder) pairs tried in order. The test is a compiled pattern, matched against
the plain message, or a function of the Said message; whatever it finds (a match, a shot type, commands) goes to
the builder. A builder that returns None lets the next rule try.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from graphs.errors import CorrectionError
from prompts.shot_types import ShotType, find_shot

FLAGS = re.IGNORECASE | re.DOTALL
FRAME_WORD = r"(?:frame|shot|panel)"
FRAME_REF = rf"(?:{FRAME_WORD}\s*)?#?(\d+)"
"""A frame named by number, with or without the word "frame"."""

REGEN_WORD = r"(?:regenerate|regen|redo|re-?render|re-?draw|re-?roll|retry|try\s+again)"
THIS = (r"(?:\s+(?:it|this|that|this\s+one|that\s+one|one|the\s+frame|this\s+frame|that\s+frame|a\s+frame|"
        r"the\s+image|the\s+picture))?")
"""The words that may point at the frame under discussion ("redo it", "remove this one")."""
REGEN_BARE = re.compile(rf"^{REGEN_WORD}{THIS}$", re.IGNORECASE)
REMOVE_WORD = r"(?:remove|delete|drop|get\s+rid\s+of)"
REMOVE_BARE = re.compile(rf"^{REMOVE_WORD}{THIS}$", re.IGNORECASE)
DUPLICATE_WORD = r"(?:duplicate|copy|clone|repeat)"
DUPLICATE_BARE = re.compile(rf"^{DUPLICATE_WORD}{THIS}$", re.IGNORECASE)
MASK = re.compile(r"^(?:(?:use|pick|take|choose)\s+)?mask\s*#?(\d+)$", re.IGNORECASE)
POSITION = r"(?P<pos>left|right|centre|center|middle)(?:\s+side)?(?:\s+of\s+the\s+(?:frame|screen|shot|picture))?"
WHO = r"(?P<who>[^\W\d_][\w'’\-]*)"
CHOOSE = r"(?:(?:take|pick|use|choose)\s+(?:candidate|option)?|candidate|option|take)\s*#?(\d+)"
ORDINAL = r"(first|second|third|fourth|fifth|sixth|seventh|eighth|1st|2nd|3rd|[4-8]th)"
ONE = r"(?:\s+(?:one|candidate|option|image|picture|version))"
CHOOSE_ORDINAL = rf"(?:(?:take|pick|use|choose|select|keep|show|go\s+with)\s+)?(?:the\s+)?{ORDINAL}"
WHERE_WORDS = {"left": "on the left", "right": "on the right", "centre": "in the centre"}
"""How a screen position reads in a sentence."""

_ORDINALS = {"first": 0, "second": 1, "third": 2, "fourth": 3, "fifth": 4, "sixth": 5, "seventh": 6, "eighth": 7}
_SHOT_LEAD = re.compile(r"^(?:(?:make\s+(?:it|this|that)(?:\s+into)?|turn\s+(?:it|this|that)\s+into|"
                        r"change\s+(?:it\s+|this\s+)?(?:to|into)|switch\s+(?:it\s+)?to|should\s+be|must\s+be|"
                        r"needs\s+to\s+be|becomes?|is|as|to|into)\s+)?(?:an?\s+)?", re.IGNORECASE)
_POLITE = re.compile(r"^(?:please|pls|ok(?:ay)?|can\s+you|could\s+you|would\s+you)[\s,]+|"
                     r"[\s,]+(?:please|pls|thanks|thank\s+you)$", re.IGNORECASE)
_END = re.compile(r"[\s.!?]+$")


def read_number(digits: str) -> int:
    """Read a frame, candidate or setting number; an absurdly long one is refused rather than converted.

    Leading zeros are dropped first, so "frame 0001" is frame 1 however many zeros it has.
    """
    digits = digits.lstrip("0") or "0"
    if len(digits) > 9:
        raise CorrectionError(f"{digits[:12]}... is too large a number here")
    return int(digits)


def plain_text(message: str) -> str:
    """Return the message without end punctuation and polite padding, for matching keywords."""
    text = _END.sub("", message)
    for _ in range(4):
        shorter = _END.sub("", _POLITE.sub("", text))
        if shorter == text:
            break
        text = shorter
    return text


def ordinal_of(word: str) -> int:
    """Return the candidate number an ordinal names: "first" and "1st" are 0."""
    word = word.lower()
    return int(word[0]) - 1 if word[0].isdigit() else _ORDINALS[word]


def position_of(word: str) -> str:
    """Return the screen position a word names, spelled as Placement spells it."""
    word = word.lower()
    return "centre" if word in ("center", "middle") else word


def shot_of(text: str) -> ShotType | None:
    """Return the shot type a short phrase names ("a close-up", "should be a long shot"), or None."""
    words = _END.sub("", _SHOT_LEAD.sub("", text.strip(), count=1)).strip()
    if not words or words.isdigit() and text.strip() != words:
        return None  # "is 3" is no shot type; a bare "3" after "frame 2:" is (the numbered types)
    shot = find_shot(words)
    if shot is None and (trimmed := re.sub(r"\s+(?:shot|frame|panel|one)$", "", words, flags=re.IGNORECASE)) != words:
        shot = find_shot(trimmed)
    return shot


@dataclass(frozen=True)
class Said:
    """A message as the rules read it."""

    whole: str
    """The message with its spacing tidied, for rules that keep the person's own words."""
    plain: str
    """The message as plain_text leaves it, for rules that match keywords."""


Test = re.Pattern | Callable[[Said], Any]
Rule = tuple[Test, Callable[..., Any]]


def on_whole(pattern: re.Pattern) -> Callable[[Said], re.Match | None]:
    """Return a test that matches the pattern against the whole message rather than the plain one."""
    return lambda said: pattern.match(said.whole)


def found_already(found: Any) -> Any:
    """A builder for tests that find the commands themselves: it hands them on."""
    return found


def read_by(rules: Sequence[Rule], said: Said, *given: Any) -> Any:
    """Return what the first rule that fits builds, or None when none does.

    Each builder gets `given` first (the frame number, for the frame rules), then what its test found.
    """
    for test, build in rules:
        found = test.match(said.plain) if isinstance(test, re.Pattern) else test(said)
        if found and (built := build(*given, found)) is not None:
            return built
    return None
