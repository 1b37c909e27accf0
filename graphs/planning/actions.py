"""What one character does in a sentence of the scene, with everyone else cut out of it, for that character's
sentence of a prompt."""

from __future__ import annotations

import re

from graphs.state import Character
from prompts import vocabulary as vocab

_LEADERS = {"then", "suddenly", "finally", "slowly", "quickly", "now", "meanwhile", "later", "soon",
            "still", "again", "at", "last", "and", "but", "so", "when", "as", "once", "together"}


def _singular(verb: str) -> str:
    """The verb as one person does it ("read" -> "reads"), for a sentence that gave it to two people."""
    irregular = {"are": "is", "have": "has", "were": "was", "do": "does", "go": "goes"}
    if verb in irregular or verb.endswith("s") and not verb.endswith("ss"):
        return irregular.get(verb, verb)
    if re.search(r"(?:sh|ch|x|z|ss|o)$", verb):
        return verb + "es"
    return verb[:-1] + "ies" if re.search(r"[^aeiou]y$", verb) else verb + "s"


def _subject_run(text: str, person: Character, spans: list[tuple[int, int, Character]]) -> tuple[int, int, int]:
    """Where the run of names that holds the person's first mention begins and ends ("Ji-yeon and Kaito",
    "Anna, Ben and Carl"), and how many people it names."""
    ordered = sorted(spans, key=lambda span: span[0])
    at = next(k for k, span in enumerate(ordered) if span[2] is person)
    first = last = at
    joined = r"\s*,\s*(?:and\s+)?|\s+and\s+|"
    while first > 0 and re.fullmatch(joined, text[ordered[first - 1][1]:ordered[first][0]]):
        first -= 1
    while last + 1 < len(ordered) and re.fullmatch(joined, text[ordered[last][1]:ordered[last + 1][0]]):
        last += 1
    return ordered[first][0], ordered[last][1], len({id(span[2]) for span in ordered[first:last + 1]})


def _marked(text: str, person: Character, spans: list[tuple[int, int, Character]], end: int) -> str:
    """The sentence after the person's subject, each later mention marked: the person's own possessive as "his",
    "her" or "their", another mention of them as NUL (cut from there), a later clause of someone else's as \\x01
    (left out), and anyone else's name dropped ("the" for their things)."""
    at: dict[tuple[int, int], list[Character]] = {}
    for other_start, other_end, other in spans:
        if other_start >= end:
            at.setdefault((other_start, other_end), []).append(other)
    pieces, cursor = [], end
    for (other_start, other_end), people in sorted(at.items()):
        words = text[other_start:other_end]
        owned = words.endswith(("'s", "\u2019s"))
        leads = re.search(r"(?:^|[,;]|\b(?:and|but|while|as|then|until|when|where|what|why|how|whether|if|that|"
                          r"who))\s*$", text[:other_start])
        if any(p is person for p in people):
            mark = vocab.OWN[vocab.gender_of(person.class_word)] if owned else "\0"
        elif leads and re.search(r"[,;]|\b(?:and|but|while|as|then|until|when)\b", text[end:other_start]):
            mark = "\1"  # a later clause that is someone else's
        else:
            mark = "the" if owned else " "
        pieces += [text[cursor:other_start], mark]
        cursor = other_end
    return "".join(pieces) + text[cursor:]


def action_of(text: str, person: Character, spans: list[tuple[int, int, Character]]) -> str:
    """Return what a character does in a rewritten sentence, with every other person cut out.

    The character's own later mentions never name them twice: their possessive stays a possessive ("sweeps his
    flashlight", which the planning rules allow for the sentence's own subject), and a clause that speaks of
    them again ("..., a cup in front of her") is left out. So is a later clause whose subject is someone else
    ("but she pulls it away") or that speaks of someone else's things ("and his hands begin to shake"). A verb
    two people share becomes one person's ("Ji-yeon and Kaito read it together": "reads it").
    """
    start, end, sharing = _subject_run(text, person, spans)
    before = text[:start].strip(" ,").lower().split()
    if any(w not in _LEADERS for w in before[-3:]) and before:
        return ""
    rest = _marked(text, person, spans, end)
    rest = re.sub(r"(?:\s*[,;]|\s+(?:and|but|while|as|then|until|when)\b)[^,;]*\x01[^,;.]*", "", rest)
    rest = re.sub(r"\s*[,;][^,;]*\0[^,;.]*", "", rest)  # a later clause about them again
    rest = re.sub(r"[\x00\x01][^,;.]*", "", rest)  # in the first clause: cut from there on
    for _ in range(2):  # "across from" loses both words once the name after them is gone
        rest = re.sub(r"\b(?:to|at|with|toward|towards|from|for|behind|beside|after|past|and|of|across|near|"
                      r"opposite|around)\s*(?=[,.]|$|\s+(?:and|but|then)\b)", "", rest.rstrip())
    rest = " ".join(re.sub(r"^\s*(?:and\s+)?", "", rest).split()).strip(" ,.;:!?")
    rest = re.sub(r"\b(?:tells|asks|says|replies)$", "speaks", rest)  # told whom, or what, is cut away
    if sharing > 1 and rest:
        verb, _, tail = rest.partition(" ")
        tail = re.sub(r"\s*\b(?:together|each other|one another)\b", "", tail)
        rest = " ".join(f"{_singular(verb)} {tail}".split()).strip(" ,")
    return rest
