"""How a frame changes when the person talks camera: one step tighter or wider, another framing, angle or movement,
someone seen from behind, a longer or shorter hold. Each change keeps the frame's cast, beat, setting and seed
unless the framing itself needs someone else (a two-shot needs two people, a reaction shows only who reacts)."""

from __future__ import annotations

from graphs.commands import DURATION_RANGE, Hold, Resize, SetCamera
from graphs.context import Planner
from graphs.corrections.frame_edits import member
from graphs.errors import CorrectionError
from graphs.planning.planner import REACTING, SEEN_FROM_BEHIND, camera_of, home_sides, place
from graphs.planning.timing import duration
from graphs.state import Character, Frame, FrameSpec, Placement, Scene
from prompts.camera import FRAMINGS, camera_words
from prompts.shot_types import BY_NUMBER, BY_SLUG, SHOT_TYPES, ShotType

LOOKS_ON = "looks on"
"""What someone a framing brings into the frame does there."""
BACK_TO_CAMERA = "seen from behind"
"""What someone does who the person asked to see from behind."""
_BY_RANK = {shot.rank: shot for shot in SHOT_TYPES if shot.rank}


def _restaged(scene: Scene, old: FrameSpec, new: FrameSpec, shot: ShotType, planner: Planner) -> FrameSpec:
    """The spec written again as `shot`; a prompt of the person's own keeps its words, with the camera sentence
    swapped for the new one."""
    spec = planner.restage(scene, new, shot)
    if new.written_by != "person":
        return spec
    people = {p.name: p for p in scene.characters}
    before, after = camera_of(old, people), camera_of(new, people)
    prompt = spec.prompt.replace(f" {before}", "") if before else spec.prompt
    if after:
        head, dot, rest = prompt.partition(". ")
        prompt = f"{head}. {after} {rest}".strip() if dot else f"{prompt.rstrip('.')}. {after}"
    return spec.model_copy(update={"prompt": prompt})


def resize(scene: Scene, frame: Frame, number: int, command: Resize, planner: Planner) -> tuple[Frame, str]:
    """Frame the shot `command.steps` sizes wider (or tighter when negative); an insert keeps its object."""
    shot = BY_SLUG[frame.spec.shot_type]
    way = "wider" if command.steps > 0 else "tighter"
    if shot.rank == 0 and command.steps < 0:
        raise CorrectionError(f"frame {number} is a detail shot already, as tight as a frame gets")
    rank = max(1, min(8, shot.rank + command.steps))  # a detail (rank 0) widens to an extreme close-up
    if rank == shot.rank:
        edge = "an extreme close-up, the tightest size" if rank == 1 else "an extreme long shot, the widest size"
        raise CorrectionError(f"frame {number} is {edge} there is; it cannot go {way}")
    target = _BY_RANK[rank]
    spec = _restaged(scene, frame.spec, frame.spec, target, planner)
    steps = abs(command.steps)
    return (frame.model_copy(update={"spec": spec}),
            f"frame {number} is now {target.spoken}, {'one step' if steps == 1 else f'{steps} steps'} {way} "
            f"than {shot.spoken}")


def _placed(scene: Scene, people: list[tuple[Character, str]]) -> list[Placement]:
    positions = place([p.name for p, _ in people], home_sides(scene.characters))
    return [Placement(name=p.name, class_word=p.class_word, position=pos, action=action)
            for (p, action), pos in zip(people, positions)]


def _find(scene: Scene, word: str, number: int) -> Character | None:
    """The cast member a typed name means, None for no name, or CorrectionError naming the cast."""
    if not word:
        return None
    person = member(scene.characters, word)
    if person is None:
        names = ", ".join(p.shown for p in scene.characters) or "nobody"
        raise CorrectionError(f"frame {number}: {word!r} is not in the cast; expected one of: {names}")
    return person


def _other(scene: Scene, spec: FrameSpec, taken: list[Character], number: int, framing: str) -> Character:
    """Someone else for a framing that needs a second person: first from the frame, then from the cast."""
    names = {p.name for p in taken}
    in_frame = [c.name for c in spec.characters]
    for person in sorted(scene.characters, key=lambda p: (p.name not in in_frame, scene.characters.index(p))):
        if person.name not in names:
            return person
    raise CorrectionError(f"frame {number}: {FRAMINGS[framing].label} needs two people, and the scene has only "
                          + (", ".join(p.shown for p in scene.characters) or "nobody"))


