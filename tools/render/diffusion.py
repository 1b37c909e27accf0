"""The Stable Diffusion renderer: a frame's candidates in one batched call, with its LoRAs switched on.

When GPU memory runs out, tools.models.memory falls back to smaller calls, then attention slicing.

Usable on its own:

    renderer = DiffusionRenderer(ModelSpec("stable-diffusion-v1-5/stable-diffusion-v1-5"))
    result = renderer.render(RenderJob(prompt="Close-up of ...", negative_prompt="...",
                                       shot_type="close_up", seed=7, candidates=2))
"""

from __future__ import annotations

import functools
import threading

from prompts.shot_types import negative_prompt
from tools.errors import Cancelled
from tools.models.hub import GPU_LOCK, HUB, Loaded, ModelHub, ModelSpec, dtype_name, pick_device, use_scheduler
from tools.models.loras import activate, ensure_loaded, file_stamp
from tools.models.memory import fit, notice
from tools.render.job import ProgressFn, RenderJob, RenderResult


class DiffusionRenderer:
    """Renders RenderJobs with a resident diffusers pipeline; safe to share between sessions."""

    name = "diffusers"
    follows_prompt = True

    def __init__(self, model: ModelSpec, base_negative: str | None = None, hub: ModelHub = HUB):
        self.model = model
        self.base_negative = base_negative
        """The checkpoint's own negative prompt; None keeps the one in each job."""
        self.hub = hub
        self._stop = threading.Event()

    @functools.cached_property
    def device(self) -> str:
        """The device the pipeline runs on, worked out once."""
        return pick_device()

    def cancel(self) -> None:
        """Ask the render under way (or the next one) to stop after its current denoising step."""
        self._stop.set()

    def negative_for(self, job: RenderJob) -> str:
        """Return the negative prompt used: the checkpoint's base negative plus the shot type's terms."""
        if self.base_negative is None:
            return job.negative_prompt
        return negative_prompt(job.shot_type, self.base_negative)

    def key_parts(self, job: RenderJob) -> dict:
        """Return exactly what the pipeline sees: prompts, seeds, sampling, LoRA files and weights, model."""
        return {"prompt": job.prompt, "negative_prompt": self.negative_for(job), "seed": job.seed,
                "candidates": job.candidates, "width": job.width, "height": job.height, "steps": job.steps,
                "guidance": job.guidance, "scheduler": job.scheduler,
                "adapters": [[a.path, a.weight, *file_stamp(a.path)] for a in job.adapters],
                "model": {"base": self.model.base, "config": self.model.config, "device": self.device,
                          "dtype": dtype_name(self.device)}}

    def facts(self, job: RenderJob) -> dict:
        """Return the model, adapters and sampling settings a version of `job` records."""
        return {"model": self.model.base, "adapters": {a.name: a.weight for a in job.adapters},
                "steps": job.steps, "guidance": job.guidance, "scheduler": job.scheduler}

    def render(self, job: RenderJob, on_progress: ProgressFn | None = None) -> RenderResult:
        """Render every candidate of the job, candidate k from seed job.seeds()[k].

        All candidates go in one call; when GPU memory runs out they are drawn a few at a time, then
        with attention slicing (see tools.models.memory). The images, and so the render key, stay the same
        up to batch rounding (one level in a pixel); info["memory_fallback"] says what was done.
        """
        negative = self.negative_for(job)
        with GPU_LOCK:
            loaded = self.hub.pipeline(self.model)
            images, fallback = sample(loaded, job, self.model.allow_pickle, self._stop, on_progress,
                                      "rendering was cancelled; frames finished before it stay on disk",
                                      f"drawing a {job.width}x{job.height} frame", prompt=job.prompt,
                                      negative_prompt=negative, width=job.width, height=job.height)
        info = {**self.facts(job), "family": loaded.family, "device": loaded.device, "dtype": loaded.dtype,
                "negative_prompt": negative, **memory_info(fallback, job.candidates)}
        return RenderResult(images=images, seeds=job.seeds(), renderer=self.name, info=info)


def memory_info(fallback: str | None, count: int) -> dict:
    """Return the info fields that tell how memory was saved: none when nothing had to change."""
    if fallback is None:
        return {}
    return {"memory_fallback": fallback, "memory_notice": notice(fallback, count)}


def sample(loaded: Loaded, job: RenderJob, allow_pickle: bool, stop: threading.Event,
           on_progress: ProgressFn | None, cancelled: str, doing: str, **inputs) -> tuple[list, str | None]:
    """Draw every candidate of a job (its LoRAs, scheduler and seeds); call with GPU_LOCK held.

    `job` may be any job with adapters, scheduler, steps, guidance, candidates and seeds(); `inputs`
    are the pipeline's own arguments (prompts, size, image and mask). Returns the images and how
    memory was saved (tools.models.memory.fit; `doing` names the work in its error). Setting `stop` ends
    the call after the current step with Cancelled(`cancelled`). After a split, progress counts
    the steps of each smaller call again from 1.
    """
    import torch

    ensure_loaded(loaded, job.adapters, allow_pickle)
    activate(loaded, job.adapters)
    use_scheduler(loaded, job.scheduler)
    seeds = job.seeds()
    calls = 0
    step = step_callback(job.steps, stop, on_progress)

    def draw(start: int, end: int) -> list:
        nonlocal calls
        if calls and stop.is_set():  # asked to stop while an earlier part ran out of memory
            raise Cancelled(cancelled)
        calls += 1
        # fresh generators every call: candidate k draws from seeds[k] as it would in one batch
        generators = [torch.Generator("cpu").manual_seed(seed) for seed in seeds[start:end]]
        output = loaded.pipe(**inputs, num_inference_steps=job.steps, guidance_scale=job.guidance,
                             num_images_per_prompt=end - start, generator=generators,
                             callback_on_step_end=step, output_type="pil")
        if stop.is_set():
            raise Cancelled(cancelled)
        return list(output.images)

    try:
        return fit(loaded, len(seeds), draw, doing)
    finally:
        stop.clear()


def step_callback(steps: int, stop: threading.Event, on_progress: ProgressFn | None):
    """Return the pipeline's end-of-step callback: it reports progress and interrupts once `stop` is set."""

    def step(pipe, index: int, timestep, tensors: dict) -> dict:
        if on_progress is not None:
            on_progress(index + 1, steps)
        if stop.is_set():
            pipe._interrupt = True
        return tensors

    return step
