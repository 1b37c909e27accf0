"""The rules planner: a deterministic, offline shot list that follows the planning template."""

from __future__ import annotations

import hashlib
from collections import Counter

from graphs.planning.beats import Beat, pair, read_beats, tell
from graphs.planning.camera import Camera, cover_dialogue, first_camera, fit_inserts
from graphs.planning.coverage import beat_for, cover_everyone, pick_cast, scene_kind, shot_sequence, tighten
from graphs.planning.place import find_lighting, find_setting
from graphs.planning.prompt_writer import write_prompt
from graphs.state import Character, FrameSpec, Placement, Scene
from prompts.camera import camera_phrase
from prompts.shot_types import BY_NUMBER, ShotType, negative_prompt, strip_opening

DEFAULT_FRAMES = 8
SEEN_FROM_BEHIND = "seen from behind, one shoulder in the foreground"
"""What the person whose shoulder an over-the-shoulder shot looks past does in its prompt."""
REACTING = "listens and reacts"
"""What the one person of a reaction shot does."""


def frame_seed(scene: Scene, index: int) -> int:
    """Return a seed that depends only on the base seed (or, without one, the scene text) and the frame's place."""
    source = f"{scene.title}\n{scene.description}" if scene.seed is None else f"seed {scene.seed}"
    digest = hashlib.sha256(f"{source}\n{index}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % (2**31 - 1)


def home_sides(cast: list[Character]) -> dict[str, str]:
    """Give each cast member a side of the screen to keep across the scene (left, right, centre...)."""
    sides = ("left", "right", "centre")
    return {person.name: sides[i % 3] for i, person in enumerate(cast)}


def place(names: list[str], homes: dict[str, str]) -> list[str]:
    """Return a position for each character in a frame, keeping screen sides stable."""
    if len(names) == 1:
        return ["centre"]
    if len(names) == 2:
        first, second = homes[names[0]], homes[names[1]]
        if first == second or "centre" in (first, second):
            return ["left", "right"] if first != "right" else ["right", "left"]
        return [first, second]
    order = sorted(names, key=lambda n: ("left", "centre", "right").index(homes[n]))
    return [("left", "centre", "right")[order.index(n)] for n in names]


def restage(scene: Scene, spec: FrameSpec, shot: ShotType) -> FrameSpec:
    """Return the frame re-planned as another shot type, keeping its cast, beat and seed."""
    if spec.written_by == "person":
        prompt = f"{shot.phrase} of {strip_opening(spec.prompt)}"
    else:
        people = {p.name: p for p in scene.characters}
        staged = [(people[c.name], c.position, c.action) for c in spec.characters if c.name in people]
        prompt = write_prompt(shot, staged, scene.characters, spec.setting, spec.lighting, spec.subject,
                              scene.style, camera_of(spec, people))
    return spec.model_copy(update={"shot_type": shot.slug, "prompt": prompt,
                                   "negative_prompt": negative_prompt(shot.slug)})


def camera_of(spec: FrameSpec | Camera, people: dict[str, Character]) -> str:
    """The camera sentence of a frame's prompt, naming whose shoulder or eyes by token and class word."""
    toward = pair(people[spec.toward]) if spec.toward in people else ""
    return camera_phrase(spec.framing, spec.angle, spec.movement, toward)


def _subject(shot: ShotType, beat: Beat, names: list[str]) -> str:
    """What an insert shows: the beat's object, for a detail shot or a close frame with nobody in it."""
    return beat.prop if (shot.slug == "detail" or not names) and shot.rank <= 5 else ""


def _staged_action(camera: Camera, name: str, beat: Beat) -> str:
    if camera.framing == "over_the_shoulder" and name == camera.toward:
        return SEEN_FROM_BEHIND
    return REACTING if camera.framing == "reaction" else beat.actions.get(name, "")


def _next_beat(chosen: list[int], index: int, beats: int) -> int:
    """Where the beats frame `index` tells end: at the next frame's beat, so that no sentence is left out."""
    if index + 1 == len(chosen):
        return beats
    return max(chosen[index + 1], chosen[index] + 1)


class RulesPlanner:
    """Plans frames from a scene with rules alone: no model, no network, same input same plan."""

    name = "rules"
    restage = staticmethod(restage)

    def plan(self, scene: Scene) -> list[FrameSpec]:
        """Return one frame spec per frame of the scene."""
        cast = scene.characters
        beats = read_beats(scene.description, cast) or [Beat(text=scene.description, said=scene.description)]
        kind = scene_kind(scene.description)
        count = len(scene.shots) if scene.shots else (scene.frames or DEFAULT_FRAMES)
        numbers = scene.shots or shot_sequence(kind, count, bool(cast))
        chosen = [beat_for(i, count, len(beats)) for i in range(count)]
        shots = [BY_NUMBER[n] for n in numbers]
        told = [beats[b] for b in chosen]
        if not scene.shots:
            shots = [tighten(shot, beats[b], i) for i, (shot, b) in enumerate(zip(shots, chosen))]
            told = fit_inserts(shots, beats, chosen)
        visible = self._cast_per_frame(shots, told, [p.name for p in cast])
        setting = find_setting(scene.description, kind, scene.setting)
        lighting = find_lighting(scene.description, scene.lighting)
        said = [tell(beats[chosen[i]:_next_beat(chosen, i, len(beats))]) for i in range(count)]
        cameras = [first_camera(kind, i, shots[i], told[i], visible[i], _subject(shots[i], told[i], visible[i]))
                   for i in range(count)]
        if kind == "dialogue":
            cover_dialogue(cameras, shots, told, visible)
        return [self._spec(scene, i, shots[i], told[i], visible[i], setting, lighting, said[i], cameras[i])
                for i in range(count)]

    def extra(self, scene: Scene, action: str, shot: ShotType | None, seed: int) -> FrameSpec:
        """Return the spec of one more frame showing `action`, written by the same rules as a planned frame.

        The action is read as beats after the scene's own sentences, so "she" means whom it would mean there.
        Without a shot type, a frame with people in it is a medium shot and one without is a detail shot.
        """
        cast = scene.characters
        lead = scene.description.strip()
        if lead and lead[-1] not in ".!?":
            lead += "."
        beats = read_beats(f"{lead} {action.strip()}", cast)[len(read_beats(lead, cast)):]
        beat = Beat(text=" ".join(b.text for b in beats) or action.strip(),
                    said=tell(beats) or action.strip())
        for part in beats:
            for name in part.characters:
                if name not in beat.characters:
                    beat.characters.append(name)
                if not beat.actions.get(name):
                    beat.actions[name] = part.actions.get(name, "")
            beat.emotional = beat.emotional or part.emotional
            beat.prop = beat.prop or part.prop
        shot = shot or (BY_NUMBER[4] if beat.characters else BY_NUMBER[9])
        names = pick_cast(shot, beat, [], Counter())
        kind = scene_kind(scene.description)
        setting = find_setting(scene.description, kind, scene.setting)
        lighting = find_lighting(scene.description, scene.lighting)
        camera = first_camera(kind, 1, shot, beat, names, _subject(shot, beat, names))
        spec = self._spec(scene, 0, shot, beat, names, setting, lighting, camera=camera)
        return spec.model_copy(update={"seed": seed})

    def _cast_per_frame(self, shots: list[ShotType], beats: list[Beat], cast: list[str]) -> list[list[str]]:
        recent: list[str] = []
        close: Counter[str] = Counter()
        visible = []
        for shot, beat in zip(shots, beats):
            names = pick_cast(shot, beat, recent, close)
            if shot.rank <= 3:
                close.update(names)
            recent = beat.characters or recent
            visible.append(names)
        cover_everyone(visible, shots, cast)
        return visible

    def _spec(self, scene: Scene, index: int, shot: ShotType, beat: Beat, names: list[str],
              setting: str, lighting: str, said: str = "", camera: Camera | None = None) -> FrameSpec:
        camera = camera or Camera()
        people = {p.name: p for p in scene.characters}
        positions = place(names, home_sides(scene.characters))
        staged = [(people[n], pos, _staged_action(camera, n, beat)) for n, pos in zip(names, positions)]
        subject = _subject(shot, beat, names)
        prompt = write_prompt(shot, staged, scene.characters, setting, lighting, subject, scene.style,
                              camera_of(camera, people))
        return FrameSpec(
            shot_type=shot.slug, prompt=prompt, negative_prompt=negative_prompt(shot.slug),
            characters=[Placement(name=person.name, class_word=person.class_word, position=pos, action=action)
                        for person, pos, action in staged],
            setting=setting, lighting=lighting, seed=frame_seed(scene, index), action=said or beat.said,
            subject=subject, framing=camera.framing, angle=camera.angle, movement=camera.movement,
            toward=camera.toward)
