"""Turn front-end options into the graph's Context: which planner and renderer, and which model library."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from agent.errors import ConfigError
from graphs.context import Context
from graphs.planning.llm_planner import ROUNDS, OpenAIPlanner
from graphs.planning.planner import RulesPlanner
from graphs.state import Scene
from tools.critique import DEFAULT_CLIP, ClipCritic, check_clip_folder
from tools.errors import LibraryError
from tools.llm import LLM, LLMConfig
from tools.models.hub import ModelSpec, hub_reachable
from tools.models.library import Library, find_library, is_hub_id, load_library
from tools.render.diffusion import DiffusionRenderer
from tools.render.sketch import SketchRenderer
from tools.repair.inpaint import Inpainter
from tools.repair.segment import Segmenter, guess_sam_type, sam_config

PLANNERS = ("auto", "rules", "openai")
RENDERERS = ("auto", "sketch", "diffusers")


@dataclass
class Choice:
    """The context to run with, and one-line notices for whatever auto fell back from."""

    context: Context
    notices: list[str] = field(default_factory=list)


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


def _critic(library: Library | None) -> tuple[ClipCritic | None, list[str]]:
    """Return the CLIP critic the library asks for (the default CLIP model when it names none)."""
    if library is None:
        return None, []
    name = library.clip or DEFAULT_CLIP
    if is_hub_id(name) and not hub_reachable(name, "config.json"):
        return None, [f"CLIP model {name} is neither on disk nor reachable, so frames are not scored "
                      "(set [model] clip in library.toml)"]
    check_clip_folder(name)  # a folder that cannot load is refused now, before anything is planned or drawn
    return ClipCritic(name), []


def _renderer(renderer: str, library: Library | None, allow_pickle: bool) -> tuple[object, list[str]]:
    if renderer == "sketch":
        return SketchRenderer(), []
    if library is None:
        if renderer == "diffusers":
            raise ConfigError("--renderer diffusers: no model library; expected --library FILE or a "
                              "library.toml beside the scene naming the checkpoint")
        return SketchRenderer(), ["no model library (library.toml) found, so frames are drawn by the sketch renderer"]
    if renderer == "auto" and is_hub_id(library.base) and not hub_reachable(library.base):
        return SketchRenderer(), [f"checkpoint {library.base} is neither on disk nor reachable, so frames are drawn "
                                  "by the sketch renderer"]
    return _diffusers(library, allow_pickle), []


def _segmenter(library: Library | None) -> Segmenter | None:
    """Return SAM as the library configures it, or None when it names no SAM checkpoint."""
    if library is None or library.sam is None:
        return None
    kind = library.sam_type or guess_sam_type(library.sam)
    if kind is None:
        raise LibraryError(f"model.sam_type: cannot tell the SAM size of {library.sam} from its name; expected "
                           "sam_type = \"vit_b\", \"vit_l\" or \"vit_h\"")
    return Segmenter(library.sam, sam_config(kind))


def make_planner(name: str = "auto", llm_model: str | None = None,
                 library: Library | None = None) -> RulesPlanner | OpenAIPlanner:
    """Return the planner for --planner: openai when asked (or, for auto, when a key or base URL is set)."""
    if name not in PLANNERS:
        raise ConfigError(f"--planner: expected one of {', '.join(PLANNERS)}, got {name!r}")
    table = library.llm if library else {}
    config = LLMConfig.from_env(llm_model, table)
    if name == "openai" and not config.configured:
        raise ConfigError("--planner openai: expected OPENAI_API_KEY or OPENAI_BASE_URL in the environment, or "
                          "base_url in library.toml's [llm] table (a base URL alone is enough for a local server)")
    if name == "openai" or (name == "auto" and config.configured):
        return OpenAIPlanner(LLM(config), rounds=int(table.get("rounds", ROUNDS)))
    return RulesPlanner()


def make_context(planner: str = "auto", renderer: str = "auto", library: Library | None = None,
                 allow_pickle: bool = False, llm_model: str | None = None) -> Choice:
    """Return the Context for the chosen planner and renderer names, with a CLIP critic when configured.

    `renderer="auto"` uses diffusers when the library's checkpoint is reachable (a local path, the
    local hub cache, or the network) and the sketch renderer otherwise, saying so in a notice. The
    critic scores whatever renderer draws, whenever the library's CLIP model can be loaded.
    """
    thinker = make_planner(planner, llm_model, library)
    if renderer not in RENDERERS:
        raise ConfigError(f"--renderer: expected one of {', '.join(RENDERERS)}, got {renderer!r}")
    drawer, notices = _renderer(renderer, library, allow_pickle)
    critic, more = _critic(library)
    inpainter = (Inpainter(drawer.model, library.inpaint)
                 if isinstance(drawer, DiffusionRenderer) and library is not None else None)
    llm = thinker.llm if isinstance(thinker, OpenAIPlanner) else None
    return Choice(Context(planner=thinker, llm=llm, renderer=drawer, critic=critic, segmenter=_segmenter(library),
                          inpainter=inpainter, library=library), notices + more)


__all__ = ["Choice", "ConfigError", "make_context", "make_planner", "read_library"]
