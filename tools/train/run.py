"""Train a LoRA for a character or a shot type on the library's base SD 1.5 checkpoint (DreamBooth-LoRA).

LoRA layers go on the UNet's attention projections (and on the CLIP text encoder when asked); the
base weights stay frozen. Each step learns one training picture under its prompt and, with a class
prompt, one class image under the class prompt (prior preservation), in one batch. Checkpoints in
out/checkpoints/step-N/ hold what a later run needs to carry on exactly where this one stopped.
The result is out/<name>.safetensors, readable by pipe.load_lora_weights, and out/<name>.json.
Loading the base is in tools.train.base, one step in tools.train.steps.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import random
import re
from collections.abc import Callable
from pathlib import Path

from tools.errors import LibraryError, TrainError
from tools.files.atomic import share, write_json
from tools.train import class_images
from tools.train.base import load_base, prepare
from tools.train.checkpoints import (checkpoints, load_checkpoint, lora_parts, resume_from, save_checkpoint,
                                     write_validation)
from tools.train.data import Example, fit_image
from tools.train.settings import Trainee, TrainResult, TrainSettings
from tools.train.steps import train_step

KINDS = ("character", "shot")
PRECISIONS = ("auto", "fp16", "bf16", "fp32")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def check_settings(settings: TrainSettings, examples: list[Example]) -> None:
    """Raise TrainError for settings or examples that cannot make a run."""
    problems = [
        (settings.kind not in KINDS, f"kind: expected one of {', '.join(KINDS)}, got {settings.kind!r}"),
        (not _NAME.match(settings.name), f"name: {settings.name!r} is not a plain name; expected letters, "
                                         "digits, - and _ (it becomes the file name)"),
        (settings.steps < 1, f"--steps: expected at least 1, got {settings.steps}"),
        (settings.rank < 1, f"--rank: expected at least 1, got {settings.rank}"),
        (not settings.lr > 0, f"--lr: expected a positive learning rate, got {settings.lr}"),
        (settings.resolution < 8 or settings.resolution % 8,
         f"--resolution: expected a multiple of 8, got {settings.resolution}"),
        (settings.checkpoint_every < 1, f"--checkpoint-every: expected at least 1, got {settings.checkpoint_every}"),
        (settings.precision not in PRECISIONS,
         f"precision: expected one of {', '.join(PRECISIONS)}, got {settings.precision!r}"),
        (not examples, "no training images; expected at least one picture to learn"),
        (settings.class_images is not None and not settings.class_prompt,
         "--class-images needs a class prompt; expected a class word for prior preservation"),
        (settings.class_prompt is not None and settings.class_count < 1,
         f"--class-count: expected at least 1 with a class prompt, got {settings.class_count}"),
    ]
    for failed, message in problems:
        if failed:
            raise TrainError(message)



# ---------------------------------------------------------------- the run

def train(settings: TrainSettings, examples: list[Example], on_step: Callable[[int, float], None] | None = None,
          progress: bool = False) -> TrainResult:
    """Train the LoRA the settings describe on `examples`; write the LoRA, its JSON and checkpoints.

    `on_step(step, loss)` is called after every step (steps count from 1). A fresh run refuses an out
    folder that already holds checkpoints or the LoRA; `resume` carries on from the latest checkpoint.
    """
    from diffusers import DDPMScheduler

    check_settings(settings, examples)
    out = Path(settings.out)
    lora = out / f"{settings.name}.safetensors"
    _check_out_folder(settings, out, lora)
    base = load_base(settings)
    class_dir, extra, generated = _class_images(settings, base[0])
    trainee = prepare(settings, base)
    start, loss, notices = _resume(trainee, settings, out)
    noise_scheduler = DDPMScheduler.from_config(trainee.pipe.scheduler.config)
    loss, losses, prompts = _run_steps(trainee, settings, noise_scheduler, examples, extra, start, loss,
                                       on_step, progress)
    step = max(start, settings.steps)
    settings_file = _write_outputs(trainee, settings, lora, step, loss, class_dir)
    return TrainResult(lora, settings_file, step, losses, prompts, class_dir, generated, start, notices)


def _check_out_folder(settings: TrainSettings, out: Path, lora: Path) -> None:
    """Refuse a resume with nothing to resume, and a fresh run into a folder that holds one already."""
    found = checkpoints(out)
    if settings.resume and not found:
        raise TrainError(f"--resume: {out / 'checkpoints'} holds no checkpoint; expected a folder a "
                         "previous run wrote, or a run without --resume")
    if not settings.resume and (found or lora.exists()):
        raise TrainError(f"--out: {out} already holds a training run; pass --resume to carry on or "
                         "choose another --out")


def _resume(trainee: Trainee, settings: TrainSettings, out: Path) -> tuple[int, float | None, list[str]]:
    """Return the step to go on from, its loss and the notices: a fresh run starts at 0 with none."""
    if not settings.resume:
        return 0, None, []
    state, notices = resume_from(trainee, out)
    for group in trainee.optimizer.param_groups:  # loading restored the old run's rate; --lr now wins
        group["lr"] = settings.lr
    return state["step"], state.get("loss"), notices


def _run_steps(trainee: Trainee, settings: TrainSettings, noise_scheduler, examples: list[Example], extra: list,
               start: int, loss: float | None, on_step: Callable[[int, float], None] | None,
               progress: bool) -> tuple[float | None, list[float], list[str]]:
    """Run the steps after `start`, checkpointing as asked; return the last loss, and each step's loss and prompt."""
    out = Path(settings.out)
    embeddings: dict[str, object] = {}
    losses, prompts = [], []
    trainee.pipe.unet.train()
    if settings.text_encoder:
        trainee.pipe.text_encoder.train()
    pictures = [fit_image(example.image, settings.resolution) for example in examples]  # once, not every step
    with _progress_bar(progress, start, settings.steps) as advance:
        for step in range(start + 1, settings.steps + 1):
            index = example_index(settings.seed, step - 1, len(examples))
            batch = [(pictures[index], examples[index].prompt)]
            if extra:
                batch.append((extra[(step - 1) % len(extra)], settings.class_prompt))
            loss, encoded = train_step(trainee, settings, noise_scheduler, batch, embeddings)
            if not math.isfinite(loss):
                raise TrainError(f"loss became {loss} at step {step}; expected a lower --lr (now {settings.lr})")
            losses.append(loss)
            prompts.append(encoded)
            advance(loss)
            if on_step is not None:
                on_step(step, loss)
            if step % settings.checkpoint_every == 0 or step == settings.steps:
                save_checkpoint(trainee, out, step, loss)
                write_validation(trainee, settings, step)
    return loss, losses, prompts


