"""The animatic: every shot's image held for its duration, written as an MP4 video or an animated GIF.

Frame counts are rounded on the running total, so the video never drifts more than a frame from the sum
of the durations, and the timeline (tools/timeline.py) uses the same counts so both files cut together.
Frames are streamed to the encoder one at a time; a still shot is drawn once and repeated.
"""

from __future__ import annotations

import math
import os
import secrets
import shutil
import subprocess
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

from prompts.shot_types import SHOT_TYPES
from tools.shot_list import Board, ExportError, Shot

FPS = 24
PUSH_IN = 0.08
"""How much a wide shot is magnified by the end of its push-in (1.0 to 1.08)."""
WIDE = frozenset(t.slug for t in sorted(SHOT_TYPES, key=lambda t: t.rank)[-3:])
"""The three shot types farthest from the subject (full, long, extreme long): the ones that push in."""
GIF_STEPS = 6
"""Pictures per second in a GIF while a wide shot pushes in."""
FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/TTF/DejaVuSans.ttf",
         "/usr/share/fonts/dejavu/DejaVuSans.ttf", "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
         "/Library/Fonts/DejaVuSans.ttf", "C:/Windows/Fonts/DejaVuSans.ttf")


def split_on_total(seconds: list[float], per_second: float) -> list[int]:
    """Turn durations into whole units (frames, centiseconds), rounding where each one ends on the running
    total so the units add up to within one of the exact sum. A duration shorter than one unit still gets
    one, so no shot vanishes; the following ones give that unit back."""
    units, end, total = [], 0, 0.0
    for value in seconds:
        if not math.isfinite(value) or value <= 0:
            raise ExportError(f"a shot lasts {value!r} s; every shot needs a positive duration")
        total += value
        units.append(max(end + 1, round(total * per_second)) - end)
        end += units[-1]
    return units


def frame_counts(board: Board, fps: int = FPS) -> list[int]:
    """Return the video frames each shot is held for at `fps`, rounded on the running total so the whole
    never drifts more than one frame from the sum of durations."""
    if fps <= 0:
        raise ExportError(f"expected a positive frame rate, got {fps}")
    return split_on_total([shot.duration for shot in board.shots], fps)


def write_animatic(board: Board, path: Path, fps: int = FPS, captions: bool = False, push_in: bool = False,
                   width: int | None = None) -> float:
    """Write the animatic as an MP4 (path ends in .mp4) or a GIF (.gif) and return its length in seconds.

    `captions` burns a bar with the frame number, shot name and first line into the bottom of each frame;
    `push_in` slowly magnifies wide shots; `width` scales the frames (the height follows the first image).
    The file is written under a temporary name and renamed, so a failure never leaves half of one.
    """
    kind = path.suffix.lower()
    if kind not in (".mp4", ".gif"):
        raise ExportError(f"{path}: an animatic is written as .mp4 or .gif, not {path.suffix or 'no suffix'!r}")
    if not board.shots:
        raise ExportError(f"{board.folder}: the storyboard has no shots to animate")
    counts = frame_counts(board, fps)
    size = _frame_size(board, width, even=kind == ".mp4")
    try:
        with replacing(path) as temporary:
            write = _write_mp4 if kind == ".mp4" else _write_gif
            write(board, temporary, counts, fps, size, captions, push_in)
    except ExportError:
        raise
    except (OSError, RuntimeError, ValueError) as error:
        first = str(error).strip().splitlines()[:1] or [type(error).__name__]
        raise ExportError(f"{path}: cannot write the animatic ({first[0]})") from None
    return sum(counts) / fps


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Yield a new name beside `path` with the same suffix; once the block has written it, rename it over
    `path` in one step. Whatever the block leaves there after a failure is removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.{secrets.token_hex(4)}{path.suffix}")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        if temporary.is_dir():
            shutil.rmtree(temporary, ignore_errors=True)
        else:
            temporary.unlink(missing_ok=True)


def _write_mp4(board: Board, path: Path, counts: list[int], fps: int, size: tuple[int, int],
               captions: bool, push_in: bool) -> None:
    import imageio.v2 as imageio

    writer = imageio.get_writer(path, format="FFMPEG", fps=fps, codec="libx264", quality=8, macro_block_size=1,
                                pixelformat="yuv420p", ffmpeg_log_level="error",
                                output_params=["-movflags", "+faststart"])
    try:
        for shot, count in zip(board.shots, counts):
            moving = push_in and shot.shot_type in WIDE
            for image in _pictures(board, shot, size, count if moving else 1, moving, captions):
                pixels = np.asarray(image)
                for _ in range(1 if moving else count):
                    writer.append_data(pixels)
    finally:
        writer.close()


