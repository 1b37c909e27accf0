"""What a LoRA training run is asked to do, what it gives back, and the state it trains."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class TrainSettings:
    """Everything one training run is asked to do (the CLI's options)."""

    kind: str
    """"character" or "shot"."""
    name: str
    """The character's token or the shot type's slug; the LoRA is written as <name>.safetensors."""
    instance_prompt: str
    class_prompt: str | None
    """The prompt of the class images (e.g. "picture of a man"); None trains without prior preservation."""
    base: str
    """Hub id, diffusers folder or single .safetensors file of the base model."""
    out: Path
    config: str | None = None
    steps: int = 800
    rank: int = 8
    lr: float = 1e-4
    resolution: int = 512
    text_encoder: bool = False
    class_images: Path | None = None
    """A folder of class images chosen by the person; None draws them with the base model and caches them."""
    class_count: int = 100
    prior_weight: float = 1.0
    seed: int = 0
    checkpoint_every: int = 100
    validation_images: int = 2
    gradient_checkpointing: bool = False
    precision: str = "auto"
    resume: bool = False
    cache: Path | None = None
    class_steps: int = 25
    """Denoising steps for drawing class images and validation images."""


@dataclass
class TrainResult:
    """What a run wrote and how it went."""

    lora: Path
    settings_file: Path
    step: int
    losses: list[float]
    """The loss of each step run by this call (a resumed run lists only its new steps)."""
    prompts: list[str]
    """The training prompt of each step run by this call."""
    class_dir: Path | None
    class_generated: int
    resumed_from: int
    notices: list[str] = field(default_factory=list)
    """What the person should know about the run, such as a damaged checkpoint set aside on resuming."""


@dataclass
class Trainee:
    """The base pipeline with LoRA layers added, the optimizer over them and the training random state."""

    pipe: object
    device: str
    dtype: object
    """torch dtype of the frozen weights; the LoRA weights are always float32."""
    params: list
    optimizer: object
    scaler: object
    generator: object
    """CPU generator for latents, noise and timesteps, saved in every checkpoint."""

    def autocast(self):
        """Return the mixed-precision context for a forward pass (nothing in float32)."""
        import torch

        if self.device == "cuda" and self.dtype != torch.float32:
            return torch.autocast("cuda", dtype=self.dtype)
        return contextlib.nullcontext()
