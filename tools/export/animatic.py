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
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image, ImageDraw, ImageOps, ImageSequence

from prompts.shot_types import SHOT_TYPES
from tools import fonts
from tools.errors import ExportFailed, ExportRefused, ShotsmithError
from tools.export.shot_list import Board, Shot

FPS = 24
PUSH_IN = 0.08
"""How much a wide shot is magnified by the end of its push-in (1.0 to 1.08)."""
MOVES = ("push_in", "pull_out", "pan")
"""The camera movements the animatic plays; the others (tilt, tracking, handheld) hold the picture still."""
WIDE = frozenset(t.slug for t in sorted(SHOT_TYPES, key=lambda t: t.rank)[-3:])
"""The three shot types farthest from the subject (full, long, extreme long): the ones that push in."""
GIF_STEPS = 6
"""Pictures per second in a GIF while a wide shot pushes in."""


def split_on_total(seconds: list[float], per_second: float) -> list[int]:
    """Turn durations into whole units (frames, centiseconds), rounding where each one ends on the running
    total so the units add up to within one of the exact sum. A duration shorter than one unit still gets
    one, so no shot vanishes; the following ones give that unit back."""
    units, end, total = [], 0, 0.0
    for value in seconds:
        if not math.isfinite(value) or value <= 0:
            raise ExportRefused(f"a shot lasts {value!r} s; every shot needs a positive duration")
        total += value
        units.append(max(end + 1, round(total * per_second)) - end)
        end += units[-1]
    return units


def frame_counts(board: Board, fps: int = FPS) -> list[int]:
    """Return the video frames each shot is held for at `fps`, rounded on the running total so the whole
    never drifts more than one frame from the sum of durations."""
    if fps <= 0:
        raise ExportRefused(f"expected a positive frame rate, got {fps}")
    return split_on_total([shot.duration for shot in board.shots], fps)


def write_animatic(board: Board, path: Path, fps: int = FPS, captions: bool = False, push_in: bool = False,
                   width: int | None = None) -> float:
    """Write the animatic as an MP4 (path ends in .mp4) or a GIF (.gif) and return its length in seconds.

    `captions` burns a bar with the frame number, shot name and first line into the bottom of each frame;
    A shot planned to push in, pull out or pan moves that way; `push_in` slowly magnifies the still wide shots
    too; `width` scales the frames (the height follows the first image).
    The file is written under a temporary name, read back, and renamed only when it holds every frame, so
    a failure (a full disk included) never leaves half of one and keeps the earlier file.
    """
    kind = path.suffix.lower()
    if kind not in (".mp4", ".gif"):
        raise ExportRefused(f"{path}: an animatic is written as .mp4 or .gif, not {path.suffix or 'no suffix'!r}")
    if not board.shots:
        raise ExportRefused(f"{board.folder}: the storyboard has no shots to animate")
    counts = frame_counts(board, fps)
    size = _frame_size(board, width, even=kind == ".mp4")
    try:
        with replacing(path) as temporary:
            write = _write_mp4 if kind == ".mp4" else _write_gif
            meant = write(board, temporary, counts, fps, size, captions, push_in)
            _check(temporary, path, meant, fps)
    except ShotsmithError:
        raise
    except (OSError, RuntimeError, ValueError) as error:
        first = str(error).strip().splitlines()[:1] or [type(error).__name__]
        raise ExportFailed(f"{path}: cannot write the animatic ({first[0]})") from None
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


def _check(written: Path, path: Path, meant: int, fps: int) -> None:
    """Read a written animatic back and raise ExportFailed unless it is as long as meant: `meant` frames
    for an MP4, `meant` milliseconds for a GIF. ffmpeg can end without an error on a full disk, leaving a
    stub that no player can use; a GIF is checked the same way."""
    if written.suffix.lower() == ".mp4":
        found, seconds = _mp4_length(written)
        if found != meant or abs(seconds - meant / fps) > 1.5 / fps:
            raise ExportFailed(f"{path}: the video read back holds {found} frames ({seconds:.2f} s), expected "
                              f"{meant} ({meant / fps:.2f} s); the disk may be full (nothing was replaced)")
    elif (found := _gif_length(written)) != meant:
        raise ExportFailed(f"{path}: the GIF read back lasts {found / 1000:.2f} s, expected {meant / 1000:.2f} s; "
                          "the disk may be full (nothing was replaced)")


def _mp4_length(path: Path) -> tuple[int, float]:
    """Return the frames and seconds ffmpeg decodes from a video; (0, 0.0) when it cannot read it."""
    import imageio_ffmpeg

    try:
        return imageio_ffmpeg.count_frames_and_secs(str(path))
    except (OSError, RuntimeError, ValueError):
        return 0, 0.0


def _gif_length(path: Path) -> int:
    """Return the milliseconds a GIF lasts, counting its pictures up to the first one that cannot be read."""
    total = 0
    try:
        with Image.open(path) as gif:
            for picture in ImageSequence.Iterator(gif):
                picture.load()
                total += int(picture.info.get("duration", 0))
    except Exception:  # Pillow fails on a cut-off GIF in many ways (OSError, EOFError, IndexError, ...)
        pass  # what was read so far is what the file holds
    return total


def _write_mp4(board: Board, path: Path, counts: list[int], fps: int, size: tuple[int, int],
               captions: bool, push_in: bool) -> int:
    """Stream the shots to ffmpeg as H.264; return the number of frames written."""
    import imageio.v2 as imageio

    writer = imageio.get_writer(path, format="FFMPEG", fps=fps, codec="libx264", quality=8, macro_block_size=1,
                                pixelformat="yuv420p", ffmpeg_log_level="error",
                                output_params=["-movflags", "+faststart"])
    try:
        for shot, count in zip(board.shots, counts):
            motion = motion_of(shot, push_in)
            for image in _pictures(board, shot, size, count if motion else 1, motion, captions):
                pixels = np.asarray(image)
                for _ in range(1 if motion else count):
                    writer.append_data(pixels)
    finally:
        writer.close()
    return sum(counts)


