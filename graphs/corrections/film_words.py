"""Reading a frame correction said the way a crew says it: "tighter", "pull back", "two-shot", "OTS on Tomas",
"POV of Mara", "reaction shot of Mara", "low angle", "from behind", "push in", "hold longer", "insert of the letter".

Several may come in one message, joined by commas or "and" ("frame 3: tighter, low angle and push in").
"""

from __future__ import annotations

import re

from graphs.commands import Command, Hold, Resize, SetCamera
from graphs.corrections.phrasing import FLAGS

_NAME = r"(?P<who>[^\W\d_][\w'’\-]*?)"
_POSSESSIVE = r"(?:['’]s|['’])"
_STEPS = {"one": 1, "a": 1, "1": 1, "two": 2, "2": 2, "three": 3, "3": 3}
_SIZE = re.compile(r"^(?:(?:make\s+it|go|get|move|frame\s+it|cut|bring\s+it)\s+)?"
                   r"(?:(?P<much>much|a\s+lot|way)\s+|(?:a\s+)?(?:bit|little|touch|tad)\s+|"
                   r"(?P<count>one|two|three|[123])\s+steps?\s+)?"
                   r"(?P<way>tighter|closer|in\s+closer|nearer|wider|looser|pull\s+back|back\s+off|further\s+back)"
                   r"(?:\s+(?:on\s+(?:it|this|that|them|him|her)|in))?$", FLAGS)
_ANGLE = re.compile(r"^(?:(?:from|at|use|with)\s+)?(?:an?\s+)?(?P<angle>low|high|overhead|top[\s-]?down|"
                    r"bird['’]?s[\s-]eye(?:\s+view)?|dutch|canted|tilted|eye[\s-]level|worm['’]?s[\s-]eye)"
                    r"(?:\s+(?:angle|camera|shot|view))*$|^(?:(?:shoot|shot|seen)\s+)?from\s+(?P<side>above|below)$|"
                    r"^looking\s+(?P<look>up|down)$", FLAGS)
_ANGLES = {"low": "low", "high": "high", "overhead": "overhead", "top": "overhead", "bird": "overhead",
           "dutch": "dutch", "canted": "dutch", "tilted": "dutch", "eye": "eye_level", "worm": "low",
           "above": "high", "down": "high", "below": "low", "up": "low"}
_MOVE = re.compile(r"^(?:(?:a|the|slow(?:ly)?|camera|with\s+a|use\s+a)\s+)*(?P<move>push(?:\s+|-)?in|dolly\s+in|"
                   r"move\s+in|creep\s+in|pull(?:\s+|-)?out|dolly\s+(?:out|back)|pan(?:ning)?|tilt(?:ing)?(?:\s+up|"
                   r"\s+down)?|track(?:ing)?|follow\s+(?:it|them|him|her)|hand[\s-]?held|shaky(?:\s+cam)?|static|"
                   r"locked[\s-]off|still\s+camera|no\s+(?:camera\s+)?(?:movement|move))"
                   r"(?:\s+(?:shot|camera|move|movement))?$", FLAGS)
_MOVES = {"push": "push_in", "dolly in": "push_in", "move": "push_in", "creep": "push_in", "pull": "pull_out",
          "dolly": "pull_out", "pan": "pan", "tilt": "tilt", "track": "tracking", "follow": "tracking",
          "hand": "handheld", "shaky": "handheld", "static": "static", "locked": "static", "still": "static",
          "no": "static"}
