"""Read a scene description as story beats: who is in each sentence and what they do.

Names and pronouns are resolved to cast members (by name, alias, class word and recency). Each sentence is
written twice: for prompts with every person as "token class", so no pronoun survives into one, and for people
in the scene's own words with names where a pronoun alone would not say who.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from graphs.planning.actions import action_of
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
    """The sentence with every person written as "token class" (what prompts are made from)."""
    said: str = ""
    """The sentence as people read it: the scene's words, names where a pronoun would be unclear."""
    characters: list[str] = field(default_factory=list)
    """Tokens of the characters in the sentence, in order of first mention."""
    actions: dict[str, str] = field(default_factory=dict)
    """For each character, what they do, naming nobody else."""
    emotional: bool = False
    sentence: str = ""
    """The sentence as the scene wrote it."""
    mentions: list[Mention] = field(default_factory=list)
    """Who each name and pronoun in it means."""
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
            names = [person.name.lower()] + [re.sub(r"[^a-z0-9]", "", a.lower())
                                             for a in [*person.aliases, person.display] if a]
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


@dataclass(frozen=True)
class Mention:
    """Where a sentence names a cast member, by name or by pronoun."""

    start: int
    """Where the words begin, a title before a name included ("Officer Kaito")."""
    name_start: int
    """Where the name or pronoun itself begins."""
    end: int
    people: tuple[Character, ...]
    possessive: bool
    pronoun: bool


def _names(people: tuple[Character, ...], possessive: bool, naming=pair) -> str:
    names = [naming(p) + ("'s" if possessive else "") for p in people]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


_KIN = re.compile(r"\b(?:his|her|their)\s+(?:[a-z-]+\s+){1,2}$", re.IGNORECASE)
"""A possessive phrase right before a name ("her brother Max"), which the name's mention takes in."""


def _names_next(rest: str, resolver: Resolver) -> bool:
    """Whether a possessive pronoun leads into a name one or two words on ("her brother Max", "his daughter Elena")."""
    match = re.match(r"\s+(?:[a-z-]+\s+){1,2}([A-Za-z][\w'\u2019-]*)", rest)
    return bool(match) and resolver.match_name(match.group(1)) is not None


def find_mentions(sentence: str, resolver: Resolver) -> list[Mention]:
    """Find who each name and pronoun of a sentence means, in order, moving the resolver along."""
    found, cursor = [], 0
    for match in _WORD.finditer(sentence):
        word = match.group(0)
        lower = word.lower()
        person = resolver.match_name(word)
        if person is not None:
            people, possessive = [person], bool(re.search(r"['\u2019]s$", word))
        elif lower in _POSSESSIVE and _names_next(sentence[match.end():], resolver):
            continue  # "Her brother Max": the phrase is Max, and it is his mention that names him
        elif lower in _PRONOUN_WORDS:
            people, possessive = resolver.resolve_pronoun(lower), lower in _POSSESSIVE
            if lower == "her":
                possessive = not _NOT_OWNED.match(sentence[match.end():])
            if not people:
                continue
        else:
            continue
        title = (_TITLE.search(sentence, cursor, match.start()) or _KIN.search(sentence, cursor, match.start())
                 if person is not None else None)
        found.append(Mention(title.start() if title else match.start(), match.start(), match.end(), tuple(people),
                             possessive, person is None))
        cursor = match.end()
        resolver.seen(people)
    resolver.last_sentence = []
    for person in (p for mention in found for p in mention.people):
        if person not in resolver.last_sentence:
            resolver.last_sentence.append(person)
    return found


def resolve_sentence(sentence: str, resolver: Resolver) -> tuple[str, list[Character], list[tuple[int, int, Character]]]:
    """Rewrite one sentence with people named; return it, who appears, and where each mention sits."""
    return prompt_words(sentence, find_mentions(sentence, resolver))


def prompt_words(sentence: str, mentions: list[Mention]) -> tuple[str, list[Character], list[tuple[int, int, Character]]]:
    """The sentence as a prompt reads it, every mention written as "token class"; who appears; their spans."""
    out, who, spans, cursor = [], [], [], 0
    for mention in mentions:
        out.append(sentence[cursor:mention.start])
        start = sum(len(part) for part in out)
        text = _names(mention.people, mention.possessive)
        out.append(text)
        cursor = mention.end
        for person in mention.people:
            spans.append((start, start + len(text), person))
            if person not in who:
                who.append(person)
    out.append(sentence[cursor:])
    return "".join(out), who, spans