def _write_gif(board: Board, path: Path, counts: list[int], fps: int, size: tuple[int, int],
               captions: bool, push_in: bool) -> int:
    """Write the shots as an animated GIF; return how many milliseconds it lasts."""
    steps = [max(1, round(count / fps * GIF_STEPS)) if motion_of(shot, push_in) else 1
             for shot, count in zip(board.shots, counts)]
    # Each step's share of its shot, in seconds; GIF delays are stored in hundredths of a second.
    shares = [count / fps / n for count, n in zip(counts, steps) for _ in range(n)]
    delays = [10 * cs for cs in split_on_total(shares, 100)]
    frames = (image for shot, n in zip(board.shots, steps)
              for image in _pictures(board, shot, size, n, motion_of(shot, push_in) if n > 1 else "", captions))
    first = next(frames)
    # Pillow merges a picture identical to the one before into it, adding up their delays.
    first.save(path, format="GIF", save_all=True, append_images=frames, duration=delays, loop=0)
    return sum(delays)


def motion_of(shot: Shot, push_in: bool) -> str:
    """How the animatic moves over a shot: the shot's own push in, pull out or pan; with `push_in`, a still wide
    shot pushes in too; "" holds it still."""
    if shot.movement in MOVES:
        return shot.movement
    return "push_in" if push_in and shot.shot_type in WIDE else ""


def _pictures(board: Board, shot: Shot, size: tuple[int, int], steps: int, motion: str,
              captions: bool) -> Iterator[Image.Image]:
    """Yield `steps` pictures of a shot moving as `motion` says: pushing in from 1.0 to 1 + PUSH_IN, pulling out
    the other way, or panning left to right across the picture magnified by 1 + PUSH_IN."""
    base = _load(board, shot, size)
    overlay = _caption_layer(shot, size) if captions else None
    for step in range(steps):
        done = step / (steps - 1) if motion and steps > 1 else 0.0
        scale, shift = {"push_in": (1 + PUSH_IN * done, 0.0), "pull_out": (1 + PUSH_IN * (1 - done), 0.0),
                        "pan": (1 + PUSH_IN, 2 * done - 1)}.get(motion, (1.0, 0.0))
        image = _zoom(base, scale, shift) if scale != 1.0 else base.copy()
        if overlay is not None:
            image.paste(overlay, (0, 0), overlay)
        yield image


def _load(board: Board, shot: Shot, size: tuple[int, int] | None = None) -> Image.Image:
    """Read a shot's image as RGB, fitted into `size` with black bars where the shape differs."""
    try:
        with Image.open(board.image(shot)) as image:
            rgb = image.convert("RGB")
    except OSError as error:
        raise ExportFailed(f"{board.image(shot)}: cannot read the image of frame {shot.number} ({error})") from None
    return rgb if size is None else ImageOps.pad(rgb, size, Image.Resampling.LANCZOS, color="black")


def _frame_size(board: Board, width: int | None, even: bool) -> tuple[int, int]:
    """The animatic's size: the first image's, scaled to `width`; even sides where the video needs them."""
    w, h = _load(board, board.shots[0]).size
    if width is not None:
        if width < 2:
            raise ExportRefused(f"an animatic needs a width of at least 2 pixels, got {width}")
        w, h = width, max(1, round(h * width / w))
    if even:
        w, h = max(2, w - w % 2), max(2, h - h % 2)
    return w, h


def _zoom(image: Image.Image, scale: float, shift: float = 0.0) -> Image.Image:
    """Magnify an image by `scale`, keeping its size: its centre, or with `shift` from -1 (the left edge) to 1
    (the right edge) a window that far along."""
    w, h = image.size
    cw, ch = w / scale, h / scale
    left = (w - cw) / 2 * (1 + shift)
    box = (left, (h - ch) / 2, left + cw, (h + ch) / 2)
    return image.resize((w, h), Image.Resampling.BICUBIC, box=box)


def _caption_layer(shot: Shot, size: tuple[int, int]) -> Image.Image:
    """A transparent layer with a dark bar at the bottom holding the shot's caption, in any script."""
    w, h = size
    points = max(8, round(h / 28))
    pad = max(2, points // 2)
    text = shot.dialogue[0].line() if shot.dialogue else shot.action
    title = f"Frame {shot.number} \u00b7 {shot.shot_name}" + (f", {shot.camera}" if shot.camera else "")
    lines = _wrap(title, points, w - 2 * pad, 1) + _wrap(text, points, w - 2 * pad, 2)
    step = max(points + max(1, points // 4), fonts.line_height(points))
    top = max(0, h - (len(lines) * step + 2 * pad))
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    draw.rectangle((0, top, w, h), fill=(0, 0, 0, 220))
    for i, line in enumerate(lines):
        fonts.draw_text(draw, (pad, top + pad + i * step), line, points, (255, 255, 255, 255), w - 2 * pad)
    return layer


def _wrap(text: str, points: int, width: float, most: int) -> list[str]:
    """Break text into at most `most` lines that fit `width`, ending the last with an ellipsis if cut."""
    lines: list[str] = []
    for word in fonts.printable(text).split():
        if lines and fonts.text_length(f"{lines[-1]} {word}", points) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(fonts.fit(word, points, width))
    if len(lines) > most:
        lines = lines[:most]
        lines[-1] = fonts.fit(lines[-1] + "\u2026", points, width)
    return lines
