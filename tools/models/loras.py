"""LoRA files: read each once, check it fits the base model, load it as a named adapter, switch per frame.

Files in diffusers layout (unet.*.lora_A.weight) and kohya layout (lora_unet_*.lora_down.weight, what
Civitai serves) both load; diffusers converts kohya keys itself. Only .safetensors files are read
unless pickle files were explicitly allowed.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

from tools.errors import FileRefused, LoraError
from tools.files.bounded import LORA_LIMIT, read_bytes
from tools.models.hub import PICKLE_SUFFIXES, Loaded, first_line
from tools.render.job import Adapter

_WIDTHS = {768: "SD 1.5", 1024: "SD 2.x", 2048: "SDXL"}
_FAMILY_NAMES = {"sd15": "SD 1.5", "sdxl": "SDXL"}


def read_lora(path: str, allow_pickle: bool = False) -> dict:
    """Read a LoRA file from disk (one read) and return its tensors by key."""
    import torch
    from safetensors.torch import load

    file = Path(path)
    if not file.is_file():
        raise LoraError(f"{path}: LoRA file not found; expected a .safetensors file")
    if file.suffix in PICKLE_SUFFIXES and not allow_pickle:
        raise LoraError(f"{path}: pickle files can run code when loaded; expected a .safetensors LoRA "
                        "(pass --allow-pickle to load it anyway)")
    if file.suffix not in PICKLE_SUFFIXES + (".safetensors",):
        raise LoraError(f"{path}: expected a .safetensors LoRA file")
    try:
        data = read_bytes(file, LORA_LIMIT, "LoRA file")
    except (OSError, FileRefused) as error:
        raise LoraError(f"{path}: cannot read the LoRA file ({error})") from None
    try:
        if file.suffix == ".safetensors":
            state = load(data)
        else:
            state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as error:  # safetensors and torch raise several types for damaged files
        raise LoraError(f"{path}: damaged or not a weights file ({first_line(error)}); "
                        "expected LoRA weights saved as .safetensors") from None
    if not isinstance(state, dict) or not any(_is_lora_key(k) for k in state):
        raise LoraError(f"{path}: holds no LoRA weights (no lora_A/lora_down keys); expected a LoRA file")
    return state


def _is_lora_key(key: object) -> bool:
    return isinstance(key, str) and any(part in key for part in ("lora_A", "lora_B", "lora_down", "lora_up",
                                                                   "lora.down", "lora.up"))


def cross_width(state: dict) -> int | None:
    """Return the text-conditioning width the LoRA's UNet was trained with, read from a cross-attention key."""
    for key, tensor in state.items():
        flat = key.replace(".", "_")
        if "attn2_to_k" in flat and ("lora_A" in flat or "lora_down" in flat) and tensor.ndim == 2:
            return int(tensor.shape[1])
    return None


def lora_family(state: dict) -> str | None:
    """Return "sdxl" when the file carries SDXL's second text encoder, else None (unknown from markers)."""
    marked = any(k.startswith(("lora_te2_", "text_encoder_2.", "te2.")) for k in state)
    return "sdxl" if marked else None


def check_fits(state: dict, loaded: Loaded, path: str) -> None:
    """Raise LoraError when a LoRA was made for another model family than the loaded pipeline."""
    expected = loaded.pipe.unet.config.cross_attention_dim
    width = cross_width(state)
    wrong_family = lora_family(state) == "sdxl" and loaded.family != "sdxl"
    if wrong_family or (width is not None and width != expected):
        made_for = "SDXL" if wrong_family else _WIDTHS.get(width, f"a model with text width {width}")
        model = _FAMILY_NAMES[loaded.family]
        raise LoraError(f"{path}: this LoRA was made for {made_for}, but the base model is {model} "
                        f"(text width {expected}); expected a LoRA trained on {model}")


def ensure_loaded(loaded: Loaded, adapters: tuple[Adapter, ...], allow_pickle: bool = False) -> None:
    """Load every adapter the pipeline does not hold yet; each file is read once per process."""
    pipe = loaded.pipe
    for adapter in adapters:
        stamp = (adapter.path, *file_stamp(adapter.path))
        if loaded.adapters.get(adapter.name) == stamp:
            continue
        loaded.switched.clear()  # loading or removing a LoRA changes which adapters are switched on
        if adapter.name in loaded.adapters:  # another file under this name, or the file was replaced
            _forget(pipe, adapter.name)
            del loaded.adapters[adapter.name]
        state = read_lora(adapter.path, allow_pickle)
        check_fits(state, loaded, adapter.path)
        try:
            pipe.load_lora_weights(state, adapter_name=adapter.name)
        except (ValueError, RuntimeError, KeyError, TypeError) as error:
            _forget(pipe, adapter.name)
            raise LoraError(f"{adapter.path}: does not fit the base model ({first_line(error)}); "
                            f"expected a LoRA trained on {_FAMILY_NAMES[loaded.family]}") from None
        loaded.adapters[adapter.name] = stamp


def file_stamp(path: str) -> tuple[int, int]:
    """Return a file's size and modification time, so a LoRA replaced on disk counts as a new one."""
    try:
        stat = Path(path).stat()
    except OSError:
        return (-1, -1)
    return (stat.st_size, stat.st_mtime_ns)


def activate(loaded: Loaded, adapters: tuple[Adapter, ...]) -> None:
    """Switch on exactly these adapters at their weights; with none, every LoRA is switched off.

    Each peft call walks every LoRA layer of the UNet (about 20 ms at SD 1.5 size with 7 LoRAs
    loaded, python -m bench adapters), so nothing is called when the frame wants what is already
    set, and LoRAs are enabled again only after they were switched off.
    """
    pipe = loaded.pipe
    if not loaded.adapters:
        return
    wanted = tuple((a.name, a.weight) for a in adapters) or None
    if "set" in loaded.switched and loaded.switched["set"] == wanted:
        return
    if wanted is None:
        pipe.disable_lora()
    else:
        if loaded.switched.get("set") is None:  # switched off before, or unknown since a load
            pipe.enable_lora()
        pipe.set_adapters([a.name for a in adapters], adapter_weights=[a.weight for a in adapters])
    loaded.switched["set"] = wanted


def _forget(pipe: object, name: str) -> None:
    """Remove the adapter `name`, or what a failed load left under it; the next job sets the active ones."""
    with warnings.catch_warnings():  # peft warns when the removed adapter was active; activate() resets it
        warnings.simplefilter("ignore", UserWarning)
        try:
            pipe.delete_adapters(name)
        except (ValueError, KeyError, AttributeError):
            pass

