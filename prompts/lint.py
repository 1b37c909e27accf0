"""The prompt linter: checks frame prompts against the planning rules of SPEC.md section 2.

It works on anything shaped like a frame spec (see `FrameLike`), so plans from any planner, and
storyboard.json files read back from disk, are checked the same way.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Protocol

from pydantic import BaseModel

from prompts import vocabulary as vocab
from prompts.shot_types import BY_SLUG, opening_shot, shot_by_slug


class Person(Protocol):
    """A cast member: its space-free token and its class word."""

    name: str
    class_word: str


class Placed(Person, Protocol):
    """A cast member as it appears in one frame."""

    position: str


class FrameLike(Protocol):
    """The fields of a frame spec the linter reads."""

    shot_type: str
    prompt: str
    setting: str
    lighting: str
    characters: Sequence[Placed]


class Violation(BaseModel):
    """One broken rule in one frame."""

    frame: int
    """Index of the frame (0-based)."""
    rule: int
    """Number of the rule in SPEC.md section 2."""
    reason: str
    """What is wrong, in a few words."""

    def __str__(self) -> str:
        return f"frame {self.frame}, rule {self.rule}: {self.reason}"


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("-", " ")).strip().lower()


def _pair(person: Person) -> re.Pattern[str]:
    return re.compile(rf"\b{re.escape(person.name)}\s+{re.escape(person.class_word)}\b", re.IGNORECASE)


def _token(person: Person) -> re.Pattern[str]:
    return re.compile(rf"\b{re.escape(person.name)}\b", re.IGNORECASE)


def _masked(prompt: str, cast: Sequence[Person]) -> str:
    """Return the prompt with every "token class" pair replaced by a neutral placeholder."""
    for person in sorted(cast, key=lambda p: -len(p.name)):
        prompt = _pair(person).sub("CASTMEMBER", prompt)
    return prompt


def _sentences(prompt: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?;])\s+", prompt) if s.strip()]


def _found(pattern: re.Pattern[str], text: str) -> str | None:
    match = pattern.search(text)
    return match.group(0) if match else None


def check_shot_phrase(frame: FrameLike) -> list[str]:
    """Rule 1: the prompt opens with its own shot type's phrase followed by "of"."""
    shot = shot_by_slug(frame.shot_type)
    if opening_shot(frame.prompt) == shot:
        return []
    return [f'should begin with "{shot.phrase} of"']


_POSSESSIVES = {"his": ("male", "neutral"), "her": ("female", "neutral"), "their": ("male", "female", "neutral")}


def stray_pronoun(prompt: str, cast: Sequence[Person]) -> str | None:
    """The first pronoun that does not say who it means, or None.

    A possessive may stay when it refers to the one character its sentence names before it, and agrees with
    that character's class word ("kaitoyosuke man sweeps his flashlight").
    """
    for sentence in _sentences(prompt):
        named = [(m.start(), p) for p in cast for m in _pair(p).finditer(sentence)]
        masked = _masked(sentence, cast)
        for match in vocab.PRONOUNS.finditer(masked):
            word = match.group(0).lower()
            people = {p.name for _, p in named}
            subject = min(named, key=lambda hit: hit[0])[1] if named else None
            if word in _POSSESSIVES and len(people) == 1 and subject is not None \
                    and masked.index("CASTMEMBER") < match.start() \
                    and vocab.gender_of(subject.class_word) in _POSSESSIVES[word]:
                continue
            return match.group(0)
    return None


def check_naming(frame: FrameLike, cast: Sequence[Person]) -> list[str]:
    """Rule 2: people are named by token and class word; no pronouns, no generic people."""
    problems = []
    masked = _masked(frame.prompt, cast)
    for person in cast:
        if _token(person).search(masked):
            problems.append(f'"{person.name}" appears without its class word "{person.class_word}"')
    if word := stray_pronoun(frame.prompt, cast):
        problems.append(f'pronoun "{word}" instead of a character name')
    class_words = "|".join(re.escape(p.class_word) for p in cast)
    generic = vocab.PERSON_NOUNS if not class_words else re.compile(
        rf"{vocab.PERSON_NOUNS.pattern}|\b(?:{class_words})\b", re.IGNORECASE)
    if word := _found(generic, masked):
        problems.append(f'"{word}" names a person without a cast token')
    return problems


