"""Read a Fountain screenplay into its scenes as written: headings, action paragraphs and speeches.

fountain-py does the parsing; this module works around its gaps (line ends, comments above the title page,
cues in capitals outside ASCII, a line under a cue taken for another cue) and gathers its elements into one
ScriptScene per heading. Turning a scene into a storyboard's Scene is screenplay.py's work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from fountain import ElementType, FountainParser

from agent.errors import SceneError
from graphs.planning.beats import split_sentences
from tools.errors import FileRefused
from tools.files.bounded import SCREENPLAY_LIMIT, read_bytes
from tools.files.text import clean

_PREFIX = re.compile(r"^(INT\.?\s*/\s*EXT|I/E|INT|EXT|EST)(?:\.|\s)\s*", re.IGNORECASE)
_KINDS = {"INT": "INT", "EXT": "EXT", "EST": "EXT", "INT/EXT": "INT/EXT", "I/E": "INT/EXT"}
DASH = re.compile(r"\s+[-\u2013\u2014]{1,2}\s+")
"""The dash between the parts of a heading: "ELSINORE CASTLE - PLATFORM - NIGHT"."""
LIGHT = {time: light for light, times in (
    ("soft daylight", "DAY AFTERNOON"), ("soft morning light", "MORNING"), ("hard midday sun", "NOON MIDDAY"),
    ("dim night light", "NIGHT MIDNIGHT"), ("warm sunset light", "EVENING DUSK SUNSET TWILIGHT"),
    ("pale dawn light", "DAWN SUNRISE DAYBREAK")) for time in times.split()}
"""A heading's time of day -> the light in the rules planner's phrases."""
SAME_TIME = {"CONTINUOUS", "LATER", "MOMENTS LATER", "A MOMENT LATER", "SECONDS LATER", "SAME", "SAME TIME"}
"""Times that say the light is that of the scene before."""
_LEADING_COMMENTS = re.compile(r"\A(?:\s*(?:/\*.*?\*/|\[\[.*?\]\]))+", re.DOTALL)
_SPEECH = {ElementType.CHARACTER, ElementType.DIALOGUE, ElementType.PARENTHETICAL}


@dataclass
class ScriptSpeech:
    """One speech: the name as written (without extensions), its extensions ("O.S."), how and what is said."""

    character: str
    extensions: list[str]
    parenthetical: str
    text: str
    after: int = -1  # index of the scene's last action sentence before the speech; -1 when none comes before


@dataclass
class ScriptScene:
    """One scene of a screenplay, as written."""

    number: int  # position in the script, from 1
    label: str  # the scene number the heading writes ("#12#" gives "12"), else str(number)
    heading: str
    int_ext: str  # "INT", "EXT", "INT/EXT", or "" for a forced heading such as ".FLASHBACK"
    place: str  # the heading without prefix and time: "ELSINORE CASTLE - PLATFORM"
    time: str  # "NIGHT", "DAY", "CONTINUOUS"... or ""
    action: list[str] = field(default_factory=list)
    speeches: list[ScriptSpeech] = field(default_factory=list)

    @property
    def characters(self) -> list[str]:
        """Names of the speakers, in the order they first speak."""
        return list(dict.fromkeys(speech.character for speech in self.speeches))


class _Parser(FountainParser):
    """fountain-py 0.3.0, except that the line straight under a cue is never a rival cue: a cue needs a blank
    line above it, so BOB / NO. / (blank) / He leaves. is BOB saying "NO." rather than two lines of action."""

    def _line_is_cue(self, line_idx: int) -> bool:
        return False


def read_script(path: Path) -> tuple[dict, list[ScriptScene]]:
    """Return the title page's fields and the scenes of a Fountain file; raises SceneError naming the file."""
    try:
        data = read_bytes(path, SCREENPLAY_LIMIT, "Fountain screenplay")
    except FileNotFoundError:
        raise SceneError(f"{path}: no such screenplay file") from None
    except FileRefused as error:
        raise SceneError(str(error)) from None
    except OSError as error:
        raise SceneError(f"{path}: cannot read the file ({error.strerror or error})") from None
    if b"\0" in data:
        raise SceneError(f"{path}: not a text file; expected a Fountain screenplay")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise SceneError(f"{path}: not UTF-8 text (bad byte at offset {error.start}); save it as UTF-8") from None
    document = _Parser().parse(_prepare(clean(text)))
    scenes = _scenes(document.elements)
    if not scenes:
        raise SceneError(f"{path}: no scene headings found; expected a line such as \"INT. KITCHEN - NIGHT\" "
                         "with a blank line before and after it")
    return document.metadata, scenes


