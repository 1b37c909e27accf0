"""Reading the render settings, frame holds and export formats a chat message asks for, and checking their values."""

from __future__ import annotations

import math
import re

from graphs.commands import DURATION_RANGE, EXPORT_FORMATS, Command, SetDuration, SetSetting
from graphs.errors import CorrectionError
from tools.models.hub import SCHEDULERS

_SETTING = re.compile(r"^(?:(?:set|change|use|make)\s+)?(?:the\s+)?(?P<name>steps|step\s+count|guidance(?:\s+scale)?|"
                      r"cfg(?:\s+scale)?|candidates|candidate\s+count|width|height|scheduler|sampler)\s*"
                      r"(?:(?:to|at|of|as|is)\s+|=\s*|:\s*)?(?P<value>\S+)$", re.IGNORECASE)
_COUNT = re.compile(r"^(?:(?:use|make|render|draw|generate|give\s+me)\s+)?(?P<value>\d+)\s+"
                    r"(?P<name>candidates?|steps|options|images|variants|versions)"
                    r"(?:\s+(?:per|for\s+each|each|a)\s+(?:frame|shot|panel))?$", re.IGNORECASE)
_SIZE_WORD = r"(?:(?:set|change|make|use)\s+)?(?:the\s+)?(?:(?:image\s+|frame\s+)?size|resolution|dimensions?)"
_SIZE = re.compile(rf"^(?:{_SIZE_WORD}"
                   r"\s*(?:(?:to|at|of|as|is)\s+|=\s*|:\s*)?)?(?P<w>\d+)\s*(?:x|×|\*|by)\s*(?P<h>\d+)"
                   r"(?:\s*(?:px|pixels))?$", re.IGNORECASE)
_SIZE_BAD = re.compile(rf"^{_SIZE_WORD}"
                       r"\b", re.IGNORECASE)
_USE_SCHEDULER = re.compile(r"^(?:use|switch\s+to|try|change\s+to)\s+(?:the\s+)?(?P<value>dpm\+\+|dpm|ddim|"
                            r"euler[\s_\-]?a(?:ncestral)?)(?:\s+(?:scheduler|sampler))?$", re.IGNORECASE)
_SETTING_NAMES = {"steps": "steps", "step count": "steps", "guidance": "guidance", "guidance scale": "guidance",
                  "cfg": "guidance", "cfg scale": "guidance", "candidates": "candidates", "candidate": "candidates",
                  "candidate count": "candidates", "options": "candidates", "images": "candidates",
                  "variants": "candidates", "versions": "candidates", "width": "width", "height": "height",
                  "scheduler": "scheduler", "sampler": "scheduler"}
_FORMAT_WORDS = {"sheet": "pdf", "animatic": "mp4", "video": "mp4", "movie": "mp4", "timeline": "otio",
                 "shot list": "csv", "shotlist": "csv", "spreadsheet": "csv", "grid": "png", "data": "json"}
_HOLD_LEAD = (r"(?:(?:make\s+it|set\s+it\s+to|hold(?:\s+it)?(?:\s+for)?|lasts?(?:\s+for)?|lasting|for|"
              r"duration|length|hold\s+time)\s*[:=]?\s*)")
_NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                 "eight": 8, "nine": 9, "ten": 10, "half a": 0.5, "zero": 0}
_AMOUNT = (r"[-+]?(?:\d[\d,._']*(?:e[-+]?\d+)?|[.,]\d[\d,._']*(?:e[-+]?\d+)?)|nan|[-+]?inf(?:inity)?|"
           + "|".join(sorted((re.escape(w) for w in _NUMBER_WORDS), key=len, reverse=True)))
