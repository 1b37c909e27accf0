"""Clean text that people send before it is stored, drawn into prompts or printed back to a terminal."""

from __future__ import annotations

import re
import unicodedata

_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
"""Direction overrides and isolates: they can make printed text read differently from what it holds."""


def clean(text: str) -> str:
    """Drop control characters (keeping tab and newline) and direction overrides; emoji and accents stay.

    Carriage returns become newlines, so CRLF text keeps its lines, and escape sequences cannot reach a
    terminal when the text is printed back.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _BIDI.sub("", text)
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")