def _prepare(text: str) -> str:
    """Work around fountain-py: CR and CRLF line ends, comments above the title page, non-ASCII cues."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _LEADING_COMMENTS.sub(lambda found: "\n" * found.group(0).count("\n"), text)
    lines = text.split("\n")
    for i in range(1, len(lines) - 1):
        name = re.sub(r"(\s*\([^)]*\))*\s*\^?$", "", lines[i].strip())
        if (name and not name.isascii() and name == name.upper() and any(c.isupper() for c in name)
                and name[0].isalnum() and all(c.isalnum() or c in " .'#-_" for c in name)
                and not lines[i - 1].strip() and lines[i + 1].strip()):
            lines[i] = "@" + lines[i].strip()  # the parser knows only ASCII capitals; force the cue (ZOË)
    return "\n".join(lines)


def _scenes(elements: list) -> list[ScriptScene]:
    scenes: list[ScriptScene] = []
    last = -2  # line of the latest speech line: a lyric right under it is sung in that speech
    for element in elements:
        kind = element.type
        if kind in (ElementType.NOTE, ElementType.BONEYARD):
            continue  # neither shown nor the end of a speech
        if kind is ElementType.SCENE_HEADING:
            scenes.append(_heading(element, len(scenes) + 1))
        elif scenes and (kind in _SPEECH or (kind is ElementType.LYRICS and element.line_number == last + 1)):
            _speak(scenes[-1], element)
            last = element.line_number
        elif scenes and kind is ElementType.DUAL_DIALOGUE:
            for part in [part for column in element.dual_dialogue_columns() for part in column]:
                _speak(scenes[-1], part)
        elif scenes and kind is ElementType.ACTION and (paragraph := words(element.text)):
            scenes[-1].action.append(paragraph + "." if paragraph[-1].isalnum() else paragraph)
    for scene in scenes:  # a closing parenthetical joins the words before it; a cue that says nothing goes
        kept: list[ScriptSpeech] = []
        for speech in scene.speeches:
            if speech.text:
                kept.append(speech)
            elif speech.parenthetical and kept and kept[-1].character == speech.character:
                kept[-1].text += f" ({speech.parenthetical})"
        scene.speeches = kept
    return scenes


def _heading(element, number: int) -> ScriptScene:
    heading = words(element.text)
    prefix = _PREFIX.match(heading)
    kind = _KINDS.get(re.sub(r"[.\s]", "", prefix.group(1)).upper(), "") if prefix else ""
    parts = [part for part in DASH.split(heading[prefix.end():] if prefix else heading) if part.strip()]
    time = bare_time(parts.pop()) if len(parts) > 1 and bare_time(parts[-1]) in LIGHT.keys() | SAME_TIME else ""
    return ScriptScene(number=number, label=str(element.metadata.get("scene_number") or number), heading=heading,
                       int_ext=kind, place=" - ".join(parts), time=time)


def _speak(scene: ScriptScene, element) -> None:
    """Add a cue, a line or a parenthetical to the scene's speeches."""
    if element.type is ElementType.CHARACTER:
        extension = str(element.metadata.get("extension") or "")  # stacked ones come as "O.S.) (CONT'D"
        extensions = [part.strip() for part in re.split(r"\)\s*\(", extension) if part.strip()]
        after = len(split_sentences(" ".join(scene.action))) - 1
        scene.speeches.append(ScriptSpeech(words(element.text), extensions, "", "", after))
    elif scene.speeches and element.type is ElementType.PARENTHETICAL:
        speech, how = scene.speeches[-1], words(element.text.strip()[1:-1])
        if speech.text:  # a direction in the middle of a speech starts a new piece of it
            scene.speeches.append(ScriptSpeech(speech.character, list(speech.extensions), how, "", speech.after))
        else:
            speech.parenthetical = f"{speech.parenthetical}; {how}" if speech.parenthetical else how
    elif scene.speeches:
        scene.speeches[-1].text = words(f"{scene.speeches[-1].text} {element.text}")


def bare_time(time: str) -> str:
    """A heading's time in capitals, without notes in brackets: "night (later)" gives "NIGHT"."""
    return words(re.sub(r"\(.*?\)", "", time)).upper()


def words(text: str) -> str:
    """The text with every run of white space made one space."""
    return " ".join(text.split())
