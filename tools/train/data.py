"""Training pictures for a LoRA: read a folder, square each picture to the training size, pair it with a prompt.

Files that cannot serve (unreadable, too small, an empty caption) are set aside with a reason rather
than stopping the run; only a folder with too few usable pictures is an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

from tools.errors import FileRefused, TrainDataError
from tools.files.bounded import SMALL_LIMIT, read_bytes
from tools.files.text import clean

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
"""File endings read as training pictures (any letter case); other files in the folder are ignored."""
CAPTION_SUFFIX = ".txt"
MIN_IMAGES = 3
"""Fewest usable pictures a LoRA is trained on."""
CROPS = ("centre", "top")


@dataclass(frozen=True)
class Example:
    """One training picture, already square at the training size, with the prompt it is learned under."""

    path: Path
    image: Image.Image
    """RGB, resolution x resolution."""
    prompt: str
    notice: str | None = None
    """Something worth telling the person that did not stop the picture being used (a missing caption)."""


def fit_image(image: Image.Image, resolution: int, crop: str = "centre") -> Image.Image:
    """Scale the shorter side to `resolution` (Lanczos) and cut a square from the rest.

    "centre" cuts equally from both ends of the longer side; "top" keeps the top of a tall picture, so a
    head near the top edge survives, and still centres a wide one.
    """
    if crop not in CROPS:
        raise ValueError(f"crop: expected one of {', '.join(CROPS)}, got {crop!r}")
    width, height = image.size
    scale = resolution / min(width, height)
    size = (max(resolution, round(width * scale)), max(resolution, round(height * scale)))
    image = image.resize(size, Image.Resampling.LANCZOS) if size != image.size else image
    left = (size[0] - resolution) // 2
    top = 0 if crop == "top" else (size[1] - resolution) // 2
    return image.crop((left, top, left + resolution, top + resolution))


def _rgb(image: Image.Image) -> Image.Image:
    """Return an RGB copy; transparent parts become white rather than whatever colour they hid."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def _open(path: Path, smallest: int) -> Image.Image | str:
    """Return the picture upright and in RGB, or the reason it cannot be used."""
    try:
        with Image.open(path) as opened:
            opened.load()
            image = ImageOps.exif_transpose(opened) or opened
            image = _rgb(image)
    except Image.DecompressionBombError:
        return "larger than Pillow will open safely"
    except Exception:  # any decoder failure on a person's file means the same thing: it cannot be used
        return "not an image Pillow can read"
    if min(image.size) < smallest:
        return f"too small: {image.width}x{image.height}, expected at least {smallest} px on the shorter side"
    return image


def _caption(path: Path) -> tuple[str | None, str | None]:
    """Return the caption beside a picture with whitespace collapsed (None when there is no caption file),
    and the reason it cannot be used (None when it can)."""
    text_file = path.with_suffix(CAPTION_SUFFIX)
    if not text_file.is_file():
        return None, None
    try:
        raw = read_bytes(text_file, SMALL_LIMIT, "caption (text)")
    except FileRefused as error:
        return None, f"caption file {text_file.name} {str(error).split(': ', 1)[-1]}"
    except OSError as error:
        return None, f"caption file {text_file.name} cannot be read ({error.strerror or error})"
    text = " ".join(clean(raw.decode("utf-8", errors="replace")).split())
    return text, None if text else f"caption file {text_file.name} is empty"


def _pictures(folder: Path) -> list[Path]:
    if not folder.exists():
        raise TrainDataError(f"{folder}: no such folder; expected a folder of training images "
                             f"({', '.join(IMAGE_SUFFIXES)})")
    if not folder.is_dir():
        raise TrainDataError(f"{folder}: not a folder; expected a folder of training images")
    try:
        entries = sorted(folder.iterdir(), key=lambda p: p.name)
    except OSError as error:
        raise TrainDataError(f"{folder}: cannot list the folder ({error.strerror or error})") from None
    found = [p for p in entries if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
             and p.is_file()]
    if not found:
        raise TrainDataError(f"{folder}: no images; expected at least {MIN_IMAGES} files ending in "
                             f"{', '.join(IMAGE_SUFFIXES)}")
    return found


def _summary(skipped: list[tuple[Path, str]]) -> str:
    shown = "; ".join(f"{path.name}: {reason}" for path, reason in skipped[:3])
    more = f"; and {len(skipped) - 3} more" if len(skipped) > 3 else ""
    return f" ({len(skipped)} skipped: {shown}{more})" if skipped else ""


def read_examples(folder: Path, resolution: int, prompt: str, captions: bool = False,
                  crop: str = "centre") -> tuple[list[Example], list[tuple[Path, str]]]:
    """Read every picture in `folder` (not its subfolders), in name order, as a training example.

    Returns the usable examples and the files set aside, each with its reason. A picture's prompt is
    `prompt` unless `captions` is true and a NAME.txt beside it holds one; a missing caption keeps
    `prompt` and leaves a notice on the example. Hidden files and files of other kinds are ignored.
    Raises TrainDataError for a missing or empty folder, or fewer than MIN_IMAGES usable pictures.
    """
    smallest = resolution // 2
    examples: list[Example] = []
    skipped: list[tuple[Path, str]] = []
    for path in _pictures(folder):
        opened = _open(path, smallest)
        if isinstance(opened, str):
            skipped.append((path, opened))
            continue
        text, notice = prompt, None
        if captions:
            caption, problem = _caption(path)
            if problem:
                skipped.append((path, problem))
                continue
            if caption is None:
                notice = f"no caption file {path.stem}{CAPTION_SUFFIX}; using {prompt!r}"
            else:
                text = caption
        examples.append(Example(path, fit_image(opened, resolution, crop), text, notice))
    if len(examples) < MIN_IMAGES:
        raise TrainDataError(f"{folder}: expected at least {MIN_IMAGES} usable images; found {len(examples)}"
                             f"{_summary(skipped)}")
    return examples, skipped
