"""A tiny Stable Diffusion 1.5 inpainting pipeline for tests, built offline from random weights.

It is the tiny SD pipeline of tiny_models with one change: the UNet reads 9 input channels (noisy
latents, mask, masked-image latents), as dedicated inpainting checkpoints do. Every other shape is
the same, so the LoRA files tiny_models.write_lora makes fit it too.
"""

from __future__ import annotations

from pathlib import Path

import torch

from tiny_models import build_sd_pipeline


def _inpaint_unet():
    """The tiny SD UNet with 9 input channels; the attention layers LoRAs target keep their shapes."""
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        block_out_channels=(4, 8), layers_per_block=1, sample_size=32, in_channels=9, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=8, norm_num_groups=2)


def build_inpaint_pipeline(seed: int = 0):
    """Return an in-memory tiny StableDiffusionInpaintPipeline (seeded) sharing the tiny SD's other parts."""
    from diffusers import StableDiffusionInpaintPipeline

    parts = build_sd_pipeline(seed=seed).components
    torch.manual_seed(seed + 1)
    parts["unet"] = _inpaint_unet()
    return StableDiffusionInpaintPipeline(**parts, requires_safety_checker=False)


def write_inpaint_folder(folder: Path, seed: int = 0) -> Path:
    """Save the tiny inpainting pipeline as a diffusers folder (safetensors weights) and return the folder."""
    folder = Path(folder)
    build_inpaint_pipeline(seed).save_pretrained(folder, safe_serialization=True)
    return folder
