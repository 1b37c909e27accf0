"""Training checkpoints (LoRA weights, optimizer and random state, so a run carries on exactly) and
the validation pictures drawn beside them."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from tools.errors import CheckpointDamaged, TrainError
from tools.files.atomic import share, write_json, write_png
from tools.files.bounded import SMALL_LIMIT, read_text
from tools.models.hub import first_line
from tools.train.settings import Trainee, TrainSettings

KEEP_CHECKPOINTS = 2


def checkpoints(out: Path) -> list[tuple[int, Path]]:
    """Return the finished checkpoints under out/checkpoints as (step, folder), oldest first."""
    folder = Path(out) / "checkpoints"
    found = []
    for path in folder.iterdir() if folder.is_dir() else ():
        match = re.fullmatch(r"step-(\d+)", path.name)
        if match and (path / "state.json").is_file():
            found.append((int(match.group(1)), path))
    return sorted(found)


def save_checkpoint(trainee: Trainee, out: Path, step: int, loss: float | None) -> Path:
    """Write out/checkpoints/step-<step>/ (LoRA weights, optimizer, random state) and keep the last two."""
    import torch
    from peft.utils import get_peft_model_state_dict
    from safetensors.torch import save_file

    folder = Path(out) / "checkpoints" / f"step-{step}"
    temporary = folder.with_name(f".step-{step}.tmp")
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(parents=True)
    layers = {}
    for prefix, part in lora_parts(trainee):
        layers.update({f"{prefix}.{k}": v.detach().contiguous() for k, v in get_peft_model_state_dict(part).items()})
    save_file(layers, str(temporary / "lora.safetensors"))
    share(temporary / "lora.safetensors")  # safetensors writes its files private
    torch.save(trainee.optimizer.state_dict(), temporary / "optimizer.pt")
    torch.save({"generator": trainee.generator.get_state(), "scaler": trainee.scaler.state_dict()},
               temporary / "random.pt")
    write_json(temporary / "state.json", {"step": step, "loss": loss})
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(temporary, folder)
    for _, old in checkpoints(out)[:-KEEP_CHECKPOINTS]:
        shutil.rmtree(old)
    return folder


def read_checkpoint(folder: Path) -> tuple[dict, dict, dict, dict]:
    """Read every file of a checkpoint without touching a model: (LoRA layers, optimizer, random state, state.json).

    Raises CheckpointDamaged naming the file that cannot be read; nothing else is judged here.
    """
    import torch
    from safetensors.torch import load_file

    def damaged(name: str, error: BaseException) -> CheckpointDamaged:
        return CheckpointDamaged(f"{folder / name}: damaged ({first_line(error) or type(error).__name__}); "
                                 "expected a file a finished checkpoint wrote")

    try:
        layers = load_file(str(folder / "lora.safetensors"))
    except Exception as error:  # safetensors raises its own error type for a cut-off file
        raise damaged("lora.safetensors", error) from None
    loaded = []
    for name in ("optimizer.pt", "random.pt"):
        try:
            loaded.append(torch.load(folder / name, map_location="cpu", weights_only=True))
        except Exception as error:  # a cut-off zip, a bad pickle, a missing file: each its own type
            raise damaged(name, error) from None
    try:
        state = json.loads(read_text(folder / "state.json", SMALL_LIMIT, "checkpoint state (JSON)"))
        if not isinstance(state, dict) or isinstance(state.get("step"), bool) or not isinstance(state.get("step"), int):
            raise ValueError("no whole step number")
    except (OSError, ValueError) as error:
        raise damaged("state.json", error) from None
    optimizer, random_state = loaded
    if not isinstance(optimizer, dict) or not isinstance(random_state, dict) or "generator" not in random_state:
        raise CheckpointDamaged(f"{folder}: the optimizer or random state holds something else; expected the "
                                "files a finished checkpoint wrote")
    return layers, optimizer, random_state, state


def load_checkpoint(trainee: Trainee, folder: Path) -> dict:
    """Restore LoRA weights, optimizer state and random state from a checkpoint; return its state.json.

    Raises CheckpointDamaged when a file cannot be read, before anything is restored, and TrainError when the
    files read but do not fit the trainee (another --rank or --text-encoder).
    """
    from peft.utils import set_peft_model_state_dict

    layers, optimizer, random_state, state = read_checkpoint(folder)
    try:
        for prefix, part in lora_parts(trainee):
            mine = {k[len(prefix) + 1:]: v for k, v in layers.items() if k.startswith(prefix + ".")}
            if not mine:
                raise ValueError(f"no {prefix} LoRA weights")
            set_peft_model_state_dict(part, mine)
        # map_location: a checkpoint written on a GPU carries on anywhere; the optimizer moves its state over
        trainee.optimizer.load_state_dict(optimizer)
        trainee.generator.set_state(random_state["generator"])
        if random_state.get("scaler") and trainee.scaler.is_enabled():  # the scaler runs only in float16
            trainee.scaler.load_state_dict(random_state["scaler"])
    except (RuntimeError, ValueError, KeyError, TypeError) as error:
        raise TrainError(f"{folder}: the checkpoint does not fit these settings ({first_line(error)}); "
                         "expected the same --rank and --text-encoder as the run that wrote it") from None
    return state


def resume_from(trainee: Trainee, out: Path) -> tuple[dict, list[str]]:
    """Restore the newest checkpoint under out/checkpoints that can be read; return its state.json and notices.

    A damaged checkpoint (a file cut short) is moved aside as out/checkpoints/damaged-step-N and the one
    before it is tried, so a crash while saving costs the steps since the previous checkpoint, not the run.
    Raises TrainError when none can be read, or when one reads but does not fit these settings.
    """
    notices = []
    for step, folder in reversed(checkpoints(out)):
        try:
            state = load_checkpoint(trainee, folder)
        except CheckpointDamaged as error:
            aside = folder.with_name(f"damaged-step-{step}")
            shutil.rmtree(aside, ignore_errors=True)
            os.replace(folder, aside)
            notices.append(f"{error}; moved it aside to {aside.name} and went back to the checkpoint before it")
            continue
        return state, notices
    raise TrainError(f"--resume: no checkpoint under {Path(out) / 'checkpoints'} can be read "
                     f"({'; '.join(notices) or 'none found'}); expected a run without --resume")


def lora_parts(trainee: Trainee) -> list[tuple[str, object]]:
    """Return the modules carrying LoRA layers, each with its key prefix ("unet", "text_encoder")."""
    parts = [("unet", trainee.pipe.unet)]
    if getattr(trainee.pipe.text_encoder, "peft_config", None):
        parts.append(("text_encoder", trainee.pipe.text_encoder))
    return parts


def write_validation(trainee: Trainee, settings: TrainSettings, step: int) -> list[Path]:
    """Draw the instance prompt with the LoRA as it is now (fixed seeds) into out/validation/."""
    import torch

    pipe, written = trainee.pipe, []
    pipe.unet.eval()
    pipe.text_encoder.eval()
    for k in range(settings.validation_images):
        with torch.no_grad(), trainee.autocast():
            image = pipe(settings.instance_prompt, num_inference_steps=settings.class_steps,
                         height=settings.resolution, width=settings.resolution,
                         generator=torch.Generator("cpu").manual_seed(settings.seed + k)).images[0]
        path = Path(settings.out) / "validation" / f"step-{step}-{k}.png"
        write_png(path, image)
        written.append(path)
    pipe.unet.train()
    if settings.text_encoder:
        pipe.text_encoder.train()
    return written