def check_visible(frame: FrameLike, cast: Sequence[Person]) -> list[str]:
    """Rule 3: exactly the characters visible in the frame are mentioned."""
    visible = {p.name.lower() for p in frame.characters}
    problems = []
    for person in cast:
        mentioned = _token(person).search(frame.prompt) is not None
        if mentioned and person.name.lower() not in visible:
            problems.append(f'mentions {person.name}, who is not in this frame')
        if not mentioned and person.name.lower() in visible:
            problems.append(f'{person.name} is in this frame but not named')
    return problems


def check_rank_words(frame: FrameLike) -> list[tuple[int, str]]:
    """Rules 4-7: words a shot type must avoid or must carry, by camera distance."""
    shot = shot_by_slug(frame.shot_type)
    masked = _masked(frame.prompt, frame.characters)
    problems: list[tuple[int, str]] = []
    if 1 <= shot.rank <= 4 and (word := _found(vocab.LOWER_BODY, masked)):
        problems.append((4, f'"{word}" in a {shot.name.lower()} pulls the framing wider'))
    if shot.rank in (3, 4) and frame.characters and not vocab.UPPER_BODY.search(masked):
        problems.append((5, "mention shoulders or hands so it does not become a close-up"))
    if shot.rank >= 7 and (word := _found(vocab.FACE_AND_POSE, masked)):
        problems.append((6, f'"{word}" is facial or pose detail, lost in a {shot.name.lower()}'))
    if shot.rank >= 4 and (word := _found(vocab.EMOTIONS, masked)):
        problems.append((7, f'emotional cue "{word}" pulls a {shot.name.lower()} closer'))
    return problems


def check_staging(frame: FrameLike) -> list[str]:
    """Rule 8: with several characters, each gets a sentence with its position and nobody else."""
    if len(frame.characters) < 2:
        return []
    sentences = _sentences(frame.prompt)
    problems = []
    for person in frame.characters:
        others = [p for p in frame.characters if p is not person]
        where = vocab.POSITIONS.get(person.position)
        own = [s for s in sentences if _token(person).search(s)
               and not any(_token(o).search(s) for o in others)]
        if not own:
            problems.append(f"{person.name} needs a sentence of its own")
        elif where is None or not any(where.search(s) for s in own):
            problems.append(f"{person.name}'s sentence should say it stands {person.position}")
    return problems


def check_place(frame: FrameLike) -> list[str]:
    """Rule 9 (one frame): the prompt names the setting and the light."""
    flat = _flat(frame.prompt)
    problems = []
    if not frame.setting.strip() or _flat(frame.setting) not in flat:
        problems.append(f'should name the setting "{frame.setting}"')
    if not frame.lighting.strip() or _flat(frame.lighting) not in flat:
        problems.append(f'should name the light "{frame.lighting}"')
    return problems


def lint_frame(index: int, frame: FrameLike, cast: Sequence[Person]) -> list[Violation]:
    """Return every rule one frame breaks."""
    if frame.shot_type not in BY_SLUG:
        return [Violation(frame=index, rule=1, reason=f'unknown shot type "{frame.shot_type}"')]
    found = [(1, r) for r in check_shot_phrase(frame)]
    found += [(2, r) for r in check_naming(frame, cast)]
    found += [(3, r) for r in check_visible(frame, cast)]
    found += check_rank_words(frame)
    found += [(8, r) for r in check_staging(frame)]
    found += [(9, r) for r in check_place(frame)]
    return [Violation(frame=index, rule=rule, reason=reason) for rule, reason in sorted(found)]


def lint_plan(frames: Sequence[FrameLike], cast: Sequence[Person],
              lint_one: Callable[[int, FrameLike, Sequence[Person]], list[Violation]] = lint_frame) -> list[Violation]:
    """Return every rule a whole plan breaks, including setting and light drifting between frames.

    `lint_one` lints one frame; a caller that keeps earlier answers passes its own.
    """
    found = [v for i, frame in enumerate(frames) for v in lint_one(i, frame, cast)]
    for field in ("setting", "lighting"):
        values = Counter(_flat(getattr(f, field)) for f in frames)
        if len(values) < 2:
            continue
        usual = values.most_common(1)[0][0]
        for i, frame in enumerate(frames):
            if _flat(getattr(frame, field)) != usual:
                found.append(Violation(frame=i, rule=9, reason=f'{field} differs from the scene\'s "{usual}"'))
    return sorted(found, key=lambda v: (v.frame, v.rule))
