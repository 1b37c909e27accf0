"""What is published about the frames: storyboard.json (written out for people and other tools, read back for
linting) and the caption the sheet prints under each frame."""

from __future__ import annotations

from graphs.planning.timing import duration
from graphs.state import Character, Frame, FrameSpec, Storyboard
from prompts.camera import camera_words
from prompts.shot_types import shot_by_slug


def shown_names(cast: list[Character]) -> dict[str, str]:
    """Each character's token, and the name people read for it (display name, else first alias)."""
    return {person.name: person.shown for person in cast}


def caption(index: int, frame: Frame, cast: list[Character] = ()) -> str:
    """Return the caption the sheet prints under a frame: its number, shot type and who is in it, by the names
    people know them by.

    Only the sheet and the PDF print it; the rendered image never holds it, so moving a frame redraws nothing.
    """
    shown = shown_names(list(cast))
    names = ", ".join(shown.get(c.name, c.name) for c in frame.spec.characters)
    camera = camera_of(frame.spec, shown)
    return (f"{index} · {shot_by_slug(frame.spec.shot_type).name}" + (f", {camera}" if camera else "")
            + (f" · {names}" if names else ""))


def camera_of(spec: FrameSpec, shown: dict[str, str]) -> str:
    """The frame's camera in a crew's words, naming people as they are known ("over Tomas's shoulder")."""
    return camera_words(spec.framing, spec.angle, spec.movement, shown.get(spec.toward, spec.toward), spec.subject)


def frame_entry(index: int, state: Storyboard) -> dict:
    """Return one frame of storyboard.json."""
    frame = state.frames[index]
    spec = frame.spec.model_dump(by_alias=True)
    shown = shown_names(state.scene.characters)
    for person in spec["characters"]:
        person["shown"] = shown.get(person["name"], person["name"])
    spec["camera"] = camera_of(frame.spec, shown)
    image = frame.image()
    return {
        "index": index,
        "id": frame.id,
        **spec,
        "shot_number": shot_by_slug(frame.spec.shot_type).number,
        "shot_name": shot_by_slug(frame.spec.shot_type).name,
        "image": f"frames/shot_{index}.png" if image else None,
        "source": image.path if image else None,
        "versions": [v.model_dump() for v in frame.versions],
        "lint": [v.model_dump() for v in frame.lint],
        "critique": frame.critique.model_dump() if frame.critique else None,
        "duration": duration(frame),
        "duration_set": frame.duration is not None,
    }


def storyboard_document(state: Storyboard) -> dict:
    """Return the whole storyboard.json document for a state."""
    return {
        "title": state.scene.title,
        "planner": state.planner,
        "renderer": state.renderer,
        "description": state.scene.description,
        "style": state.scene.style,
        "width": state.settings.width,
        "height": state.settings.height,
        "characters": [c.model_dump(by_alias=True) for c in state.scene.characters],
        "setting": state.scene.setting,
        "lighting": state.scene.lighting,
        "corrections": state.applied,
        "frames": [frame_entry(i, state) for i in range(len(state.frames))],
    }


def read_plan(document: dict) -> tuple[list[Character], list[FrameSpec]]:
    """Return the cast and frame specs stored in a storyboard.json (or `shotsmith plan`) document."""
    if not isinstance(document, dict) or not isinstance(document.get("frames"), list):
        raise ValueError('expected a storyboard document: a JSON object with a "frames" list')
    people, frames = document.get("characters", []), document["frames"]
    if not isinstance(people, list) or not all(isinstance(c, dict) for c in people):
        raise ValueError('"characters" should be a list of objects with name and class')
    if not all(isinstance(f, dict) for f in frames):
        raise ValueError('every entry of "frames" should be an object with shot_type, prompt, setting and lighting')
    cast = [Character.model_validate(c) for c in people]
    fields = set(FrameSpec.model_fields) | {"class"}
    specs = [FrameSpec.model_validate({k: v for k, v in f.items() if k in fields}) for f in document["frames"]]
    return cast, specs
