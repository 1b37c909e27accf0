"""Read a Fountain screenplay and turn one of its scenes into a Scene the planners can storyboard.

The heading gives the setting and the light, the action paragraphs become the description, each cue and its
lines become a Speech placed after the description sentence it follows, and each speaker joins the cast.
Every problem is a SceneError of one line that names the file.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from fountain import ElementType, FountainParser

from agent.scenes.scene_file import SceneError, is_token, parse_scene, text_fields, token_problem
from graphs.planning.beats import split_sentences
from graphs.state import Scene, Speech
from prompts.vocabulary import PRONOUNS
from tools.files.bounded import SCREENPLAY_LIMIT, FileRefused, read_bytes
from tools.files.roots import ENV, Roots, env_roots
from tools.files.text import clean
from tools.files.toml_file import read_toml

FEWEST_FRAMES, MOST_FRAMES = 3, 12  # bounds of the frame count worked out from a scene's size
CAST_KEYS = {"token", "class", "lora", "description"}
_PREFIX = re.compile(r"^(INT\.?\s*/\s*EXT|I/E|INT|EXT|EST)(?:\.|\s)\s*", re.IGNORECASE)
_KINDS = {"INT": "INT", "EXT": "EXT", "EST": "EXT", "INT/EXT": "INT/EXT", "I/E": "INT/EXT"}
_DASH = re.compile(r"\s+[-\u2013\u2014]{1,2}\s+")
_LIGHT = {time: light for light, times in (
    ("soft daylight", "DAY AFTERNOON"), ("soft morning light", "MORNING"), ("hard midday sun", "NOON MIDDAY"),
    ("dim night light", "NIGHT MIDNIGHT"), ("warm sunset light", "EVENING DUSK SUNSET TWILIGHT"),
    ("pale dawn light", "DAWN SUNRISE DAYBREAK")) for time in times.split()}  # the rules planner's phrases
_SAME_TIME = {"CONTINUOUS", "LATER", "MOMENTS LATER", "A MOMENT LATER", "SECONDS LATER", "SAME", "SAME TIME"}
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


def read_screenplay(path: Path) -> list[ScriptScene]:
    """Return the scenes of a Fountain file; anything before the first heading is ignored."""
    return _read(path)[1]


def scene_from_screenplay(path: Path, number: int | str | None, cast_file: Path | None = None,
                          frames: int | None = None) -> Scene:
    """Return one scene of a Fountain file as a Scene with its dialogue, validated like a scene file.

    `number` is compared with each scene's label: the number written on the heading (#12#), or for a heading
    without one its position from 1, so in a script without scene numbers it is simply the position; None
    takes the first scene.
    `cast_file` (read_cast) gives speakers tokens, class words, LoRAs and descriptions, and adds the characters
    it names that the scene's action mentions. `frames` overrides the count worked out from the scene's size:
    one per action sentence and one per two speeches, kept within FEWEST_FRAMES..MOST_FRAMES.
    """
    metadata, scenes = _read(path)
    script = _pick(path, scenes, number)
    cast = read_cast(cast_file) if cast_file is not None else {}
    description, dialogue = _story(script)
    title = _words(re.sub(r"[*_]", "", str(metadata.get("title", ""))))
    size = len(split_sentences(" ".join(script.action))) + (len(dialogue) + 1) // 2
    data = {"title": f"{title}: {script.heading}" if title else script.heading, "description": description,
            "frames": max(FEWEST_FRAMES, min(MOST_FRAMES, size)) if frames is None else frames,
            "setting": setting_of(script), "lighting": lighting_of(script, scenes),
            "characters": _cast_of(script, cast, description)}
    try:
        folders = [path.parent] + ([cast_file.parent] if cast_file is not None else [])
        roots = Roots(tuple(f.resolve() for f in folders) + env_roots(),
                      f"the screenplay's or cast file's folder (or a folder listed in {ENV})")
        scene = parse_scene(data, path.parent, roots)
    except SceneError as error:
        raise SceneError(f"{path}: scene {script.label}: {error}") from None
    return scene.model_copy(update={"dialogue": dialogue})


def setting_of(scene: ScriptScene) -> str:
    """Phrase the heading's place as a setting ("the platform at elsinore castle"); "" when it names none."""
    parts = [part for part in (_words(re.sub(r"\(.*?\)", "", p)).lower() for p in _DASH.split(scene.place)) if part]
    if len(parts) < 2:
        return _with_article(parts[0]) if parts else ""
    general = parts[0] if " " in parts[0] else _with_article(parts[0])  # "elsinore castle", "the house"
    return f"{_with_article(parts[-1])} {'in' if scene.int_ext == 'INT' else 'at'} {general}"