def _clear(mention: Mention, named: set[str], before: list[Character]) -> bool:
    """Tell whether a pronoun says who it means without a name: someone it means is named earlier in the
    sentence, or it means the one person of that gender named in the sentences just before."""
    if any(p.name in named for p in mention.people):
        return True
    if len(mention.people) != 1:
        return False
    gender = vocab.gender_of(mention.people[0].class_word)
    same = [p for p in before if vocab.gender_of(p.class_word) == gender]
    return gender != "neutral" and len(same) == 1 and same[0] is mention.people[0]


def said_words(sentence: str, mentions: list[Mention], before: list[Character] = ()) -> str:
    """The sentence as a person reads it: the scene's own words, with a pronoun replaced by the name it means
    only where it would not say who (see _clear), and a bare token by the display name. `before` is who the
    sentences told just before this one (in the same frame) name."""
    out, named, cursor = [], set(), 0
    for mention in mentions:
        words = sentence[mention.name_start:mention.end]
        if mention.pronoun and _clear(mention, named, list(before)):
            text = words
        elif mention.pronoun:
            text = _names(mention.people, mention.possessive, lambda p: p.shown)
        elif re.sub(r"['\u2019]s$", "", words).lower() == mention.people[0].name.lower():
            text = _names(mention.people, mention.possessive, lambda p: p.shown)
        else:
            text = words
        out += [sentence[cursor:mention.name_start], text]
        cursor = mention.end
        named.update(p.name for p in mention.people)
    out.append(sentence[cursor:])
    said = "".join(out)
    return said[:1].upper() + said[1:]


def tell(beats: list[Beat]) -> str:
    """The beats of one frame as a person reads them, each pronoun named only where it would be unclear."""
    told, before = [], []
    for beat in beats:
        if beat.sentence:
            told.append(said_words(beat.sentence, beat.mentions, before))
            before = []
            for person in (p for m in beat.mentions for p in m.people):
                if person not in before:
                    before.append(person)
        else:
            told.append(beat.said)
    return " ".join(told)


def read_beats(description: str, cast: list[Character]) -> list[Beat]:
    """Turn a scene description into beats, resolving names and pronouns to the cast."""
    resolver = Resolver(cast)
    beats = []
    for sentence in split_sentences(description):
        mentions = find_mentions(sentence, resolver)
        text, who, spans = prompt_words(sentence, mentions)
        prop = _PROP.search(sentence)
        beat = Beat(text=text, said=said_words(sentence, mentions), sentence=sentence, mentions=mentions,
                    characters=[p.name for p in who],
                    emotional=bool(vocab.EMOTIONS.search(sentence)),
                    prop=("the " + prop.group(1).lower()) if prop else "")
        for person in who:
            beat.actions[person.name] = action_of(text, person, spans)
        beats.append(beat)
    _introduce(beats, cast)
    _keep_postures(beats)
    return beats


_INTRODUCED = re.compile(rf"^(?:a|an|the|one)\s+(?:[a-z-]+\s+)?({vocab.ROLES.pattern})", re.IGNORECASE)


def _introduce(beats: list[Beat], cast: list[Character]) -> None:
    """Give a sentence that brings someone in by a role before the scene names them ("A courier sprints ...",
    then "Rin vaults ...") to the person named next, when that person has not been seen yet and the role fits."""
    seen: set[str] = set()
    people = {person.name: person for person in cast}
    for index, beat in enumerate(beats):
        match = _INTRODUCED.match(beat.sentence) if not beat.characters else None
        later = next((b for b in beats[index + 1:] if b.characters), None) if match else None
        role = vocab.gender_of(match.group(1)) if match else ""
        fits = [people[name] for name in (later.characters if later else []) if name not in seen
                and role in ("neutral", vocab.gender_of(people[name].class_word))]
        if fits:
            person = fits[0]
            beat.text = pair(person) + beat.sentence[match.end():]
            beat.characters = [person.name]
            beat.actions = {person.name: action_of(beat.text, person, [(0, len(pair(person)), person)])}
        seen.update(beat.characters)


_POSTURE = re.compile(r"\b(?:sits|stands|kneels|lies|leans|crouches|waits|sleeps)\b[^,;.]*", re.IGNORECASE)


def _keep_postures(beats: list[Beat]) -> None:
    """Someone a sentence only mentions (the one spoken to, followed, reached for) keeps the posture the scene gave
    them last ("sits at the table"), instead of doing nothing."""
    last: dict[str, str] = {}
    for beat in beats:
        for name, action in beat.actions.items():
            if not action and name in last:
                beat.actions[name] = last[name]
            elif posture := _POSTURE.search(action):
                last[name] = posture.group(0).strip()
