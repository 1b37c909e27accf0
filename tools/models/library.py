"""The model library manifest (library.toml): which checkpoint to load and which LoRA goes with what.

    [model]
    base = "stable-diffusion-v1-5/stable-diffusion-v1-5"  # hub id, diffusers folder or .safetensors file
    [shots]
    close_up = "loras/close_up.safetensors"
    [characters.kaitoyosuke]
    class = "man"
    lora = "loras/kaitoyosuke.safetensors"
    [weights]
    close = 1.0

Relative paths resolve against the manifest's folder. Reading a manifest checks that every named
file exists; the weights themselves are read later, on first use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from prompts.shot_types import BY_SLUG
from tools.errors import LibraryError
from tools.files.bounded import LIBRARY_LIMIT
from tools.files.toml_file import read_toml

FILE_NAME = "library.toml"
MEMORY_MODES = ("normal", "slicing", "offload")
TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
"""What a character token must look like: one word of letters, digits, - and _, starting with a letter or digit."""
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_MODEL_KEYS = {"base", "config", "inpaint", "clip", "negative", "memory", "sam", "sam_type"}
SAM_TYPES = ("vit_b", "vit_l", "vit_h")
_TOP_KEYS = {"model", "shots", "characters", "weights", "critique", "llm"}


@dataclass(frozen=True)
class Weights:
    """How strongly each LoRA pulls, by shot distance: the policy `[weights]` in library.toml changes."""

    shot: float = 1.0
    """Weight of the shot-type LoRA."""
    close: float = 1.0
    """Character weight in extreme close-ups, close-ups and medium close-ups (face fidelity)."""
    medium: float = 0.9
    """Character weight in medium, American and full shots."""
    long: float = 0.75
    """Character weight in long and extreme long shots (more freedom of pose)."""
    detail: float = 0.8
    """Character weight in detail inserts (hands, objects)."""
    shared: float = 0.85
    """Factor applied to every character's weight when two or more share a frame, all equally."""


@dataclass(frozen=True)
class CritiqueSettings:
    """When CLIP's verdict re-renders or flags a frame: the `[critique]` table of library.toml."""

    threshold: float = 22.0
    """A frame whose best candidate scores below this (0-100) is rendered again with fresh seeds."""
    retries: int = 2
    """Most re-renders per frame (0-5); after them the best so far is kept and flagged."""
    shot_retry: bool = False
    """Also re-render a frame whose framing reads as a shot type two or more steps away."""
    shot_boost: float = 0.25
    """Added to the shot LoRA's weight for such a re-render."""
    consistency: float = 0.1
    """How far (in cosine) a frame may fall below the median likeness of a character's frames."""
    repeat: float = 0.95
    """Cosine above which two consecutive frames of one shot type count as the same picture."""


_CRITIQUE_RANGES = {"threshold": (0, 100), "retries": (0, 5), "shot_boost": (0, 1), "consistency": (0, 1),
                    "repeat": (0, 1)}


@dataclass(frozen=True)
class Library:
    """A parsed manifest: the checkpoint, the LoRA files and the weight policy, with absolute paths."""

    base: str
    """Hub id, or the absolute path of a diffusers folder or a single checkpoint file."""
    config: str | None = None
    """For a single-file checkpoint: hub id or folder holding the matching diffusers configs."""
    inpaint: str | None = None
    """Dedicated inpainting checkpoint; None reuses the base pipeline for repairs."""
    clip: str | None = None
    sam: str | None = None
    """Absolute path of a segment-anything checkpoint, for point and box masks."""
    sam_type: str | None = None
    """"vit_b", "vit_l", "vit_h", or the absolute path of a JSON file of SAM sizes; None guesses from the file name."""
    negative: str | None = None
    """The checkpoint's own base negative prompt; the shot type's terms are added after it."""
    memory: str = "normal"
    """"normal", "slicing" (attention slicing) or "offload" (model CPU offload, CUDA only)."""
    shots: dict[str, str] = field(default_factory=dict)
    """Shot slug -> LoRA file."""
    characters: dict[str, str] = field(default_factory=dict)
    """Character token -> LoRA file."""
    classes: dict[str, str] = field(default_factory=dict)
    """Character token -> class word the LoRA was trained with."""
    weights: Weights = Weights()
    critique: CritiqueSettings = CritiqueSettings()
    llm: dict[str, object] = field(default_factory=dict)
    """The `[llm]` table: model, base_url, timeout and rounds for the chat-model planner."""
    source: str | None = None
    """The manifest file this came from, if any."""

    def is_local(self, name: str | None = None) -> bool:
        """Tell whether a model reference (the base by default) is a path on this machine."""
        return not is_hub_id(self.base if name is None else name)

    def with_cast(self, loras: dict[str, str]) -> Library:
        """Return the library with the scene's own character LoRAs (token -> path) added; the scene wins."""
        for token, path in loras.items():
            _must_exist(Path(path), f"characters.{token}.lora")
        return replace(self, characters={**self.characters, **loras})


