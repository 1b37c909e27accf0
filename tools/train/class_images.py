"""Class images for prior preservation: drawn once by the base model and cached, or read from a folder.

Generated images live in <cache>/class-images/<digest>/0000.png, 0001.png, ...; the digest covers the
base model (its path and newest file time when local), the class prompt, the resolution and the
denoising steps, so a changed model or prompt gets a fresh folder. Image i is always drawn from seed i,
which makes a half-filled folder complete the same way whenever it is finished.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from PIL import Image

from tools.errors import LibraryError
from tools.files.atomic import write_bytes, write_png
from tools.models.library import is_hub_id
from tools.train.data import fit_image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def cache_root(cache: Path | None) -> Path:
    """Return the cache folder: `cache` when given, else $SHOTSMITH_CACHE, else ~/.cache/shotsmith."""
    if cache is not None:
        return Path(cache)
    return Path(os.environ.get("SHOTSMITH_CACHE") or Path.home() / ".cache" / "shotsmith")


def base_stamp(base: str) -> str:
    """Return the base model's name, plus the newest modification time of its files when it is local."""
    path = Path(base)
    if is_hub_id(base) or not path.exists():
        return base
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    newest = max((p.stat().st_mtime_ns for p in files), default=0)
    return f"{path.resolve()}@{newest}"


def class_folder(cache: Path | None, base: str, prompt: str, resolution: int, steps: int) -> Path:
    """Return the cache folder that holds the class images of this model, prompt, resolution and steps."""
    key = json.dumps([base_stamp(base), prompt, resolution, steps])
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    return cache_root(cache) / "class-images" / digest


def generate(pipe: object, folder: Path, prompt: str, count: int, resolution: int, steps: int) -> int:
    """Draw the class images missing from `folder` with `pipe`; return how many were drawn."""
    import torch

    missing = [i for i in range(count) if not (folder / f"{i:04d}.png").is_file()]
    for index in missing:
        generator = torch.Generator("cpu").manual_seed(index)
        image = pipe(prompt, num_inference_steps=steps, height=resolution, width=resolution,
                     generator=generator).images[0]
        write_png(folder / f"{index:04d}.png", image)
    if missing:
        write_bytes(folder / "prompt.txt", (prompt + "\n").encode("utf-8"))
    return len(missing)


def read_folder(folder: Path, count: int, resolution: int, key: str = "--class-images") -> list[Image.Image]:
    """Read up to `count` images (sorted by name) from `folder`, squared to resolution x resolution."""
    if not folder.is_dir():
        raise LibraryError(f"{key}: {folder} is not a folder; expected a folder of class images")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[:count]
    if not files:
        raise LibraryError(f"{key}: {folder} holds no images; expected .png, .jpg or .webp files")
    images = []
    for file in files:
        try:
            with Image.open(file) as image:
                images.append(fit_image(image.convert("RGB"), resolution))
        except OSError as error:
            raise LibraryError(f"{key}: {file} cannot be read ({error}); expected an image file") from None
    return images

