"""Read a scene file (TOML), the input contract, or a scene sent in a chat message, with one clear line for each mistake."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from agent.errors import SceneError
from graphs.commands import Refusal
from graphs.corrections.rules import interpret_rules
from graphs.state import Character, Scene
from prompts import vocabulary as vocab
from prompts.shot_types import find_shot
from tools.files.roots import Roots
from tools.files.text import clean
from tools.files.toml_file import read_toml

MAX_FRAMES = 200
"""The most frames one storyboard may have; a scene or command asking for more is refused."""
MAX_DESCRIPTION = 20_000
"""The longest scene description, in characters (about eight pages of prose); longer ones are refused."""
MAX_LINE = 200
"""The longest title, name, class word, style, setting or light, in characters."""
PROSE_FRAMES = 6
"""Frames planned for a scene sent as plain words in a chat message, unless the front-end is told a number."""
PROSE_WORDS = 5
"""The fewest words a plain-words message needs to be taken as a scene rather than as chatter."""
_TOML_LINE = re.compile(r"""^[ \t]*(\[\[?[ \t]*[\w".-]+[ \t]*\]\]?[ \t]*$|("[^"\n]*"|'[^'\n]*'|[A-Za-z_][\w.-]*)[ \t]*=)""",
                        re.MULTILINE)
_SCENE_KEYS = {"title", "description", "frames", "shots", "style", "setting", "lighting", "characters", "seed"}
_CHARACTER_KEYS = {"name", "class", "description", "lora", "aliases", "display"}
_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def _text(data: dict, key: str, where: str, required: bool = False, limit: int = MAX_LINE) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise SceneError(f"{where}{key}: expected text, got {type(value).__name__}")
    value = clean(value).strip()
    if required and not value:
        raise SceneError(f"{where}{key}: expected a non-empty text")
    if len(value) > limit:
        raise SceneError(f"{where}{key}: expected at most {limit:,} characters, got {len(value):,}")
    return value


def _check_keys(data: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise SceneError(f"{where}unknown key {unknown[0]!r}: expected one of {', '.join(sorted(allowed))}")


def text_fields(data: object, allowed: set[str], where: str) -> dict[str, str]:
    """Check a hand-written table whose values are all text (a cast entry, say) with the scene file's own checks.

    Returns every allowed key's text, stripped ("" when absent); raises SceneError starting with `where`.
    """
    if not isinstance(data, dict):
        raise SceneError(f"{where.rstrip('.')}: expected a table with keys among {', '.join(sorted(allowed))}")
    _check_keys(data, allowed, where)
    limits = {"description": MAX_DESCRIPTION, "lora": 4096}
    return {key: _text(data, key, where, limit=limits.get(key, MAX_LINE)) for key in allowed}


def is_token(name: str) -> bool:
    """Tell whether `name` can name a cast member: one space-free word of letters, digits, _ and -."""
    return bool(_TOKEN.match(name))


_SHORTHAND = {"cu", "ecu", "xcu", "mcu", "ms", "fs", "ls", "els", "xls"}
"""Shot-type abbreviations that are also people's names (Els) or too short to mistake; allowed as tokens."""


def token_problem(name: str) -> str | None:
    """Return why `name` cannot be a character's token, or None when it can.

    A token goes into every prompt before the class word, so it must not read as something else there: a
    pronoun ("he man walks in"), a shot-type word ("close_up"), a word for a person or a class word ("man"),
    or a bare number.
    """
    word = name.lower()
    if vocab.PRONOUNS.fullmatch(word):
        return "is a pronoun"
    if word.isdigit():
        return "is a number"
    if word not in _SHORTHAND and find_shot(word) is not None or word in ("shot", "frame", "panel"):
        return "is a shot-type word"
    if vocab.PERSON_NOUNS.fullmatch(word) or word in vocab.MALE_CLASSES | vocab.FEMALE_CLASSES:
        return "is a class word"
    return None


def _flat(name: str) -> str:
    """A name as people would say it: case and spacing ignored ("Mrs Hudson" is "MRS  HUDSON")."""
    return " ".join(name.casefold().split())


def _check_cast(cast: list[Character]) -> None:
    """Refuse a cast where one name could mean two characters: an alias given twice, or another's token."""
    owner: dict[str, int] = {}
    for index, person in enumerate(cast):
        seen = set()
        names = [("name", person.name), ("display", person.display)] + [("aliases", a) for a in person.aliases]
        for field, said in names:
            flat = _flat(said)
            if not flat or flat in seen:
                continue
            seen.add(flat)
            if flat in owner:
                raise SceneError(f"characters[{index}].{field}: {said!r} already names {cast[owner[flat]].name!r}; "
                                 "expected each name and alias to mean one character")
            owner[flat] = index


def _count(data: dict) -> tuple[int | None, list[int] | None]:
    frames, shots = data.get("frames"), data.get("shots")
    if shots is not None:
        if not isinstance(shots, list) or not shots:
            raise SceneError("shots: expected a non-empty list of shot numbers 1-9, such as [8, 6, 3, 9]")
        for i, number in enumerate(shots):
            if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= 9:
                raise SceneError(f"shots[{i}]: expected a shot number from 1 to 9, got {number!r}")
        if len(shots) > MAX_FRAMES:
            raise SceneError(f"shots: expected at most {MAX_FRAMES} frames, got {len(shots)}")
        return None, shots
    if frames is None:
        raise SceneError("frames: expected a number of frames (or a shots list), found neither")
    if isinstance(frames, bool) or not isinstance(frames, int) or frames < 1:
        raise SceneError(f"frames: expected a whole number of at least 1, got {frames!r}")
    if frames > MAX_FRAMES:
        raise SceneError(f"frames: expected at most {MAX_FRAMES}, got {frames}")
    return frames, None


def _character(data: object, index: int, folder: Path, roots: Roots) -> Character:
    where = f"characters[{index}]."
    if not isinstance(data, dict):
        raise SceneError(f"characters[{index}]: expected a table with name and class")
    _check_keys(data, _CHARACTER_KEYS, where)
    name = _text(data, "name", where, required=True)
    if not _TOKEN.match(name):
        raise SceneError(f"{where}name: expected one space-free token such as \"kaitoyosuke\", got {name!r}")
    if problem := token_problem(name):
        raise SceneError(f"{where}name: {name!r} {problem}; expected a made-up token such as \"kaitoyosuke\" "
                         "that means nothing else in a prompt")
    class_word = _text(data, "class", where, required=True)
    aliases = data.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise SceneError(f"{where}aliases: expected a list of names, such as [\"Kaito\"]")
    aliases = [_text({"alias": a}, "alias", where) for a in aliases]
    display = _text(data, "display", where)
    for key, alias in [("aliases", a) for a in aliases] + [("display", display)]:
        if vocab.PRONOUNS.fullmatch(alias.strip()):
            raise SceneError(f"{where}{key}: {alias!r} is a pronoun; pronouns are worked out from the scene, "
                             "expected a name such as \"Kaito\"")
    lora = _text(data, "lora", where, limit=4096)
    if lora and not roots.holds(folder / lora):
        raise SceneError(roots.refusal(f"{where}lora", lora))
    return Character(name=name, class_word=class_word, description=_text(data, "description", where,
                                                                         limit=MAX_DESCRIPTION),
                     lora=str((folder / lora).resolve()) if lora else None, aliases=[a for a in aliases if a],
                     display=" ".join(display.split()))


def _seed(data: dict) -> int | None:
    seed = data.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31):
        raise SceneError(f"seed: expected a whole number from 0 to {2**31 - 1}, got {seed!r}")
    return seed


def parse_scene(data: dict, folder: Path, roots: Roots | None = None) -> Scene:
    """Validate a scene already read from TOML; relative paths resolve against `folder`.

    LoRA files must lie inside `roots`: by default `folder` and the folders in SHOTSMITH_ROOTS.
    """
    _check_keys(data, _SCENE_KEYS, "")
    frames, shots = _count(data)
    people = data.get("characters", [])
    if not isinstance(people, list):
        raise SceneError("characters: expected a list of [[characters]] tables")
    roots = roots or Roots.around(folder, "the scene file's folder")
    cast = [_character(person, i, folder, roots) for i, person in enumerate(people)]
    names = [c.name.lower() for c in cast]
    if len(set(names)) != len(names):
        raise SceneError("characters: expected each name once, found a repeated name")
    _check_cast(cast)
    return Scene(title=_text(data, "title", "") or "Untitled scene",
                 description=_text(data, "description", "", required=True, limit=MAX_DESCRIPTION),
                 frames=frames, shots=shots,
                 style=_text(data, "style", ""), setting=_text(data, "setting", ""),
                 lighting=_text(data, "lighting", ""), characters=cast, seed=_seed(data))


def scene_from_message(text: str, folder: Path, frames: int | None = None, toml: bool | None = None,
                       roots: Roots | None = None) -> Scene | None:
    """Read a scene sent in a chat message: TOML, or plain words taken as the description.

    `toml` True reads the text as TOML only (an attached file, a ``` block); None takes it as TOML when a line
    looks like a TOML key or table. Plain words make a scene with no named cast and PROSE_FRAMES frames;
    `frames` overrides either count. Returns None for a message that is too short to be a scene or that asks
    something; raises SceneError for TOML that cannot be used. LoRA files it names must lie inside `roots`
    (default: `folder` and the folders in SHOTSMITH_ROOTS).
    """
    if len(text) > 2 * MAX_DESCRIPTION:
        raise SceneError(f"the message is {len(text):,} characters long; expected a scene of at most "
                         f"{MAX_DESCRIPTION:,} characters")
    text = clean(text)
    if toml or (toml is None and _TOML_LINE.search(text)):
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise SceneError(f"not valid TOML ({error}); expected lines such as description = \"...\"") from None
    elif len(text.split()) >= PROSE_WORDS and not text.rstrip().endswith("?"):
        words = " ".join(text.split())
        title = re.split(r"(?<=[.!?])\s", words, maxsplit=1)[0].rstrip(".!?")
        data = {"title": title if len(title) <= 60 else title[:59].rstrip() + "\u2026", "description": words,
                "frames": PROSE_FRAMES}
    else:
        return None
    if frames is not None:
        data.pop("shots", None)
        data["frames"] = frames
    return parse_scene(data, folder, roots)


def reads_as_correction(text: str) -> bool:
    """Tell whether a message reads as a correction ("frame 2: close-up", "undo"), so it is no scene to draw."""
    return not isinstance(interpret_rules(text)[0], Refusal)


def load_scene(path: Path, overrides: dict | None = None) -> Scene:
    """Read and validate a scene file; raise SceneError with one line naming what is wrong.

    `overrides` replaces keys from the file (the CLI's --frames and --shots); giving frames drops
    the file's shots list and giving shots drops its frame count.
    """
    data = read_toml(path, SceneError, "scene")
    for key in overrides or {}:
        if key in ("frames", "shots"):  # one way of sizing the storyboard replaces the other
            data.pop("shots" if key == "frames" else "frames", None)
    data.update(overrides or {})
    try:
        return parse_scene(data, path.parent)
    except SceneError as error:
        raise SceneError(f"{path}: {error}") from None
