"""The model hub: loads each model (Stable Diffusion pipelines, CLIP) once per process and keeps it resident.

Nothing heavy happens at import: torch and diffusers are imported, and weights read, on the first
call that needs them. GPU_LOCK is the one lock every piece of GPU work in the process holds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from tools.errors import LibraryError
from tools.models.library import is_hub_id

GPU_LOCK = threading.RLock()
"""Held while any model runs or changes state (adapters, scheduler), so two sessions never collide."""

T = TypeVar("T")
SCHEDULERS = ("dpm++", "ddim", "euler_a")
PICKLE_SUFFIXES = (".ckpt", ".bin", ".pt", ".pth")
"""Weight files read with pickle, which can run code; refused unless the person allows them."""


@dataclass(frozen=True)
class ModelSpec:
    """Which checkpoint to load and how; equal specs share one loaded pipeline."""

    base: str
    """Hub id, diffusers folder or single .safetensors/.ckpt file."""
    config: str | None = None
    """Diffusers config (hub id or folder) for a single-file checkpoint; diffusers guesses when None."""
    memory: str = "normal"
    allow_pickle: bool = False
    """Allow .ckpt/.bin weights, which run pickle code when read; off unless the person asks."""


@dataclass
class Loaded:
    """A resident pipeline and what has been done to it."""

    pipe: object
    family: str
    """"sd15" or "sdxl"."""
    device: str
    dtype: str
    adapters: dict[str, tuple] = field(default_factory=dict)
    """Adapter name -> (LoRA file, size, modification time) of what is loaded into the pipeline."""
    switched: dict[str, object] = field(default_factory=dict)
    """What tools.models.loras.activate last set on the pipeline's modules ("set": the names and weights switched
    on, or None for all off); emptied whenever LoRAs are loaded or removed. Shared, like `adapters`, by
    every pipeline built on the same modules."""
    default_scheduler: dict = field(default_factory=dict)
    """The checkpoint's own scheduler config, the starting point for every named scheduler."""
    scheduler: str = ""
    """Name of the scheduler now set, "" while the checkpoint's own is in place."""
    memory: str = "normal"
    """The memory mode it was loaded with ("normal", "offload", "slicing")."""
    slicing: bool = False
    """Whether attention slicing is on: asked for by memory = "slicing", or switched on when memory ran out."""


def pick_device() -> str:
    """Return "cuda" when a CUDA GPU is present, then "mps", then "cpu"."""
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    return "mps" if mps is not None and mps.is_available() else "cpu"


def dtype_name(device: str) -> str:
    """Return the weights' dtype on `device`: float16 on CUDA, float32 elsewhere."""
    return "float16" if device == "cuda" else "float32"


def offline() -> bool:
    """Tell whether the Hugging Face hub is switched off (HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE)."""
    from huggingface_hub import is_offline_mode

    return is_offline_mode()


def hub_cached(repo: str, marker: str = "model_index.json") -> bool:
    """Tell whether a hub model is already in the local cache, by its marker file (config.json for CLIP)."""
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(repo, marker), str)


def hub_reachable(repo: str, marker: str = "model_index.json") -> bool:
    """Tell whether a hub model can be loaded: already in the local cache, or downloadable now."""
    from huggingface_hub import model_info

    if hub_cached(repo, marker):
        return True
    if offline():
        return False
    try:
        model_info(repo, timeout=5)
    except Exception:  # any network or hub failure means "not reachable now"
        return False
    return True