def _framed(scene: Scene, spec: FrameSpec, command: SetCamera, number: int) -> dict:
    """The spec fields a new framing changes: who is in frame and doing what, whose it is, what an insert shows."""
    framing = command.framing
    cast = {p.name: p for p in scene.characters}
    here = [cast[c.name] for c in spec.characters if c.name in cast]
    doing = {c.name: c.action for c in spec.characters}
    who, shoulder = _find(scene, command.who, number), _find(scene, command.shoulder, number)
    if framing == "insert":
        return {"characters": [], "toward": "", "subject": command.subject or spec.subject}
    if framing in ("pov", "reaction") and who is None:
        if len(here) != 1:
            example = (here or scene.characters)[0].shown if here or scene.characters else "Kaito"
            raise CorrectionError(f'frame {number}: say whose {FRAMINGS[framing].label} it is, e.g. "frame {number}: '
                                  f'{FRAMINGS[framing].label} of {example}"')
        who = here[0]
    if framing == "pov":
        seen = [p for p in here if p.name != who.name]
        return {"characters": _placed(scene, [(p, doing.get(p.name, "")) for p in seen]), "toward": who.name,
                "subject": spec.subject if not seen else ""}
    if framing == "reaction":
        return {"characters": _placed(scene, [(who, REACTING)]), "toward": who.name, "subject": ""}
    if framing == "over_the_shoulder":
        front = who or next((p for p in here if not shoulder or p.name != shoulder.name), None) \
            or _other(scene, spec, [shoulder] if shoulder else [], number, framing)
        back = shoulder or _other(scene, spec, [front], number, framing)
        if back.name == front.name:
            raise CorrectionError(f"frame {number}: over the shoulder takes two people, one facing the camera and "
                                  "one with their back to it")
        people = [(front, _own_action(doing.get(front.name))), (back, SEEN_FROM_BEHIND)]
        return {"characters": _placed(scene, people), "toward": back.name, "subject": ""}
    wanted = {"single": 1, "two_shot": 2, "group": 3}[framing]
    chosen = ([who] if who else []) + [p for p in here if not who or p.name != who.name]
    # a group takes whoever the scene has, up to three; a two-shot needs a second person (_other says so)
    while len(chosen) < (wanted if framing == "two_shot" else min(wanted, len(scene.characters))) or not chosen:
        chosen.append(_other(scene, spec, chosen, number, framing))
    people = [(p, _own_action(doing.get(p.name))) for p in chosen[:wanted]]
    return {"characters": _placed(scene, people), "toward": "", "subject": ""}


def _own_action(action: str | None) -> str:
    """What someone keeps doing when the framing changes: their own action, not one a framing gave them."""
    return action if action and action not in (REACTING, SEEN_FROM_BEHIND, BACK_TO_CAMERA) else LOOKS_ON


def _behind(scene: Scene, spec: FrameSpec, command: SetCamera, number: int) -> list[Placement]:
    who = _find(scene, command.who, number)
    if who is None and len(spec.characters) != 1:
        raise CorrectionError(f'frame {number}: say who is seen from behind, e.g. "frame {number}: '
                              f'{scene.characters[0].shown if scene.characters else "Kaito"} from behind"')
    name = who.name if who else spec.characters[0].name
    if name not in [c.name for c in spec.characters]:
        shown = ", ".join(p.shown for p in scene.characters if p.name in {c.name for c in spec.characters})
        raise CorrectionError(f"frame {number}: {who.shown} is not in the frame" + (f", only {shown}" if shown
                                                                                      else ", nobody is"))
    return [c.model_copy(update={"action": BACK_TO_CAMERA}) if c.name == name else c for c in spec.characters]


def set_camera(scene: Scene, frame: Frame, number: int, command: SetCamera, planner: Planner) -> tuple[Frame, str]:
    """Give the frame another framing, angle or movement (or stage someone from behind), and say what it is now."""
    spec = frame.spec
    update: dict = {key: value for key, value in (("angle", command.angle), ("movement", command.movement))
                    if value}
    shot = BY_SLUG[spec.shot_type]
    if command.framing:
        update |= {"framing": command.framing, **_framed(scene, spec, command, number)}
        if command.framing == "insert":
            shot = BY_NUMBER[9] if shot.rank > 2 else shot
            if not update["subject"]:
                raise CorrectionError(f'frame {number}: say what the insert shows, e.g. "frame {number}: insert of '
                                      'the letter"')
        elif shot.rank == 0:
            shot = BY_SLUG["medium_close_up"] if command.framing != "group" else BY_SLUG["medium"]
    if command.behind:
        update["characters"] = _behind(scene, spec.model_copy(update=update), command, number)
    new = spec.model_copy(update=update)
    changed = _restaged(scene, spec, new, shot, planner)
    shown = {p.name: p.shown for p in scene.characters}
    words = camera_words(new.framing, new.angle, new.movement, shown.get(new.toward, new.toward), new.subject)
    note = f"frame {number} is now {shot.spoken}" + (f", {words}" if words else "")
    if command.behind:
        note += ", " + ", ".join(shown.get(c.name, c.name) for c in new.characters
                                 if c.action == BACK_TO_CAMERA) + " seen from behind"
    return frame.model_copy(update={"spec": changed}), note


def hold(scene: Scene, frame: Frame, number: int, command: Hold, planner: Planner) -> tuple[Frame, str]:
    """Hold the frame half as long again (or two thirds as long) in the animatic."""
    low, high = DURATION_RANGE
    was = duration(frame)
    seconds = round(min(high, max(low, was * 1.5 if command.longer else was / 1.5)), 1)
    if seconds == was:
        edge = "longest" if command.longer else "shortest"
        raise CorrectionError(f"frame {number} holds for {was:g} s, already the {edge} hold there is")
    return (frame.model_copy(update={"duration": seconds}),
            f"frame {number} now holds for {seconds:g} s in the animatic (was {was:g} s)")