def is_hub_id(name: str) -> bool:
    """Tell a hub id ("owner/name") from a path by its shape alone; the manifest resolves paths first."""
    return bool(_HUB_ID.match(name)) and not name.endswith((".safetensors", ".ckpt"))


def _must_exist(path: Path, key: str) -> None:
    if not path.exists():
        raise LibraryError(f"{key}: {path} does not exist; expected a LoRA .safetensors file")
    if not path.is_file():
        raise LibraryError(f"{key}: {path} is not a file; expected a LoRA .safetensors file")


def _text(table: dict, key: str, where: str) -> str | None:
    value = table.get(key)
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise LibraryError(f"{where}{key}: expected a non-empty text")
    return value.strip() if value else None


def _model_ref(value: str, folder: Path, key: str) -> str:
    """Resolve a checkpoint reference: a local path (must exist) or a hub id."""
    local = (folder / Path(value).expanduser())
    if local.exists():
        return str(local.resolve())
    if is_hub_id(value):
        return value
    raise LibraryError(f"{key}: {local} does not exist; expected a hub id such as "
                       f"\"stable-diffusion-v1-5/stable-diffusion-v1-5\", a diffusers folder or a .safetensors file")


def _weights(table: object) -> Weights:
    if not isinstance(table, dict):
        raise LibraryError("weights: expected a table such as [weights] close = 1.0")
    known = {f.name for f in fields(Weights)}
    values = {}
    for key, value in table.items():
        if key not in known:
            raise LibraryError(f"weights.{key}: unknown key; expected one of {', '.join(sorted(known))}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 2:
            raise LibraryError(f"weights.{key}: expected a number from 0 to 2, got {value!r}")
        values[key] = float(value)
    return Weights(**values)


def _sam(model: dict, folder: Path) -> tuple[str | None, str | None]:
    """Resolve the SAM checkpoint (a local file) and its type (a preset name or a JSON file of sizes)."""
    sam, kind = _text(model, "sam", "model."), _text(model, "sam_type", "model.")
    if sam is not None:
        path = folder / Path(sam).expanduser()
        if not path.is_file():
            raise LibraryError(f"model.sam: {path} does not exist; expected a SAM checkpoint file "
                               "(.pth or .safetensors, such as sam_vit_b_01ec64.pth)")
        sam = str(path.resolve())
    if kind is not None and kind not in SAM_TYPES:
        path = folder / Path(kind).expanduser()
        if not path.is_file():
            raise LibraryError(f"model.sam_type: expected {', '.join(SAM_TYPES)} or a JSON file of SAM sizes, "
                               f"got {kind!r}")
        kind = str(path.resolve())
    return sam, kind


def _llm(table: object) -> dict[str, object]:
    if not isinstance(table, dict):
        raise LibraryError('llm: expected a table such as [llm] model = "gpt-4o-mini"')
    for key, value in table.items():
        if key in ("model", "base_url"):
            _text(table, key, "llm.")
        elif key == "timeout":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1 <= value <= 600:
                raise LibraryError(f"llm.timeout: expected seconds from 1 to 600, got {value!r}")
        elif key == "rounds":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 5:
                raise LibraryError(f"llm.rounds: expected a whole number from 0 to 5, got {value!r}")
        else:
            raise LibraryError(f"llm.{key}: unknown key; expected model, base_url, timeout or rounds")
    return dict(table)


def _critique(table: object) -> CritiqueSettings:
    if not isinstance(table, dict):
        raise LibraryError("critique: expected a table such as [critique] threshold = 22")
    values: dict[str, object] = {}
    for key, value in table.items():
        if key == "shot_retry":
            if not isinstance(value, bool):
                raise LibraryError(f"critique.shot_retry: expected true or false, got {value!r}")
            values[key] = value
            continue
        if key not in _CRITIQUE_RANGES:
            known = ", ".join(sorted(f.name for f in fields(CritiqueSettings)))
            raise LibraryError(f"critique.{key}: unknown key; expected one of {known}")
        low, high = _CRITIQUE_RANGES[key]
        whole = key == "retries"
        if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)) or not low <= value <= high:
            kind = "a whole number" if whole else "a number"
            raise LibraryError(f"critique.{key}: expected {kind} from {low} to {high}, got {value!r}")
        values[key] = value if whole else float(value)
    return CritiqueSettings(**values)