def _write_gif(board: Board, path: Path, counts: list[int], fps: int, size: tuple[int, int],
               captions: bool, push_in: bool) -> None:
    steps = [max(1, round(count / fps * GIF_STEPS)) if push_in and shot.shot_type in WIDE else 1
             for shot, count in zip(board.shots, counts)]
    # Each step's share of its shot, in seconds; GIF delays are stored in hundredths of a second.
    shares = [count / fps / n for count, n in zip(counts, steps) for _ in range(n)]
    delays = [10 * cs for cs in split_on_total(shares, 100)]
    frames = (image for shot, n in zip(board.shots, steps)
              for image in _pictures(board, shot, size, n, n > 1, captions))
    first = next(frames)
    # Pillow merges a picture identical to the one before into it, adding up their delays.
    first.save(path, format="GIF", save_all=True, append_images=frames, duration=delays, loop=0)


def _pictures(board: Board, shot: Shot, size: tuple[int, int], steps: int, moving: bool,
              captions: bool) -> Iterator[Image.Image]:
    """Yield `steps` pictures of a shot, pushing in from 1.0 to 1 + PUSH_IN when `moving`."""
    base = _load(board, shot, size)
    overlay = _caption_layer(shot, size) if captions else None
    for step in range(steps):
        scale = 1 + PUSH_IN * step / (steps - 1) if moving and steps > 1 else 1.0
        image = _zoom(base, scale) if scale != 1.0 else base.copy()
        if overlay is not None:
            image.paste(overlay, (0, 0), overlay)
        yield image


def _load(board: Board, shot: Shot, size: tuple[int, int] | None = None) -> Image.Image:
    """Read a shot's image as RGB, fitted into `size` with black bars where the shape differs."""
    try:
        with Image.open(board.image(shot)) as image:
            rgb = image.convert("RGB")
    except OSError as error:
        raise ExportError(f"{board.image(shot)}: cannot read the image of frame {shot.number} ({error})") from None
    return rgb if size is None else ImageOps.pad(rgb, size, Image.Resampling.LANCZOS, color="black")


def _frame_size(board: Board, width: int | None, even: bool) -> tuple[int, int]:
    """The animatic's size: the first image's, scaled to `width`; even sides where the video needs them."""
    w, h = _load(board, board.shots[0]).size
    if width is not None:
        if width < 2:
            raise ExportError(f"an animatic needs a width of at least 2 pixels, got {width}")
        w, h = width, max(1, round(h * width / w))
    if even:
        w, h = max(2, w - w % 2), max(2, h - h % 2)
    return w, h


def _zoom(image: Image.Image, scale: float) -> Image.Image:
    """Magnify the centre of an image by `scale`, keeping its size."""
    w, h = image.size
    cw, ch = w / scale, h / scale
    box = ((w - cw) / 2, (h - ch) / 2, (w + cw) / 2, (h + ch) / 2)
    return image.resize((w, h), Image.Resampling.BICUBIC, box=box)


def _caption_layer(shot: Shot, size: tuple[int, int]) -> Image.Image:
    """A transparent layer with a dark bar at the bottom holding the shot's caption."""
    w, h = size
    points = max(8, round(h / 28))
    font = _font(points)
    pad = max(2, points // 2)
    text = shot.dialogue[0].line() if shot.dialogue else shot.action
    title = f"Frame {shot.number} \u00b7 {shot.shot_name}"
    lines = _wrap(title, font, w - 2 * pad, 1) + _wrap(text, font, w - 2 * pad, 2)
    step = points + max(1, points // 4)
    top = max(0, h - (len(lines) * step + 2 * pad))
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    draw.rectangle((0, top, w, h), fill=(0, 0, 0, 220))
    for i, line in enumerate(lines):
        draw.text((pad, top + pad + i * step), line, font=font, fill=(255, 255, 255, 255))
    return layer


def _wrap(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: float, most: int) -> list[str]:
    """Break text into at most `most` lines that fit `width`, ending the last with an ellipsis if cut."""
    lines: list[str] = []
    for word in text.split():
        if lines and font.getlength(f"{lines[-1]} {word}") <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    if len(lines) > most:
        lines = lines[:most]
        while lines[-1] and font.getlength(lines[-1] + "\u2026") > width:
            lines[-1] = lines[-1][:-1]
        lines[-1] += "\u2026"
    return lines


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans at `size` pixels where the system has it, else Pillow's built-in font at that size."""
    path = next((path for path in FONTS if Path(path).is_file()), "") or _fc_match()
    try:
        return ImageFont.truetype(path, size) if path else ImageFont.load_default(size=size)
    except OSError:
        return ImageFont.load_default(size=size)


def _fc_match() -> str:
    """Ask fontconfig where DejaVu Sans (or its nearest sans-serif) is; empty where fontconfig is missing."""
    try:
        found = subprocess.run(["fc-match", "-f", "%{file}", "DejaVu Sans"], capture_output=True, text=True,
                               timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return found.stdout.strip()
