"""Turn one scene of a Fountain screenplay into a Scene the planners can storyboard (fountain_script reads the file).

The heading gives the setting and the light, the action paragraphs become the description, each cue and its
lines become a Speech placed after the description sentence it follows, and each speaker joins the cast.
Every problem is a SceneError of one line that names the file.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from agent.errors import SceneError
from agent.scenes.fountain_script import DASH, LIGHT, SAME_TIME, ScriptScene, bare_time, read_script, words
from agent.scenes.scene_file import is_token, parse_scene, text_fields, token_problem
from graphs.planning.beats import split_sentences
from graphs.state import Scene, Speech
from prompts.vocabulary import PRONOUNS
from tools.files.roots import ENV, Roots, env_roots
from tools.files.toml_file import read_toml

FEWEST_FRAMES, MOST_FRAMES = 3, 12  # bounds of the frame count worked out from a scene's size
CAST_KEYS = {"token", "class", "lora", "description"}


def read_screenplay(path: Path) -> list[ScriptScene]:
    """Return the scenes of a Fountain file; anything before the first heading is ignored."""
    return read_script(path)[1]


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
    metadata, scenes = read_script(path)
    script = _pick(path, scenes, number)
    cast = read_cast(cast_file) if cast_file is not None else {}
    description, dialogue = _story(script)
    title = words(re.sub(r"[*_]", "", str(metadata.get("title", ""))))
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
    parts = [part for part in (words(re.sub(r"\(.*?\)", "", p)).lower() for p in DASH.split(scene.place)) if part]
    if len(parts) < 2:
        return _with_article(parts[0]) if parts else ""
    general = parts[0] if " " in parts[0] else _with_article(parts[0])  # "elsinore castle", "the house"
    return f"{_with_article(parts[-1])} {'in' if scene.int_ext == 'INT' else 'at'} {general}"


def lighting_of(scene: ScriptScene, scenes: list[ScriptScene]) -> str:
    """Light for the heading's time in the rules planner's phrases (moonlight for night outside); CONTINUOUS or
    LATER look back through `scenes` (the whole script); "" when unknown, so the planner reads the description."""
    for earlier in reversed(scenes[:scene.number]):
        time = bare_time(earlier.time)
        if time in LIGHT:
            light = LIGHT[time]
            return "cold moonlight" if light == "dim night light" and scene.int_ext == "EXT" else light
        if time not in SAME_TIME:
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


def _with_article(phrase: str) -> str:
    first = phrase.split()[0]
    return phrase if first in ("a", "an", "the") or first.endswith("'s") or first[0].isdigit() else f"the {phrase}"


def _key(name: str) -> str:
    return " ".join(name.upper().split())
