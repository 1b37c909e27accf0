"""Write a frame prompt that keeps the planning rules, from a shot type, the cast in frame and a beat."""

from __future__ import annotations

import re

from graphs.planning.beats import pair
from graphs.state import Character
from prompts import vocabulary as vocab
from prompts.costume import look_parts
from prompts.shot_types import ShotType

_FRAMING = {
    "extreme_close_up": "The face fills the frame.",
    "close_up": "Head and shoulders in frame.",
    "medium_close_up": "Framed from the chest up, shoulders in view.",
    "medium": "Framed from the waist up, hands in view.",
    "american": "Framed from mid-thigh up.",
    "full": "The whole figure in view from head to feet.",
    "long": "The figure is small, with the surroundings around it.",
    "extreme_long": "A tiny figure in a vast view of the place.",
}
_FALLBACK_ACTION = {1: "looks straight ahead", 2: "looks ahead", 3: "looks ahead"}
"""What a close shot's character does when the scene gives them nothing that suits the shot; wider shots say only
who, where and how they look, so nothing is invented that the scene might contradict."""
_WHERE = {"left": "on the left", "right": "on the right", "centre": "in the centre"}
_CLAUSES = re.compile(r"\s*[,;]\s*(?:(?:and|but|then)\s+)?|\s+(?:and|but|while|as|then|before|after)\s+")


def _allowed(clause: str, shot: ShotType, cast: list[Character], shown: list[Character],
             person: Character | None = None) -> bool:
    masked = clause
    if person is not None:  # their own "his", "her" or "their" may stay
        masked = re.sub(rf"\b{vocab.OWN[vocab.gender_of(person.class_word)]}\b", "OWN", masked, flags=re.IGNORECASE)
    for someone in shown:
        masked = re.sub(rf"\b{re.escape(pair(someone))}\b", "CASTMEMBER", masked, flags=re.IGNORECASE)
    banned = [vocab.PRONOUNS, vocab.PERSON_NOUNS]
    banned += [re.compile(rf"\b{re.escape(p.name)}\b|\b{re.escape(p.class_word)}\b", re.IGNORECASE) for p in cast]
    if 1 <= shot.rank <= 4:
        banned.append(vocab.LOWER_BODY)
    if shot.rank >= 7:
        banned.append(vocab.FACE_AND_POSE)
    if shot.rank >= 4:
        banned.append(vocab.EMOTIONS)
    return not any(pattern.search(masked) for pattern in banned)


def scrub(action: str, shot: ShotType, cast: list[Character], shown: list[Character],
          person: Character | None = None) -> str:
    """Keep only the parts of an action that are safe for this shot type and this frame's cast; `person`, whose
    action it is, may keep their own possessive ("sweeps his flashlight")."""
    clauses = [c.strip(" .") for c in _CLAUSES.split(action) if c and c.strip(" .")]
    kept = [c for c in clauses if _allowed(c, shot, cast, shown, person)]
    if kept and kept == clauses:  # nothing cut: the scene's own words, commas and all
        return " ".join(action.split()).strip(" .")
    return " and ".join(kept) if kept else _FALLBACK_ACTION.get(shot.rank, "")


def _opener(shot: ShotType, shown: list[Character], setting: str, lighting: str, subject: str) -> str:
    if shot.slug == "detail" and not subject and not shown:
        return f"{shot.phrase} of the textures of {setting}, {lighting}."
    if shot.slug == "detail":
        subject = subject or f"{pair(shown[0])}'s hands"
        return f"{shot.phrase} of {subject} in {setting}, {lighting}."
    if not shown:
        return f"{shot.phrase} of {subject or setting}{' in ' + setting if subject else ''}, {lighting}."
    names = [pair(p) for p in shown]
    who = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"{shot.phrase} of {who} in {setting}, {lighting}."


def write_prompt(shot: ShotType, staged: list[tuple[Character, str, str]], cast: list[Character],
                 setting: str, lighting: str, subject: str = "", style: str = "", camera: str = "") -> str:
    """Return the prompt for one frame.

    `staged` lists (character, position, action) for each character in frame; `cast` is the whole
    cast, so actions never name someone outside the frame. Each character's look (the first words of their
    description that suit the shot) follows their name. `camera` is the sentence for the framing, angle
    and movement (prompts.camera.camera_phrase), right after the opening one.
    """
    shown = [person for person, _, _ in staged]
    parts = [_opener(shot, shown, setting, lighting, subject)] + ([camera] if camera else [])
    if shown and shot.slug in _FRAMING:
        parts.append(_FRAMING[shot.slug])
    for person, position, action in staged:
        doing = scrub(action, shot, cast, shown, person)
        bits = [pair(person)] + ([_WHERE[position]] if len(staged) > 1 else [])
        bits += [p for p in look_parts(person.description, shot.rank == 1) if _allowed(p, shot, cast, shown)]
        head = ", ".join(bits)
        parts.append(f"{head}{',' if len(bits) > 1 else ''} {doing}." if doing else f"{head}.")
    if shot.rank >= 7:
        parts.append(f"Wide view of {setting} and its surroundings.")
    if style.strip():
        parts.append(style.strip().rstrip(".") + ".")
    return " ".join(parts)