def _shots(table: object, folder: Path) -> dict[str, str]:
    if not isinstance(table, dict):
        raise LibraryError("shots: expected a table of shot slug = LoRA file")
    slugs = [s for s in BY_SLUG if s != "detail"]
    shots = {}
    for slug, value in table.items():
        if slug == "detail":
            raise LibraryError("shots.detail: detail inserts use no shot-type LoRA; remove this key")
        if slug not in BY_SLUG:
            raise LibraryError(f"shots.{slug}: unknown shot type; expected one of {', '.join(slugs)}")
        path = folder / (_text(table, slug, "shots.") or "")
        _must_exist(path, f"shots.{slug}")
        shots[slug] = str(path.resolve())
    return shots


def _characters(table: object, folder: Path) -> tuple[dict[str, str], dict[str, str]]:
    if not isinstance(table, dict):
        raise LibraryError("characters: expected tables such as [characters.kaitoyosuke]")
    loras, classes = {}, {}
    for token, entry in table.items():
        where = f"characters.{token}."
        if not TOKEN.match(token):
            raise LibraryError(f"characters.{token}: expected one space-free token such as \"kaitoyosuke\"")
        if not isinstance(entry, dict) or set(entry) - {"class", "lora"}:
            raise LibraryError(f"characters.{token}: expected a table with class and lora")
        if lora := _text(entry, "lora", where):
            path = folder / lora
            _must_exist(path, f"{where}lora")
            loras[token] = str(path.resolve())
        if word := _text(entry, "class", where):
            classes[token] = word
    return loras, classes


def parse_library(data: dict, folder: Path, source: str | None = None) -> Library:
    """Validate a manifest already read from TOML; relative paths resolve against `folder`."""
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise LibraryError(f"unknown section {unknown[0]!r}: expected {', '.join(sorted(_TOP_KEYS))}")
    model = data.get("model")
    if not isinstance(model, dict) or "base" not in model:
        raise LibraryError("model.base: expected the checkpoint to load (hub id, diffusers folder or .safetensors)")
    if extra := sorted(set(model) - _MODEL_KEYS):
        raise LibraryError(f"model.{extra[0]}: unknown key; expected one of {', '.join(sorted(_MODEL_KEYS))}")
    memory = _text(model, "memory", "model.") or "normal"
    if memory not in MEMORY_MODES:
        raise LibraryError(f"model.memory: expected one of {', '.join(MEMORY_MODES)}, got {memory!r}")
    refs = {key: _model_ref(value, folder, f"model.{key}")
            for key in ("base", "config", "inpaint", "clip") if (value := _text(model, key, "model."))}
    loras, classes = _characters(data.get("characters", {}), folder)
    sam, sam_type = _sam(model, folder)
    return Library(base=refs["base"], config=refs.get("config"), inpaint=refs.get("inpaint"), clip=refs.get("clip"),
                   sam=sam, sam_type=sam_type,
                   negative=_text(model, "negative", "model."), memory=memory,
                   shots=_shots(data.get("shots", {}), folder), characters=loras, classes=classes,
                   weights=_weights(data.get("weights", {})), critique=_critique(data.get("critique", {})),
                   llm=_llm(data.get("llm", {})),
                   source=source)


def load_library(path: Path) -> Library:
    """Read and validate a library.toml; raise LibraryError with one line naming the file and key."""
    data = read_toml(path, LibraryError, "library", LIBRARY_LIMIT)
    try:
        return parse_library(data, path.parent, str(path))
    except LibraryError as error:
        raise LibraryError(f"{path}: {error}") from None


def find_library(scene_file: Path) -> Path | None:
    """Return the library.toml beside a scene file, if there is one."""
    path = scene_file.parent / FILE_NAME
    return path if path.is_file() else None