def example_index(seed: int, step: int, count: int) -> int:
    """Return which example step `step` (from 0) learns: every pass over the examples is a new seeded shuffle."""
    order = list(range(count))
    random.Random(f"{seed}-{step // count}").shuffle(order)
    return order[step % count]


def _class_images(settings: TrainSettings, pipe: object) -> tuple[Path | None, list, int]:
    """Return the class image folder, its images and how many were drawn now (all empty without a class prompt)."""
    if not settings.class_prompt:
        return None, [], 0
    generated = 0
    folder = settings.class_images
    try:
        if folder is None:
            folder = class_images.class_folder(settings.cache, settings.base, settings.class_prompt,
                                               settings.resolution, settings.class_steps)
            generated = class_images.generate(pipe, folder, settings.class_prompt, settings.class_count,
                                              settings.resolution, settings.class_steps)
        images = class_images.read_folder(Path(folder), settings.class_count, settings.resolution)
    except LibraryError as error:
        raise TrainError(str(error)) from None
    return Path(folder), images, generated


@contextlib.contextmanager
def _progress_bar(show: bool, start: int, total: int):
    """Yield advance(loss); with `show`, a rich progress bar with the latest loss is drawn meanwhile."""
    if not show:
        yield lambda loss: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("training"), BarColumn(), MofNCompleteColumn(), TextColumn("loss {task.fields[loss]}"),
               TimeRemainingColumn())
    with Progress(*columns) as bar:
        task = bar.add_task("training", total=total, completed=start, loss="-")
        yield lambda loss: bar.update(task, advance=1, loss=f"{loss:.4f}")


def _write_outputs(trainee: Trainee, settings: TrainSettings, lora: Path, step: int, loss: float | None,
                   class_dir: Path | None) -> Path:
    """Write the LoRA in the layout load_lora_weights reads, then the JSON of the settings beside it."""
    import diffusers
    import peft
    import torch
    from diffusers import StableDiffusionPipeline
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft.utils import get_peft_model_state_dict

    layers = {f"{prefix}_lora_layers": convert_state_dict_to_diffusers(get_peft_model_state_dict(part))
              for prefix, part in lora_parts(trainee)}
    temporary = f".{lora.name}.tmp"
    StableDiffusionPipeline.save_lora_weights(save_directory=str(lora.parent), weight_name=temporary,
                                              safe_serialization=True, **layers)
    share(lora.parent / temporary)  # safetensors writes 0600; a LoRA is meant to be shared like the storyboards
    os.replace(lora.parent / temporary, lora)
    document = {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(settings).items()}
    document.update(step=step, final_loss=loss, device=trainee.device, dtype=str(trainee.dtype).removeprefix("torch."),
                    class_dir=str(class_dir) if class_dir else None,
                    versions={"torch": torch.__version__, "diffusers": diffusers.__version__,
                              "peft": peft.__version__})
    settings_file = lora.with_suffix(".json")
    write_json(settings_file, document)
    return settings_file
