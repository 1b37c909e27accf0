"""Read a scene description as story beats: who is in each sentence and what they do.

Names and pronouns are resolved to cast members (by name, alias, class word and recency) and
rewritten as "token class", so no pronoun survives into a prompt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from graphs.state import Character
from prompts import vocabulary as vocab

_WORD = re.compile(r"[A-Za-z][A-Za-z'\u2019-]*")
_MALE = {"he", "him", "his", "himself"}
_FEMALE = {"she", "her", "hers", "herself"}
_PLURAL = {"they", "them", "their", "theirs", "themselves"}
_POSSESSIVE = {"his", "her", "hers", "their", "theirs"}
_PRONOUN_WORDS = _MALE | _FEMALE | _PLURAL
_NOT_OWNED = re.compile(r"\s+(?:the|a|an|this|that|these|those|to|at|with|in|on|as|and|or|up|down|out|off|"
                        r"back|away|again|into|from|for|by|over|under|closely|tightly|gently|softly)\b|\s*[,.;:!?]|\s*$")
_LEADERS = {"then", "suddenly", "finally", "slowly", "quickly", "now", "meanwhile", "later", "soon",
            "still", "again", "at", "last", "and", "but", "so", "when", "as", "once", "together"}
_TITLE = re.compile(r"\b(?:officer|detective|doctor|dr\.?|mr\.?|mrs\.?|ms\.?|miss|captain|sergeant|professor|agent|"
                    r"inspector|lord|lady|sir|madam|uncle|aunt)\s+$", re.IGNORECASE)
_PROPS = ("letters?", "keys?", "door", "guns?", "pistol", "revolver", "knife", "sword", "phone", "photo",
          "photograph", "map", "book", "notebook", "diary", "cup", "mug", "glass", "bottle", "ring",
          "watch", "clock", "lamp", "flashlight", "torch", "candle", "envelope", "note", "box", "bag",
          "briefcase", "suitcase", "coin", "badge", "file", "folder", "documents?", "drawer", "mirror",
          "camera", "ticket", "umbrella", "flower", "rose", "bracelet", "necklace", "wallet", "cards?",
          "handle", "lock", "footprints?", "fingerprints?", "glove", "hat", "scarf", "paper", "newspaper",
          "painting", "portrait", "bullet", "rope", "radio", "cigarette", "match", "compass", "locket")
_PROP = re.compile(r"\b(?:the|a|an|his|her|their|its)\s+((?:[a-z-]+\s+){0,2}?(?:" + "|".join(_PROPS) + r"))\b",
                   re.IGNORECASE)


@dataclass
class Beat:
    """One sentence of the scene, with its people resolved."""

    text: str
    """The sentence with every person written as "token class"."""
    characters: list[str] = field(default_factory=list)
    """Tokens of the characters in the sentence, in order of first mention."""
    actions: dict[str, str] = field(default_factory=dict)
    """For each character, what they do, naming nobody else."""
    emotional: bool = False
    prop: str = ""
    """An object worth a detail insert ("the brass key"), or empty."""


def split_sentences(text: str) -> list[str]:
    """Split free text into sentences on ., ! and ? (keeping text with no end mark)."""
    parts = re.split(r"(?<=[.!?])\s+", " ".join(text.split()))
    return [p for p in parts if p.strip()]


def pair(person: Character) -> str:
    """Return how prompts name a character: its token followed by its class word."""
    return f"{person.name} {person.class_word}"


class Resolver:
    """Tracks who was mentioned last, so pronouns can be resolved to cast members."""

    def __init__(self, cast: list[Character]):
        self.cast = cast
        self.recent: list[Character] = []
        self.last_sentence: list[Character] = []

    def match_name(self, word: str) -> Character | None:
        """Return the cast member a word names (token, alias, or a capitalised part of the token)."""
        bare = re.sub(r"['\u2019]s$", "", word)
        flat = re.sub(r"[^a-z0-9]", "", bare.lower())
        for person in self.cast:
            names = [person.name.lower()] + [re.sub(r"[^a-z0-9]", "", a.lower()) for a in person.aliases]
            if flat in names:
                return person
        if bare[:1].isupper() and len(flat) >= 3:
            hits = [p for p in self.cast if flat in p.name.lower()]
            return hits[0] if len(hits) == 1 else None
        return None

    def resolve_pronoun(self, word: str) -> list[Character]:
        """Return the cast members a pronoun most likely refers to (empty when nobody fits)."""
        word = word.lower()
        if word in _PLURAL:
            group = self.last_sentence if len(self.last_sentence) > 1 else self.recent[-2:]
            return list(group) if len(group) > 1 else list(self.cast)
        wanted = "male" if word in _MALE else "female"
        for pool in (reversed(self.recent), self.cast):
            for gender in (wanted, "neutral"):
                for person in pool:
                    if vocab.gender_of(person.class_word) == gender:
                        return [person]
        return []

    def seen(self, people: list[Character]) -> None:
        for person in people:
            if person in self.recent:
                self.recent.remove(person)
            self.recent.append(person)


def _names(people: list[Character], possessive: bool) -> str:
    names = [pair(p) + ("'s" if possessive else "") for p in people]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def resolve_sentence(sentence: str, resolver: Resolver) -> tuple[str, list[Character], list[tuple[int, int, Character]]]:
    """Rewrite one sentence with people named; return it, who appears, and where each mention sits."""
    out, who, spans, cursor = [], [], [], 0
    for match in _WORD.finditer(sentence):
        word = match.group(0)
        lower = word.lower()
        person = resolver.match_name(word)
        if person is not None:
            people, possessive = [person], bool(re.search(r"['\u2019]s$", word))
        elif lower in _PRONOUN_WORDS:
            people, possessive = resolver.resolve_pronoun(lower), lower in _POSSESSIVE
            if lower == "her":
                possessive = not _NOT_OWNED.match(sentence[match.end():])
            if not people:
                continue
        else:
            continue
        title = _TITLE.search(sentence, cursor, match.start()) if person is not None else None
        out.append(sentence[cursor:title.start() if title else match.start()])
        start = sum(len(part) for part in out)
        text = _names(people, possessive)
        out.append(text)
        cursor = match.end()
        for p in people:
            spans.append((start, start + len(text), p))
            if p not in who:
                who.append(p)
        resolver.seen(people)
    out.append(sentence[cursor:])
    resolver.last_sentence = who
    return "".join(out), who, spans


def action_of(text: str, person: Character, spans: list[tuple[int, int, Character]]) -> str:
    """Return what a character does in a rewritten sentence, with every other person cut out."""
    own = [s for s in spans if s[2] is person]
    start, end, _ = own[0]
    before = text[:start].strip(" ,").lower().split()
    if any(w not in _LEADERS for w in before[-3:]) and before:
        return ""
    rest = text[end:]
    for other_start, other_end, other in sorted(spans, key=lambda s: -s[0]):
        if other is person or other_start < end:
            continue
        cut = rest[other_start - end:other_end - end]
        rest = rest.replace(cut, " ", 1)
    rest = re.sub(r"\b(?:to|at|with|toward|towards|from|for|behind|beside|after|past|and|of)\s+(?=[\s,.]|$)", " ", rest)
    rest = re.sub(r"^\s*(?:and\s+)?", "", rest)
    rest = re.sub(rf"\b{re.escape(pair(person))}['\u2019]s\b", "the", rest)
    return " ".join(rest.split()).strip(" ,.;:!?")


def read_beats(description: str, cast: list[Character]) -> list[Beat]:
    """Turn a scene description into beats, resolving names and pronouns to the cast."""
    resolver = Resolver(cast)
    beats = []
    for sentence in split_sentences(description):
        text, who, spans = resolve_sentence(sentence, resolver)
        prop = _PROP.search(sentence)
        beat = Beat(text=text, characters=[p.name for p in who],
                    emotional=bool(vocab.EMOTIONS.search(sentence)),
                    prop=("the " + prop.group(1).lower()) if prop else "")
        for person in who:
            beat.actions[person.name] = action_of(text, person, spans)
        beats.append(beat)
    return beats
