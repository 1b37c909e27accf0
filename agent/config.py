"""Turn front-end options into the graph's Context: which planner and renderer, and which model library."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from graphs.context import Context
from graphs.planner import RulesPlanner
from graphs.state import Scene
from tools.diffusion import DiffusionRenderer
from tools.hub import ModelSpec, hub_reachable
from tools.library import Library, LibraryError, find_library, is_hub_id, load_library
from tools.sketch import SketchRenderer

PLANNERS = ("auto", "rules", "openai")
RENDERERS = ("auto", "sketch", "diffusers")


class ConfigError(ValueError):
    """An option the operator must change; the message says what is expected."""


@dataclass
class Choice:
    """The context to run with, and a one-line notice when auto fell back to something else."""

    context: Context
    notice: str = ""


def read_library(library: Path | None, scene_file: Path, scene: Scene) -> Library | None:
    """Return the library from --library, else library.toml beside the scene, with the scene's own LoRAs added."""
    path = library or find_library(scene_file)
    if path is None:
        return None
    loaded = load_library(path)
    for person in scene.characters:
        trained = loaded.classes.get(person.name)
        if trained is not None and trained.lower() != person.class_word.lower():
            raise LibraryError(f"{path}: characters.{person.name}.class is {trained!r} but the scene says "
                               f"{person.class_word!r}; expected the class word the LoRA was trained with")
    return loaded.with_cast({c.name: c.lora for c in scene.characters if c.lora})


def _diffusers(library: Library, allow_pickle: bool) -> DiffusionRenderer:
    spec = ModelSpec(base=library.base, config=library.config, memory=library.memory, allow_pickle=allow_pickle)
    return DiffusionRenderer(spec, base_negative=library.negative)


def make_context(planner: str = "auto", renderer: str = "auto", library: Library | None = None,
                 allow_pickle: bool = False) -> Choice:
    """Return the Context for the chosen planner and renderer names.

    `renderer="auto"` uses diffusers when the library's checkpoint is reachable (a local path, the
    local hub cache, or the network) and the sketch renderer otherwise, saying so in the notice.
    """
    if planner not in PLANNERS:
        raise ConfigError(f"--planner: expected one of {', '.join(PLANNERS)}, got {planner!r}")
    if renderer not in RENDERERS:
        raise ConfigError(f"--renderer: expected one of {', '.join(RENDERERS)}, got {renderer!r}")
    if planner == "openai":
        raise ConfigError("--planner openai: the OpenAI planner is not part of this version yet; use rules")
    rules = RulesPlanner()
    if renderer == "sketch":
        return Choice(Context(planner=rules, renderer=SketchRenderer(), library=library))
    if library is None:
        if renderer == "diffusers":
            raise ConfigError("--renderer diffusers: no model library; expected --library FILE or a "
                              "library.toml beside the scene naming the checkpoint")
        return Choice(Context(planner=rules, renderer=SketchRenderer()),
                      "no model library (library.toml) found, so frames are drawn by the sketch renderer")
    if renderer == "auto" and is_hub_id(library.base) and not hub_reachable(library.base):
        return Choice(Context(planner=rules, renderer=SketchRenderer(), library=library),
                      f"checkpoint {library.base} is neither on disk nor reachable, so frames are drawn by "
                      "the sketch renderer")
    return Choice(Context(planner=rules, renderer=_diffusers(library, allow_pickle), library=library))


__all__ = ["Choice", "ConfigError", "make_context", "read_library"]