def lighting_of(scene: ScriptScene, scenes: list[ScriptScene]) -> str:
    """Light for the heading's time in the rules planner's phrases (moonlight for night outside); CONTINUOUS or
    LATER look back through `scenes` (the whole script); "" when unknown, so the planner reads the description."""
    for earlier in reversed(scenes[:scene.number]):
        time = _bare(earlier.time)
        if time in _LIGHT:
            light = _LIGHT[time]
            return "cold moonlight" if light == "dim night light" and scene.int_ext == "EXT" else light
        if time not in _SAME_TIME:
            return ""
    return ""


def read_cast(path: Path) -> dict[str, dict[str, str]]:
    """Read a cast file of [characters.NAME] tables of token, class, lora and description, all optional.

    Returns NAME in capitals -> the four fields ("" when absent; lora resolved against the cast file's folder).
    """
    data = read_toml(path, SceneError, "cast")
    try:
        unknown = sorted(set(data) - {"characters"})
        if unknown:
            raise SceneError(f"unknown key {unknown[0]!r}: expected only [characters.NAME] tables")
        if not isinstance(data.get("characters", {}), dict):
            raise SceneError("characters: expected tables such as [characters.HORATIO]")
        cast: dict[str, dict[str, str]] = {}
        for name, entry in data.get("characters", {}).items():
            fields = text_fields(entry, CAST_KEYS, f"characters.{name}.")
            token = fields["token"]
            if token and not is_token(token):
                raise SceneError(f"characters.{name}.token: expected one space-free token such as \"horatiosk\", "
                                 f"got {token!r}")
            if token and (problem := token_problem(token)):
                raise SceneError(f"characters.{name}.token: {token!r} {problem}; expected a made-up token such as "
                                 "\"horatiosk\" that means nothing else in a prompt")
            if token and token in (known["token"] for known in cast.values()):
                raise SceneError(f"characters.{name}.token: {token!r} is already another character's token")
            roots = Roots.around(path.parent, "the cast file's folder")
            if fields["lora"] and not roots.holds(path.parent / fields["lora"]):
                raise SceneError(roots.refusal(f"characters.{name}.lora", fields["lora"]))
            fields["lora"] = str((path.parent / fields["lora"]).resolve()) if fields["lora"] else ""
            cast[_key(name)] = fields
        return cast
    except SceneError as error:
        raise SceneError(f"{path}: {error}") from None


def _read(path: Path) -> tuple[dict, list[ScriptScene]]:
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
        elif scenes and kind is ElementType.ACTION and (paragraph := _words(element.text)):
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
    heading = _words(element.text)
    prefix = _PREFIX.match(heading)
    kind = _KINDS.get(re.sub(r"[.\s]", "", prefix.group(1)).upper(), "") if prefix else ""
    parts = [part for part in _DASH.split(heading[prefix.end():] if prefix else heading) if part.strip()]
    time = _bare(parts.pop()) if len(parts) > 1 and _bare(parts[-1]) in _LIGHT.keys() | _SAME_TIME else ""
    return ScriptScene(number=number, label=str(element.metadata.get("scene_number") or number), heading=heading,
                       int_ext=kind, place=" - ".join(parts), time=time)


