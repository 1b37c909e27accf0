"""The base model a LoRA is trained on: the SD 1.5 pipeline loaded frozen, in the dtype the device computes
best, with seeded LoRA layers added and the optimizer built over them."""

from __future__ import annotations

from pathlib import Path

from tools.errors import LibraryError, TrainError
from tools.models.hub import (PICKLE_SUFFIXES, check_source, checkpoint_family, first_line, offline, pick_device,
                              quiet_libraries)
from tools.train.settings import Trainee, TrainSettings

UNET_TARGETS = ["to_k", "to_q", "to_v", "to_out.0"]
TEXT_TARGETS = ["q_proj", "k_proj", "v_proj", "out_proj"]


def weight_dtype(precision: str, device: str):
    """Return the torch dtype for the frozen weights: half precision on CUDA, float32 elsewhere."""
    import torch

    if device != "cuda":
        if precision in ("fp16", "bf16"):
            raise TrainError(f"precision: {precision} needs a CUDA GPU and the device is {device}; "
                             "expected auto or fp32")
        return torch.float32
    if precision == "auto":  # bfloat16 only where the GPU computes it natively (Ampere and later)
        precision = "bf16" if torch.cuda.get_device_capability()[0] >= 8 else "fp16"
    return {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[precision]


def load_base(settings: TrainSettings) -> tuple[object, str, object]:
    """Load the base SD 1.5 pipeline, frozen, on the device picked here; return it, the device, the dtype."""
    from diffusers import DiffusionPipeline, StableDiffusionPipeline

    quiet_libraries()
    device = pick_device()
    dtype = weight_dtype(settings.precision, device)
    if Path(settings.base).suffix in PICKLE_SUFFIXES:
        raise TrainError(f"{settings.base}: pickle checkpoints can run code when loaded; expected a "
                         ".safetensors file or a diffusers folder")
    try:
        path = check_source(settings.base, "model.base")
        if path is not None and checkpoint_family(path) == "sdxl":
            raise TrainError(f"model.base: {path} is an SDXL checkpoint; expected Stable Diffusion 1.5 "
                             "(LoRA training supports SD 1.5 only)")
        if path is not None:
            extra = {"config": settings.config} if settings.config else {}
            pipe = StableDiffusionPipeline.from_single_file(str(path), dtype=dtype, local_files_only=offline(),
                                                            **extra)
        else:
            pipe = DiffusionPipeline.from_pretrained(settings.base, dtype=dtype, local_files_only=offline(),
                                                     use_safetensors=True)
    except LibraryError as error:
        raise TrainError(str(error)) from None
    except (OSError, ValueError) as error:
        raise TrainError(f"model.base: cannot load {settings.base} ({first_line(error)})") from None
    if type(pipe) is not StableDiffusionPipeline:
        raise TrainError(f"model.base: {settings.base} holds a {type(pipe).__name__}; expected a Stable "
                         "Diffusion 1.5 pipeline (LoRA training supports SD 1.5 only)")
    pipe.set_progress_bar_config(disable=True)
    pipe.safety_checker = None  # a false alarm would blacken a class image, and the cache would keep it
    for part in (pipe.unet, pipe.vae, pipe.text_encoder):
        part.requires_grad_(False)
    return pipe.to(device), device, dtype


def prepare(settings: TrainSettings, base: tuple[object, str, object] | None = None) -> Trainee:
    """Add seeded LoRA layers to the base pipeline (loaded here unless given) and build the optimizer."""
    import torch

    pipe, device, dtype = base or load_base(settings)
    torch.manual_seed(settings.seed)
    parts = [pipe.unet]
    pipe.unet.add_adapter(_lora_config(settings.rank, UNET_TARGETS))
    if settings.text_encoder:
        pipe.text_encoder.add_adapter(_lora_config(settings.rank, TEXT_TARGETS))
        parts.append(pipe.text_encoder)
    if settings.gradient_checkpointing:
        pipe.unet.enable_gradient_checkpointing()
        if settings.text_encoder:
            _checkpoint_text_encoder(pipe.text_encoder)
    params = [p for part in parts for p in part.parameters() if p.requires_grad]
    for param in params:
        param.data = param.data.float()
    optimizer = torch.optim.AdamW(params, lr=settings.lr, weight_decay=1e-2)
    scaler = torch.amp.GradScaler("cuda", enabled=device == "cuda" and dtype == torch.float16)
    generator = torch.Generator("cpu").manual_seed(settings.seed)
    return Trainee(pipe, device, dtype, params, optimizer, scaler, generator)


def _checkpoint_text_encoder(text_encoder) -> None:
    """Switch on activation checkpointing in the CLIP text encoder (its name changed in transformers 5)."""
    if hasattr(text_encoder, "activation_checkpointing_enable"):
        text_encoder.activation_checkpointing_enable({"use_reentrant": False})
    else:
        text_encoder.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


def _lora_config(rank: int, targets: list[str]):
    from peft import LoraConfig

    return LoraConfig(r=rank, lora_alpha=rank, init_lora_weights="gaussian", target_modules=targets)
