"""Handing a scene's speeches to the frames they are heard over, whatever planner made the frames.

A speech is placed after one sentence of the description. Frames are spread across the sentences in
order (as every planner is asked to), so a speech goes to the frames covering its sentence; among
those it prefers the one showing the speaker, else the last. A speech before the first sentence goes
to the first frame.
"""

from __future__ import annotations

from graphs.planning.beats import split_sentences
from graphs.state import Character, FrameSpec, Line, Scene, Speech


def sentence_of(index: int, frames: int, sentences: int) -> int:
    """Return the description sentence frame `index` of `frames` covers, spreading frames over sentences."""
    return min(sentences - 1, index * sentences // frames) if sentences else 0


def speaker_token(name: str, cast: list[Character]) -> str | None:
    """Return the cast token a script name ("HORATIO", "Kaito") belongs to, or None."""
    wanted = name.strip().lower()
    for person in cast:
        if wanted == person.name.lower() or wanted in (alias.lower() for alias in person.aliases):
            return person.name
    return None


def attach(scene: Scene, specs: list[FrameSpec]) -> list[FrameSpec]:
    """Return the specs with the scene's speeches handed out; specs are returned unchanged without dialogue."""
    if not scene.dialogue or not specs:
        return specs
    sentences = len(split_sentences(scene.description))
    covers = [sentence_of(i, len(specs), sentences) for i in range(len(specs))]
    heard: list[list[Line]] = [[] for _ in specs]
    floor = 0  # speeches keep their order: none goes to a frame before the previous speech's frame
    for speech in scene.dialogue:
        floor = _frame_for(speech, covers, specs, scene.characters, floor)
        heard[floor].append(Line(character=speech.character, text=speech.text, parenthetical=speech.parenthetical))
    return [spec.model_copy(update={"dialogue": lines}) if lines else spec for spec, lines in zip(specs, heard)]


def _frame_for(speech: Speech, covers: list[int], specs: list[FrameSpec], cast: list[Character], floor: int) -> int:
    if speech.after < 0:
        return floor
    here = [i for i, covered in enumerate(covers) if covered == speech.after and i >= floor]
    if not here:  # fewer frames than sentences, or the frames of this sentence are taken: stay in order
        here = [max([floor] + [i for i, covered in enumerate(covers) if covered <= speech.after])]
    token = speaker_token(speech.character, cast)
    showing = [i for i in here if token and any(c.name == token for c in specs[i].characters)]
    return (showing or here)[-1]