def _speak(scene: ScriptScene, element) -> None:
    """Add a cue, a line or a parenthetical to the scene's speeches."""
    if element.type is ElementType.CHARACTER:
        extension = str(element.metadata.get("extension") or "")  # stacked ones come as "O.S.) (CONT'D"
        extensions = [part.strip() for part in re.split(r"\)\s*\(", extension) if part.strip()]
        after = len(split_sentences(" ".join(scene.action))) - 1
        scene.speeches.append(ScriptSpeech(_words(element.text), extensions, "", "", after))
    elif scene.speeches and element.type is ElementType.PARENTHETICAL:
        speech, how = scene.speeches[-1], _words(element.text.strip()[1:-1])
        if speech.text:  # a direction in the middle of a speech starts a new piece of it
            scene.speeches.append(ScriptSpeech(speech.character, list(speech.extensions), how, "", speech.after))
        else:
            speech.parenthetical = f"{speech.parenthetical}; {how}" if speech.parenthetical else how
    elif scene.speeches:
        scene.speeches[-1].text = _words(f"{scene.speeches[-1].text} {element.text}")


def _pick(path: Path, scenes: list[ScriptScene], number: int | str | None) -> ScriptScene:
    if number is None:
        return scenes[0]
    for scene in scenes:
        if scene.label.upper() == str(number).strip().upper():
            return scene
    listed = "; ".join(f"{s.label} {s.heading[:40]}" for s in scenes[:8]) + ("; ..." if len(scenes) > 8 else "")
    raise SceneError(f"{path}: no scene {number}; the script has {len(scenes)} "
                     f"scene{'s' if len(scenes) != 1 else ''}: {listed}")


def _story(script: ScriptScene) -> tuple[str, list[Speech]]:
    """Return the description and the speeches placed in it; with no action, one sentence per turn of speech."""
    if script.action:
        return " ".join(script.action), [Speech(character=s.character, text=s.text, parenthetical=s.parenthetical,
                                                after=s.after) for s in script.speeches]
    sentences: list[str] = []
    dialogue = []
    for before, said in zip([None] + script.speeches, script.speeches):
        if before is None or said.character != before.character:
            name = said.character.title()
            sentences.append(f"{name} answers {before.character.title()}." if before else f"{name} speaks.")
        dialogue.append(Speech(character=said.character, text=said.text, parenthetical=said.parenthetical,
                               after=len(split_sentences(" ".join(sentences))) - 1))
    return " ".join(sentences) or (setting_of(script) or script.heading).capitalize() + ".", dialogue


def _cast_of(script: ScriptScene, cast: dict[str, dict[str, str]], description: str) -> list[dict]:
    """Each speaker, then each cast-file character the action names, as a scene file's [[characters]] table."""
    names = script.characters
    names += [name for name in cast if name not in map(_key, names)
              and re.search(rf"(?<!\w){re.escape(name)}(?!\w)", description, re.IGNORECASE)]
    used = {cast[_key(name)]["token"] for name in names if _key(name) in cast} - {""}
    people = []
    for name in names:
        entry = cast.get(_key(name), {})
        token = entry.get("token") or _free_token(name, used)
        used.add(token)
        aliases = [a for a in dict.fromkeys([name.title(), name.upper(), name]) if not PRONOUNS.fullmatch(a)]
        people.append({"name": token, "class": entry.get("class") or "person",
                       "description": entry.get("description", ""), "lora": entry.get("lora", ""),
                       "aliases": aliases})
    return people


def _free_token(name: str, used: set[str]) -> str:
    """A space-free token from a name ("MRS. HUDSON" -> "mrshudson"), numbered when another character has it."""
    flat = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    base = re.sub(r"[^a-z0-9]", "", flat) or "person"
    token, n = (base, 2) if token_problem(base) is None else (f"{base}2", 3)  # a speaker called MAN or SHE
    while token in used:
        token, n = f"{base}{n}", n + 1
    return token


def _with_article(words: str) -> str:
    first = words.split()[0]
    return words if first in ("a", "an", "the") or first.endswith("'s") or first[0].isdigit() else f"the {words}"


def _key(name: str) -> str:
    return " ".join(name.upper().split())


def _bare(time: str) -> str:
    return _words(re.sub(r"\(.*?\)", "", time)).upper()


def _words(text: str) -> str:
    return " ".join(text.split())