def checkpoint_family(path: Path, key: str = "model.base") -> str:
    """Return "sdxl" or "sd15" for a single-file checkpoint, reading only its key names; errors name `key`."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            keys = list(handle.keys())
    except Exception as error:  # safetensors raises its own error type for damaged headers
        raise LibraryError(f"{key}: {path} is damaged or not a safetensors file ({first_line(error)}); "
                           "expected a Stable Diffusion checkpoint") from None
    return "sdxl" if any(k.startswith("conditioner.embedders.1.") for k in keys) else "sd15"


def _check_weights_file(path: Path, allow_pickle: bool, key: str = "") -> None:
    lead = f"{key}: " if key else ""
    if path.suffix in PICKLE_SUFFIXES and not allow_pickle:
        raise LibraryError(f"{lead}{path}: pickle checkpoints can run code when loaded; expected a .safetensors file "
                           "(pass --allow-pickle to load it anyway)")
    if path.suffix not in PICKLE_SUFFIXES + (".safetensors",):
        raise LibraryError(f"{lead}{path}: expected a diffusers folder or a .safetensors checkpoint file")


def check_source(name: str, key: str, allow_pickle: bool = False) -> Path | None:
    """Check that a model named by hub id, folder or file can be read before any loading starts.

    Returns the file's path for a single checkpoint file and None for a folder or hub id; a missing
    folder, a pickle file not allowed or a hub id out of reach offline raises a one-line LibraryError
    that starts with `key` (the setting it came from).
    """
    path = Path(name)
    if not is_hub_id(name) and path.is_file():
        # the base model's file messages keep their older form, which starts with the path
        _check_weights_file(path, allow_pickle, "" if key == "model.base" else key)
        return path
    if not is_hub_id(name) and not path.is_dir():
        raise LibraryError(f"{key}: {path} does not exist; expected a diffusers folder or a .safetensors file")
    if is_hub_id(name) and offline() and not hub_cached(name):
        raise LibraryError(f"{key}: {name} is not in the local Hugging Face cache and the hub is "
                           "switched off (HF_HUB_OFFLINE); expected a downloaded hub id, a diffusers folder or "
                           "a .safetensors file")
    return None


def _read_pipeline(spec: ModelSpec, dtype: object) -> tuple[object, str]:
    """Load the pipeline the spec names; return it and its family."""
    from diffusers import DiffusionPipeline, StableDiffusionPipeline, StableDiffusionXLPipeline

    local_only = offline()
    path = check_source(spec.base, "model.base", spec.allow_pickle)
    if path is not None:
        family = checkpoint_family(path) if path.suffix == ".safetensors" else "sd15"
        cls = StableDiffusionXLPipeline if family == "sdxl" else StableDiffusionPipeline
        extra = {"config": spec.config} if spec.config else {}
        return cls.from_single_file(str(path), dtype=dtype, local_files_only=local_only, **extra), family
    pipe = DiffusionPipeline.from_pretrained(spec.base, dtype=dtype, local_files_only=local_only,
                                             use_safetensors=None if spec.allow_pickle else True)
    if isinstance(pipe, StableDiffusionXLPipeline):
        return pipe, "sdxl"
    if isinstance(pipe, StableDiffusionPipeline):
        return pipe, "sd15"
    raise LibraryError(f"model.base: {spec.base} holds a {type(pipe).__name__}; expected a Stable Diffusion 1.5 "
                       "or SDXL text-to-image pipeline")


def quiet_libraries() -> None:
    """Keep diffusers, transformers and peft from printing progress bars and advice on every load."""
    import warnings

    import diffusers
    import transformers

    for library in (diffusers, transformers):
        library.utils.logging.disable_progress_bar()
        library.utils.logging.set_verbosity_error()
    warnings.filterwarnings("ignore", message="Already found a `peft_config`")


class ModelHub:
    """Loads models on first use and keeps them; one hub serves the whole process."""

    def __init__(self) -> None:
        self._loaded: dict[object, object] = {}
        self.loads = 0
        """How many models this hub has read from disk (tests use it to prove caching)."""

    def pipeline(self, spec: ModelSpec) -> Loaded:
        """Return the resident pipeline for `spec`, loading it the first time. Call with GPU_LOCK held."""
        return self.resident(spec, lambda: self._load(spec))

    def resident(self, key: object, load: Callable[[], T]) -> T:
        """Return the model kept under `key`, calling `load` only the first time. Call with GPU_LOCK held."""
        if key not in self._loaded:
            self._loaded[key] = load()
            self.loads += 1
        return self._loaded[key]

    def _load(self, spec: ModelSpec) -> Loaded:
        return load_pipeline(lambda dtype: _read_pipeline(spec, dtype), spec.memory, "model.base", spec.base)


def load_pipeline(read: Callable[[object], tuple[object, str]], memory: str, key: str, name: str) -> Loaded:
    """Read a pipeline with `read(dtype)` and ready it to stay resident on the device picked here.

    Weights come in float16 on CUDA and float32 elsewhere, frozen, with the progress bar off, and
    placed as `memory` asks ("normal", "offload", "slicing"). A read that fails with OSError or
    ValueError becomes a one-line LibraryError starting with `key`, naming `name`.
    """
    import torch

    quiet_libraries()
    device = pick_device()
    dtype = getattr(torch, dtype_name(device))
    try:
        pipe, family = read(dtype)
    except LibraryError:
        raise
    except (OSError, ValueError) as error:
        raise LibraryError(f"{key}: cannot load {name} ({first_line(error)})") from None
    pipe.set_progress_bar_config(disable=True)
    _freeze(pipe)
    if memory == "offload" and device == "cuda":
        pipe.enable_model_cpu_offload()
    else:
        pipe.to(device)
    if memory == "slicing":
        pipe.enable_attention_slicing()
    return Loaded(pipe=pipe, family=family, device=device, dtype=dtype_name(device),
                  default_scheduler=dict(pipe.scheduler.config), memory=memory, slicing=memory == "slicing")


def _freeze(pipe: object) -> None:
    """Mark every model in the pipeline as not trainable.

    Loading a LoRA freezes the base weights, and torch picks a different kernel for a frozen
    linear layer, so without this a frame rendered before any LoRA was loaded would differ by a
    rounding level from the same frame rendered after one was switched off.
    """
    for name in ("unet", "vae", "text_encoder", "text_encoder_2"):
        part = getattr(pipe, name, None)
        if part is not None:
            part.requires_grad_(False)


def use_scheduler(loaded: Loaded, name: str) -> None:
    """Switch the pipeline to a scheduler by name: "dpm++", "ddim" or "euler_a"."""
    from diffusers import DDIMScheduler, DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler

    if name not in SCHEDULERS:
        raise ValueError(f"scheduler: expected one of {', '.join(SCHEDULERS)}, got {name!r}")
    if loaded.scheduler == name:
        return
    config = loaded.default_scheduler
    if name == "dpm++":
        scheduler = DPMSolverMultistepScheduler.from_config(config, algorithm_type="dpmsolver++", solver_order=2)
    elif name == "ddim":
        scheduler = DDIMScheduler.from_config(config)
    else:
        scheduler = EulerAncestralDiscreteScheduler.from_config(config)
    loaded.pipe.scheduler = scheduler
    loaded.scheduler = name


def first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


HUB = ModelHub()
"""The process's hub: every renderer, critic and repairer shares it."""