_UNITS = {"ms": 0.001, "msec": 0.001, "msecs": 0.001, "millisecond": 0.001, "milliseconds": 0.001,
          "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
          "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
          "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600}
_UNIT = "|".join(sorted(_UNITS, key=len, reverse=True))
_DURATION = re.compile(rf"^{_HOLD_LEAD}?(?P<amount>{_AMOUNT})\s*(?P<unit>{_UNIT})(?:\s+(?:long|hold))?$",
                       re.IGNORECASE)
"""A message that reads as a hold: an amount (digits in any common spelling, or a small number word) and a unit
of time. It is a duration or a question, never a prompt."""
_FILLER = {"now", "please", "too", "also", "files", "file", "the", "a", "an", "as", "to", "in"}

def check_setting(name: str, value: int | float | str) -> int | float | str:
    """Return a render setting's value in the type Settings holds, or raise CorrectionError saying what fits."""
    raw = str(value).strip()
    if name in ("width", "height"):
        number = _whole(raw)
        if number is None or not 64 <= number <= 2048 or number % 8:
            raise CorrectionError(f"{name}: expected a multiple of 8 from 64 to 2048, got {raw[:20]}")
        return number
    if name == "steps":
        number = _whole(raw)
        if number is None or not 1 <= number <= 150:
            raise CorrectionError(f"steps: expected a whole number from 1 to 150, got {raw[:20]}")
        return number
    if name == "candidates":
        number = _whole(raw)
        if number is None or not 1 <= number <= 8:
            raise CorrectionError(f"candidates: expected a whole number from 1 to 8, got {raw[:20]}")
        return number
    if name == "guidance":
        try:
            scale = float(raw) if len(raw) <= 20 else None
        except ValueError:
            scale = None
        if scale is None or not 0 <= scale <= 30:
            raise CorrectionError(f"guidance: expected a number from 0 to 30, got {raw[:20]}")
        return scale
    if name == "scheduler":
        key = re.sub(r"[\s\-]+", "_", raw.lower())
        key = {"dpm": "dpm++", "dpmpp": "dpm++", "euler_ancestral": "euler_a", "eulera": "euler_a"}.get(key, key)
        if key not in SCHEDULERS:
            raise CorrectionError(f"scheduler: expected one of {', '.join(SCHEDULERS)}, got {raw[:20]!r}")
        return key
    raise CorrectionError(f"{name[:20]!r} is not a setting: expected width, height, steps, guidance, candidates "
                          "or scheduler")


def _whole(raw: str) -> int | None:
    if raw.endswith(".0"):  # 30.0 from a model's JSON is the whole number 30
        raw = raw[:-2]
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 9 else None


def read_setting(plain: str) -> list[Command] | None:
    """Return the setting commands a message asks for ("size 768x512", "steps 30"), or None when it asks none."""
    if match := _SIZE.match(plain):
        return [SetSetting(name="width", value=check_setting("width", match.group("w"))),
                SetSetting(name="height", value=check_setting("height", match.group("h")))]
    if _SIZE_BAD.match(plain):
        raise CorrectionError('size: expected width x height in pixels, such as "size 768x512"')
    if match := _USE_SCHEDULER.match(plain):
        return [SetSetting(name="scheduler", value=check_setting("scheduler", match.group("value")))]
    if match := (_SETTING.match(plain) or _COUNT.match(plain)):
        name = _SETTING_NAMES[" ".join(match.group("name").lower().split())]
        return [SetSetting(name=name, value=check_setting(name, match.group("value")))]
    return None


def _amount(raw: str) -> float | None:
    """Read the amount of a hold: 2.5, .5, 2,5 (a decimal comma), 1e1, or a word such as "two"; None when
    it is no plain number (nan, inf, 1,000 which could be one or a thousand, 1.2.3)."""
    word = " ".join(raw.lower().split())
    if word in _NUMBER_WORDS:
        return float(_NUMBER_WORDS[word])
    if len(raw) > 24 or "_" in raw or "'" in raw:
        return None
    if "," in raw:
        if "." in raw or raw.count(",") > 1 or re.search(r"\d,\d{3}(?!\d)", raw):
            return None  # 1,000 and 1,5.0 mean different things to different people
        raw = raw.replace(",", ".")
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_duration(number: int, plain: str) -> SetDuration | None:
    """Return the hold "frame N: 2.5s" asks for frame `number`, or None when `plain` names no duration.

    A message that reads as a hold but cannot be one (nan s, 2 minutes, 1e-300 seconds) raises CorrectionError
    with the question to ask, so it never becomes the frame's prompt.
    """
    match = _DURATION.match(plain.strip())
    if match is None:
        return None
    low, high = DURATION_RANGE
    said = " ".join(f"{match.group('amount')} {match.group('unit')}".split())[:40]
    amount = _amount(match.group("amount"))
    if amount is None:
        raise CorrectionError(f"frame {number}: {said!r} does not read as a number of seconds; expected a hold "
                              f"from {low:g} to {high:g} seconds, such as \"frame {number}: 2.5s\"")
    seconds = amount * _UNITS[match.group("unit").lower()]
    if not low <= seconds <= high:
        raise CorrectionError(f"frame {number}: expected a hold from {low:g} to {high:g} seconds, got {said}"
                              + (f" ({seconds:g} s)" if match.group("unit").lower() not in ("s", "sec", "secs",
                                                                                             "second", "seconds")
                                 else ""))
    return SetDuration(frame=number, seconds=seconds)


def export_formats(text: str) -> list[str]:
    """Read "mp4, gif and csv" or "animatic and shot list" as export formats; raise CorrectionError for a stranger."""
    formats = []
    for part in re.split(r",|\band\b|&|\+", text.lower()):
        part = part.strip()
        named = _FORMAT_WORDS.get(part)
        for word in [named] if named else [w for w in part.split() if w not in _FILLER]:
            found = _FORMAT_WORDS.get(word, word.lstrip("."))
            if found not in EXPORT_FORMATS:
                raise CorrectionError(f"cannot export as {word[:20]!r}: expected some of {', '.join(EXPORT_FORMATS)}")
            if found not in formats:
                formats.append(found)
    if not formats:
        raise CorrectionError(f"say which formats to export: some of {', '.join(EXPORT_FORMATS)}")
    return formats
