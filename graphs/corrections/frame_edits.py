"""How one frame changes under a correction: its prompt, who is in it and where they stand, its shot type."""

from __future__ import annotations

import re

from graphs.commands import MoveCharacter
from graphs.context import Planner
from graphs.corrections.phrasing import WHERE_WORDS
from graphs.errors import CorrectionError
from graphs.frames.document import shown_names
from graphs.planning.beats import pair
from graphs.planning.planner import home_sides, place
from graphs.state import Character, Frame, FrameSpec, Placement, Scene
from prompts.shot_types import SHOT_TYPES, ShotType, find_shot, shot_by_slug


def next_seed(seed: int) -> int:
    """Return a fresh seed that follows from the old one, so regenerating is reproducible."""
    return (seed * 1103515245 + 12345) % (2**31 - 1)


def check_frame(frames: list[Frame], number: int) -> int:
    """Return the frame number if the storyboard has that frame; otherwise raise CorrectionError saying which it has."""
    if not 0 <= number < len(frames):
        raise CorrectionError(f"there is no frame {number}: frames are numbered 0 to {len(frames) - 1}")
    return number


def shot_named(slug: str) -> ShotType:
    """Return the shot type a slug (or a name or number people or models also use) names, or raise CorrectionError."""
    shot = find_shot(slug)
    if shot is None:
        raise CorrectionError(f"unknown shot type {slug!r}: expected one of {', '.join(s.slug for s in SHOT_TYPES)}")
    return shot


def restaged(scene: Scene, spec: FrameSpec, planner: Planner) -> FrameSpec:
    """Return the spec as the planner writes it again for the scene, keeping its shot type."""
    return planner.restage(scene, spec, shot_named(spec.shot_type))


def named(cast: list[Character], text: str) -> list[Character]:
    """Return the cast members a text names by token, in cast order."""
    return [p for p in cast if re.search(rf"\b{re.escape(p.name)}\b", text, re.IGNORECASE)]


def member(cast: list[Character], word: str) -> Character | None:
    """Return the cast member a word names by token or alias (case and punctuation aside), or None."""
    flat = re.sub(r"[^a-z0-9]", "", word.lower())
    for person in cast:
        if flat in [re.sub(r"[^a-z0-9]", "", n.lower()) for n in [person.name, *person.aliases]]:
            return person
    return None


def _who(people: list[Placement], cast: list[Character]) -> str:
    """Say who is in a frame, as the end of a sentence, by the names people know them by."""
    shown = shown_names(cast)
    names = [shown.get(p.name, p.name) for p in people]
    if not names:
        return "nobody is in it"
    if len(names) == 1:
        return f"only {names[0]} is"
    return ", ".join(names[:-1]) + f" and {names[-1]} are"


def with_tokens(cast: list[Character], text: str) -> str:
    """The person's text with each name they know a character by ("Kaito") written as its token and class word,
    which is how prompts name people."""
    for person in cast:
        for alias in sorted({*person.aliases, person.shown} - {person.name}, key=len, reverse=True):
            pattern = rf"(?<![\w-]){re.escape(alias)}(?![\w-])(?!\s+{re.escape(person.class_word)}\b)"
            text = re.sub(pattern, pair(person), text)
    return text


def dropped(scene: Scene, spec: FrameSpec, text: str) -> list[str]:
    """What of the frame a new prompt would lose: the names of its people and its setting that `text` leaves out."""
    text = with_tokens(scene.characters, text)
    shown = shown_names(scene.characters)
    lost = [shown.get(c.name, c.name) for c in spec.characters
            if not re.search(rf"\b{re.escape(c.name)}\b", text, re.IGNORECASE)]
    words = [w for w in re.findall(r"[a-z]{4,}", spec.setting.lower()) if w not in ("with", "from", "into")]
    if words and not any(re.search(rf"\b{w}", text, re.IGNORECASE) for w in words):
        lost.append(spec.setting)
    return lost


def rewrite_prompt(scene: Scene, frame: Frame, text: str) -> Frame:
    """Return the frame with the person's own prompt; the cast it names are in the frame, each on a side."""
    cast = scene.characters
    text = with_tokens(cast, text)
    named_here = named(cast, text)
    old = {c.name: c for c in frame.spec.characters}
    positions = place([p.name for p in named_here], home_sides(cast)) if named_here else []
    people = [old[p.name] if p.name in old and len(named_here) == len(old) else
              Placement(name=p.name, class_word=p.class_word, position=pos) for p, pos in zip(named_here, positions)]
    spec = frame.spec.model_copy(update={"prompt": text, "characters": people, "written_by": "person"})
    return frame.model_copy(update={"spec": spec})


def _joined(scene: Scene, people: list[Placement], number: int, text: str) -> list[Placement]:
    """Return the frame's people with the cast members `text` names added, and everyone's side worked out again."""
    joining = [p for p in named(scene.characters, text) if p.name not in {c.name for c in people}]
    if not joining:
        return people
    homes = home_sides(scene.characters)
    if len(people) + len(joining) > 3 or any(p.name not in homes for p in people):
        raise CorrectionError(f"frame {number}: {_who(people, scene.characters)} in it already; a frame holds three "
                              "characters at most, so write the whole prompt instead")
    people = people + [Placement(name=p.name, class_word=p.class_word, position="centre") for p in joining]
    positions = place([p.name for p in people], homes)
    return [p.model_copy(update={"position": pos}) for p, pos in zip(people, positions)]


def append_sentence(scene: Scene, frame: Frame, number: int, text: str) -> Frame:
    """Return the frame with `text` added to its prompt as a sentence of its own.

    Cast members the text names who were not in the frame join it, and everyone's side is worked out again.
    """
    text = with_tokens(scene.characters, text)
    sentence = text if text[-1] in ".!?" else text + "."
    first = sentence.split()[0]
    if first.islower() and member(scene.characters, first) is None:
        sentence = sentence[0].upper() + sentence[1:]
    base = frame.spec.prompt.rstrip()
    if base and base[-1] not in ".!?":
        base += "."
    people = _joined(scene, list(frame.spec.characters), number, text)
    spec = frame.spec.model_copy(update={"prompt": f"{base} {sentence}".strip(), "characters": people,
                                         "written_by": "person"})
    return frame.model_copy(update={"spec": spec})


def move_character(scene: Scene, frame: Frame, number: int, command: MoveCharacter,
                   planner: Planner) -> tuple[Frame, str]:
    """Return the frame with a character moved, and a note; whoever stood there takes the old place."""
    person = member(scene.characters, command.character)
    token = person.name if person else command.character
    said = person.shown if person else command.character
    spec = frame.spec
    mover = next((k for k, c in enumerate(spec.characters) if c.name.lower() == token.lower()), None)
    if mover is None:
        raise CorrectionError(f"{said} is not in frame {number}: {_who(spec.characters, scene.characters)}")
    old = spec.characters[mover].position
    if old == command.position:
        return frame, f"{said} already stands {WHERE_WORDS[old]} in frame {number}"
    people = [c.model_copy(update={"position": old}) if c.position == command.position else c
              for c in spec.characters]
    people[mover] = people[mover].model_copy(update={"position": command.position})
    spec = spec.model_copy(update={"characters": people})
    if spec.written_by == "planner":
        spec = planner.restage(scene, spec, shot_by_slug(spec.shot_type))
    note = f"{said} now stands {WHERE_WORDS[command.position]} in frame {number}"
    return frame.model_copy(update={"spec": spec}), note
