"""Inpainting: redraw the white part of a mask on a frame, keeping every other pixel exactly as it was.

Two ways to get a pipeline. With a dedicated inpainting checkpoint (9-channel UNet: hub id, diffusers
folder or single .safetensors; SD 1.5 only) it is loaded once per process like the base model.
Without one, the base pipeline's own modules (SD 1.5 or SDXL) are reused through `from_pipe`, so no
weights are read twice and the LoRAs already loaded into the base UNet stay loaded; a plain
4-channel UNet inpaints by blending latents.

    inpainter = Inpainter(ModelSpec("stable-diffusion-v1-5/stable-diffusion-v1-5"))
    result = inpainter.inpaint(InpaintJob(image=frame, mask=mask, prompt="...", negative_prompt="...", seed=7))
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from PIL import Image

from tools.errors import LibraryError
from tools.models.hub import (GPU_LOCK, HUB, Loaded, ModelHub, ModelSpec, check_source, checkpoint_family,
                              load_pipeline, offline)
from tools.render.diffusion import memory_info, sample
from tools.render.job import Adapter, ProgressFn, RenderResult

KEY = "model.inpaint"
"""The setting a dedicated inpainting checkpoint comes from; its errors start with it."""


@dataclass(frozen=True)
class InpaintJob:
    """One frame to repaint: its image, where to redraw, and how to sample."""

    image: Image.Image
    """The frame as it is now (RGB); the results have its size."""
    mask: Image.Image
    """Greyscale ("L"), same size as the image; white is redrawn, black kept, grey edges blend."""
    prompt: str
    negative_prompt: str
    seed: int
    """Seed of the first candidate; candidate k uses seed + k."""
    candidates: int = 1
    steps: int = 25
    guidance: float = 7.5
    scheduler: str = "dpm++"
    adapters: tuple[Adapter, ...] = ()
    """LoRAs switched on while redrawing, with their weights."""

    def seeds(self) -> list[int]:
        """Return the seed of every candidate, in order."""
        return [self.seed + k for k in range(self.candidates)]


class Inpainter:
    """Repaints masked parts of frames with a resident diffusers pipeline; safe to share between sessions."""

    name = "diffusers-inpaint"

    def __init__(self, model: ModelSpec, inpaint: str | None = None, hub: ModelHub = HUB):
        self.model = model
        self.checkpoint = inpaint
        """Dedicated inpainting checkpoint; None reuses the base model's pipeline."""
        self.hub = hub
        self._stop = threading.Event()

    def cancel(self) -> None:
        """Ask the inpainting under way (or the next one) to stop after its current denoising step."""
        self._stop.set()

    def pipeline(self) -> Loaded:
        """Return the resident inpainting pipeline, making it the first time. Call with GPU_LOCK held."""
        if self.checkpoint is not None:
            name, allow_pickle = self.checkpoint, self.model.allow_pickle
            return self.hub.resident(("inpaint", name, allow_pickle), lambda: load_pipeline(
                lambda dtype: _read_inpaint(name, allow_pickle, dtype), self.model.memory, KEY, name))
        base = self.hub.pipeline(self.model)
        return self.hub.resident(("inpaint-from", self.model), lambda: _share(base))

    def inpaint(self, job: InpaintJob, on_progress: ProgressFn | None = None) -> RenderResult:
        """Redraw the masked part of the frame for every candidate in one call; unmasked pixels stay as given.

        When GPU memory runs out the candidates are drawn a few at a time, then with attention
        slicing (see tools.models.memory); info["memory_fallback"] says so. Unlike a render, a split changes
        candidates after the first of each call: the pipeline encodes the frame with the first
        generator of a call, so candidate k's noise then starts further along its seed.
        """
        image, mask = _check_frame(job)
        with GPU_LOCK:
            results, fallback = sample(self.pipeline(), job, self.model.allow_pickle, self._stop, on_progress,
                                       "inpainting was cancelled; the frame keeps its current image until --resume "
                                       "finishes the repair", f"inpainting a {image.width}x{image.height} frame",
                                       prompt=job.prompt, negative_prompt=job.negative_prompt, image=image,
                                       mask_image=mask, height=image.height, width=image.width, strength=1.0)
        images = [keep_unmasked(image, result, mask) for result in results]
        info = {"model": self.model.base, "inpaint": self.checkpoint or "from base",
                "adapters": {a.name: a.weight for a in job.adapters}, "steps": job.steps,
                "guidance": job.guidance, "scheduler": job.scheduler, **memory_info(fallback, job.candidates)}
        return RenderResult(images=images, seeds=job.seeds(), renderer=self.name, info=info)


