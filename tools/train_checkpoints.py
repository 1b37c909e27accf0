"""Training checkpoints (LoRA weights, optimizer and random state, so a run carries on exactly) and
the validation pictures drawn beside them."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from tools.atomic import write_json, write_png
from tools.hub import first_line
from tools.train_settings import TrainError, Trainee, TrainSettings

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
    torch.save(trainee.optimizer.state_dict(), temporary / "optimizer.pt")
    torch.save({"generator": trainee.generator.get_state(), "scaler": trainee.scaler.state_dict()},
               temporary / "random.pt")
    write_json(temporary / "state.json", {"step": step, "loss": loss})
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(temporary, folder)
    for _, old in checkpoints(out)[:-KEEP_CHECKPOINTS]:
        shutil.rmtree(old)
    return folder


def load_checkpoint(trainee: Trainee, folder: Path) -> dict:
    """Restore LoRA weights, optimizer state and random state from a checkpoint; return its state.json."""
    import torch
    from peft.utils import set_peft_model_state_dict
    from safetensors.torch import load_file

    layers = load_file(str(folder / "lora.safetensors"))
    try:
        for prefix, part in lora_parts(trainee):
            mine = {k[len(prefix) + 1:]: v for k, v in layers.items() if k.startswith(prefix + ".")}
            if not mine:
                raise ValueError(f"no {prefix} LoRA weights")
            set_peft_model_state_dict(part, mine)
        # map_location: a checkpoint written on a GPU carries on anywhere; the optimizer moves its state over
        trainee.optimizer.load_state_dict(torch.load(folder / "optimizer.pt", map_location="cpu", weights_only=True))
        random_state = torch.load(folder / "random.pt", map_location="cpu", weights_only=True)
        trainee.generator.set_state(random_state["generator"])
        if random_state["scaler"] and trainee.scaler.is_enabled():  # the scaler runs only in float16
            trainee.scaler.load_state_dict(random_state["scaler"])
    except (RuntimeError, ValueError, KeyError) as error:
        raise TrainError(f"{folder}: the checkpoint does not fit these settings ({first_line(error)}); "
                         "expected the same --rank and --text-encoder as the run that wrote it") from None
    return json.loads((folder / "state.json").read_text(encoding="utf-8"))


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