_OTS = r"(?:ots|o\.t\.s\.?|over[\s-]the[\s-]shoulder)(?:\s+shot)?"
_FRAMINGS: list[tuple[re.Pattern, str, str]] = [
    (re.compile(rf"^(?:an?\s+)?{_OTS}(?:\s+(?:on|onto|toward|towards|at|looking\s+at)\s+{_NAME})?$", FLAGS),
     "over_the_shoulder", "who"),
    (re.compile(rf"^(?:an?\s+)?(?:{_OTS}\s+(?:of|from\s+behind|past)\s+|over\s+){_NAME}(?:{_POSSESSIVE}\s+"
                r"shoulder)?$", FLAGS), "over_the_shoulder", "shoulder"),
    (re.compile(rf"^(?:an?\s+)?(?:pov|p\.o\.v\.?|point[\s-]of[\s-]view)(?:\s+shot)?(?:\s+(?:of|from|through)\s+"
                rf"{_NAME})?$", FLAGS), "pov", "who"),
    (re.compile(rf"^{_NAME}{_POSSESSIVE}\s+(?:pov|point[\s-]of[\s-]view)(?:\s+shot)?$", FLAGS), "pov", "who"),
    (re.compile(rf"^(?:an?\s+)?reaction(?:\s+shot)?(?:\s+(?:of|on|from|for)\s+{_NAME})?$", FLAGS), "reaction", "who"),
    (re.compile(rf"^{_NAME}{_POSSESSIVE}\s+reaction(?:\s+shot)?$", FLAGS), "reaction", "who"),
    (re.compile(rf"^(?:an?\s+)?(?:two[\s-]?shot|2[\s-]?shot)(?:\s+(?:with|of|and)\s+{_NAME})?$", FLAGS),
     "two_shot", "who"),
    (re.compile(r"^(?:an?\s+)?group(?:\s+shot)?$", FLAGS), "group", "who"),
    (re.compile(rf"^(?:an?\s+)?single(?:\s+shot)?(?:\s+(?:on|of)\s+{_NAME})?$", FLAGS), "single", "who"),
]
_INSERT = re.compile(r"^(?:an?\s+)?(?:insert|cutaway|detail)(?:\s+shot)?\s+(?:of|on)\s+(?P<what>.+)$", FLAGS)
_BEHIND = re.compile(rf"^(?:(?:shoot|show|see|film|have)\s+(?:{_NAME}\s+)?)?(?:seen\s+)?"
                     rf"(?:from\s+(?:behind|the\s+back)|"
                     rf"(?:from\s+)?behind)(?:\s+{_NAME.replace('who', 'whom')})?$", FLAGS)
_BEHIND_NAMED = re.compile(rf"^{_NAME}\s+(?:seen\s+|shot\s+)?from\s+(?:behind|the\s+back)$", FLAGS)
_HOLD = re.compile(r"^(?:hold(?:\s+(?:it|this|that|the\s+frame|the\s+shot|on\s+it))?(?:\s+for)?\s+"
                   r"(?:a\s+(?:bit|little)\s+)?"
                   r"(?P<way>longer|shorter|less)|(?:a\s+(?:bit|little)\s+)?(?P<bare>longer|shorter)(?:\s+hold)?|"
                   r"(?:linger|stay)(?:\s+(?:on\s+it|longer))?)$", FLAGS)
_JOINS = re.compile(r"\s*(?:,|;|\band\b|\bwith\s+an?\b|\bplus\b)\s*", re.IGNORECASE)


def _size(number: int, match: re.Match) -> Command:
    wider = match.group("way").lower().split()[0] in ("wider", "looser", "pull", "back", "further")
    steps = 2 if match.group("much") else _STEPS.get((match.group("count") or "one").lower(), 1)
    return Resize(frame=number, steps=steps if wider else -steps)


def _camera(number: int, text: str) -> Command | None:
    """One piece of camera talk as a command, or None."""
    if match := _SIZE.match(text):
        return _size(number, match)
    if match := _ANGLE.match(text):
        word = (match.group("angle") or match.group("side") or match.group("look")).lower()
        return SetCamera(frame=number, angle=next(v for k, v in _ANGLES.items() if word.startswith(k)))
    if match := _MOVE.match(text):
        move = " ".join(match.group("move").lower().replace("-", " ").split())
        return SetCamera(frame=number, movement=next(v for k, v in _MOVES.items() if move.startswith(k)))
    if match := _INSERT.match(text):
        return SetCamera(frame=number, framing="insert", subject=match.group("what").strip())
    if match := _BEHIND.match(text) or _BEHIND_NAMED.match(text):
        return SetCamera(frame=number, behind=True, who=next((v for v in match.groups() if v), ""))
    if match := _HOLD.match(text):
        way = (match.group("way") or match.group("bare") or "longer").lower()
        return Hold(frame=number, longer=way == "longer")
    for pattern, framing, role in _FRAMINGS:
        if match := pattern.match(text):
            who = next((v for v in match.groups() if v), "")
            return SetCamera(frame=number, framing=framing, **{role: who})
    return None


def film_commands(number: int, text: str) -> list[Command] | None:
    """The commands camera talk about frame `number` asks for, or None when `text` is not all camera talk."""
    text = " ".join(text.split()).strip(" .!")
    whole = _camera(number, text)
    if whole is not None:
        return [whole]
    parts = [p for p in _JOINS.split(text) if p]
    if len(parts) < 2:
        return None
    commands = [_camera(number, part) for part in parts]
    return None if any(c is None for c in commands) else _merged(commands)


def _merged(commands: list[Command]) -> list[Command]:
    """Fold the SetCamera commands of one message into one, so the frame is staged once."""
    cameras = [c for c in commands if isinstance(c, SetCamera)]
    if len(cameras) < 2:
        return commands
    fields: dict = {}
    for camera in cameras:
        fields.update(camera.model_dump(exclude_defaults=True, exclude={"kind"}))
    return [c for c in commands if not isinstance(c, SetCamera)] + [SetCamera(**fields)]