def keep_unmasked(original: Image.Image, result: Image.Image, mask: Image.Image) -> Image.Image:
    """Mix the result into the original by the mask's grey level, so black mask pixels keep the original exactly."""
    import numpy as np

    if result.size != original.size:
        result = result.resize(original.size, Image.Resampling.LANCZOS)
    weight = np.asarray(mask, dtype=np.float32)[..., None] / 255.0
    mixed = np.asarray(original, dtype=np.float32) * (1.0 - weight) + np.asarray(result.convert("RGB"),
                                                                                   dtype=np.float32) * weight
    return Image.fromarray(np.clip(np.rint(mixed), 0, 255).astype(np.uint8), "RGB")


def _check_frame(job: InpaintJob) -> tuple[Image.Image, Image.Image]:
    """Return the job's image as RGB and mask as "L", refusing sizes the pipeline cannot keep."""
    image, mask = job.image.convert("RGB"), job.mask.convert("L")
    width, height = image.size
    if width % 8 or height % 8:
        raise ValueError(f"inpaint: the frame is {width}x{height}; expected a frame whose width and height are "
                         "multiples of 8")
    if mask.size != image.size:
        raise ValueError(f"inpaint: the mask is {mask.width}x{mask.height}; expected a mask the same size as the "
                         f"frame ({width}x{height})")
    return image, mask


def _read_inpaint(name: str, allow_pickle: bool, dtype: object) -> tuple[object, str]:
    """Read a dedicated SD 1.5 inpainting checkpoint; return the pipeline and its family."""
    from diffusers import StableDiffusionInpaintPipeline

    local_only = offline()
    refusal = LibraryError(f"{KEY}: {name} is an SDXL inpainting checkpoint, which is not supported yet; "
                           "expected an SD 1.5 inpainting checkpoint, or no model.inpaint to use the base model")
    path = check_source(name, KEY, allow_pickle)
    if path is not None:
        if path.suffix == ".safetensors" and checkpoint_family(path, KEY) == "sdxl":
            raise refusal
        return StableDiffusionInpaintPipeline.from_single_file(str(path), dtype=dtype,
                                                               local_files_only=local_only), "sd15"
    index = StableDiffusionInpaintPipeline.load_config(name, local_files_only=local_only)
    if "XL" in str(index.get("_class_name", "")) or "text_encoder_2" in index:
        raise refusal
    pipe = StableDiffusionInpaintPipeline.from_pretrained(name, dtype=dtype, local_files_only=local_only,
                                                          use_safetensors=None if allow_pickle else True)
    return pipe, "sd15"


def _share(base: Loaded) -> Loaded:
    """Build an inpainting pipeline (SD 1.5 or SDXL) on the base pipeline's own modules and LoRA bookkeeping.

    `from_pipe` hands over the very UNet, VAE and text encoder objects, LoRAs included, so the
    returned Loaded shares the base's adapters dict. The dtype is passed on because `from_pipe`
    would otherwise cast the shared modules to float32. The progress-bar setting is not carried over.
    With model CPU offload the shared modules keep the hooks the base put on them.
    """
    import torch
    from diffusers import StableDiffusionInpaintPipeline, StableDiffusionXLInpaintPipeline

    cls = StableDiffusionXLInpaintPipeline if base.family == "sdxl" else StableDiffusionInpaintPipeline
    pipe = cls.from_pipe(base.pipe, dtype=getattr(torch, base.dtype))
    pipe.set_progress_bar_config(disable=True)
    return Loaded(pipe=pipe, family=base.family, device=base.device, dtype=base.dtype, adapters=base.adapters,
                  switched=base.switched, default_scheduler=dict(base.default_scheduler), memory=base.memory,
                  slicing=base.slicing)
