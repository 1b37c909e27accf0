"""Train a LoRA for a character or a shot type on the library's base SD 1.5 checkpoint (DreamBooth-LoRA).

LoRA layers go on the UNet's attention projections (and on the CLIP text encoder when asked); the
base weights stay frozen. Each step learns one training picture under its prompt and, with a class
prompt, one class image under the class prompt (prior preservation), in one batch. Checkpoints in
out/checkpoints/step-N/ hold what a later run needs to carry on exactly where this one stopped.
The result is out/<name>.safetensors, readable by pipe.load_lora_weights, and out/<name>.json.
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

from tools.train import class_images
from tools.files.atomic import share, write_json
from tools.models.hub import (PICKLE_SUFFIXES, check_source, checkpoint_family, first_line, offline, pick_device,
                       quiet_libraries)
from tools.models.library import LibraryError
from tools.train.checkpoints import (checkpoints, load_checkpoint, lora_parts, resume_from,
                                     save_checkpoint, write_validation)
from tools.train.data import Example, fit_image
from tools.train.settings import Trainee, TrainError, TrainResult, TrainSettings

KINDS = ("character", "shot")
PRECISIONS = ("auto", "fp16", "bf16", "fp32")
UNET_TARGETS = ["to_k", "to_q", "to_v", "to_out.0"]
TEXT_TARGETS = ["q_proj", "k_proj", "v_proj", "out_proj"]
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
    found = checkpoints(out)
    lora = out / f"{settings.name}.safetensors"
    if settings.resume and not found:
        raise TrainError(f"--resume: {out / 'checkpoints'} holds no checkpoint; expected a folder a "
                         "previous run wrote, or a run without --resume")
    if not settings.resume and (found or lora.exists()):
        raise TrainError(f"--out: {out} already holds a training run; pass --resume to carry on or "
                         "choose another --out")
    base = load_base(settings)
    class_dir, extra, generated = _class_images(settings, base[0])
    trainee = prepare(settings, base)
    start, loss, notices = 0, None, []
    if settings.resume:
        state, notices = resume_from(trainee, out)
        start, loss = state["step"], state.get("loss")
        for group in trainee.optimizer.param_groups:  # loading restored the old run's rate; --lr now wins
            group["lr"] = settings.lr
    noise_scheduler = DDPMScheduler.from_config(trainee.pipe.scheduler.config)
    embeddings: dict[str, object] = {}
    losses, prompts = [], []
    trainee.pipe.unet.train()
    if settings.text_encoder:
        trainee.pipe.text_encoder.train()
    pictures = [fit_image(example.image, settings.resolution) for example in examples]  # once, not every step
    with _progress_bar(progress, start, settings.steps) as advance:
        for step in range(start + 1, settings.steps + 1):
            index = example_index(settings.seed, step - 1, len(examples))
            example = examples[index]
            batch = [(pictures[index], example.prompt)]
            if extra:
                batch.append((extra[(step - 1) % len(extra)], settings.class_prompt))
            loss, encoded = _step(trainee, settings, noise_scheduler, batch, embeddings)
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
    step = max(start, settings.steps)
    settings_file = _write_outputs(trainee, settings, lora, step, loss, class_dir)
    return TrainResult(lora, settings_file, step, losses, prompts, class_dir, generated, start, notices)


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


def _step(trainee: Trainee, settings: TrainSettings, noise_scheduler, batch: list,
          embeddings: dict) -> tuple[float, str]:
    """Run one optimisation step on [(image, prompt), ...]; the first is the instance, a second the class image.

    Returns the loss and the prompt the instance picture was encoded with.
    """
    import numpy as np
    import torch
    import torch.nn.functional as F
    from diffusers.utils.torch_utils import randn_tensor

    pipe, device, generator = trainee.pipe, trainee.device, trainee.generator
    pixels = np.stack([np.asarray(image, dtype=np.float32) for image, _ in batch]) / 127.5 - 1.0
    pixels = torch.from_numpy(pixels).permute(0, 3, 1, 2).to(device, trainee.dtype)
    with trainee.autocast():
        with torch.no_grad():
            latents = pipe.vae.encode(pixels).latent_dist.sample(generator=generator)
            latents = latents * pipe.vae.config.scaling_factor
        noise = randn_tensor(latents.shape, generator=generator, device=torch.device(device), dtype=latents.dtype)
        timesteps = torch.randint(0, noise_scheduler.config.num_train_timesteps, (len(batch),),
                                  generator=generator).to(device)
        noisy = noise_scheduler.add_noise(latents, noise, timesteps)
        used = [prompt for _, prompt in batch]
        texts = torch.cat([_embed(trainee, settings, prompt, embeddings) for prompt in used])
        predicted = pipe.unet(noisy, timesteps, texts).sample
    if noise_scheduler.config.prediction_type == "v_prediction":
        target = noise_scheduler.get_velocity(latents, noise, timesteps)
    else:
        target = noise
    each = F.mse_loss(predicted.float(), target.float(), reduction="none").mean(dim=(1, 2, 3))
    loss = each[0] + settings.prior_weight * each[1] if len(batch) > 1 else each[0]
    if not torch.isfinite(loss):
        return float(loss.item()), used[0]
    trainee.optimizer.zero_grad(set_to_none=True)
    trainee.scaler.scale(loss).backward()
    trainee.scaler.unscale_(trainee.optimizer)
    torch.nn.utils.clip_grad_norm_(trainee.params, 1.0)
    trainee.scaler.step(trainee.optimizer)
    trainee.scaler.update()
    return float(loss.item()), used[0]


def _embed(trainee: Trainee, settings: TrainSettings, prompt: str, cache: dict):
    """Encode a prompt with the text encoder; kept per prompt while the text encoder is frozen."""
    import torch

    if prompt in cache:
        return cache[prompt]
    tokenizer = trainee.pipe.tokenizer
    ids = tokenizer(prompt, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                    return_tensors="pt").input_ids.to(trainee.device)
    if settings.text_encoder:
        return trainee.pipe.text_encoder(ids)[0]
    with torch.no_grad():
        cache[prompt] = trainee.pipe.text_encoder(ids)[0]
    return cache[prompt]


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
