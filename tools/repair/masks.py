"""Inpainting masks without a model: checking boxes and points, plain rectangles, and clean-up.

Boxes are (x0, y0, x1, y1) in pixels with x1 and y1 exclusive; points are (x, y). Masks are
boolean or float arrays at the image's size; white (1) marks what gets redrawn.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
from PIL import Image

from tools.errors import SegmentError


@dataclass(frozen=True, eq=False)
class Mask:
    """One region of an image."""

    pixels: np.ndarray
    """Boolean, height x width, at the image's size."""
    score: float
    """SAM's own estimate of the mask's IoU; 1.0 for a plain rectangle."""


def _whole(values, what: str, size: tuple[int, int], rule: str) -> list[int]:
    """Return a box's or point's coordinates as ints, or raise when they are not the right count of whole numbers."""
    count, form = (4, "x0,y0,x1,y1") if what == "box" else (2, "x,y")
    try:
        items = tuple(values) if not isinstance(values, (str, bytes)) else None
    except TypeError:
        items = None
    whole = items is not None and len(items) == count and all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) and float(v).is_integer() for v in items)
    if not whole:
        shown = ",".join(str(v) for v in items) if items is not None else repr(values)
        raise SegmentError(f"{what} {shown} on the {size[0]}x{size[1]} image is not {'four' if count == 4 else 'two'} "
                           f"whole pixel numbers; expected {form} with {rule}")
    return [int(v) for v in items]


def check_box(box: tuple[int, int, int, int], size: tuple[int, int]) -> None:
    """Raise SegmentError unless `box` is a non-empty (x0, y0, x1, y1) inside an image of size (width, height)."""
    width, height = size
    inside = f"0 <= x0 < x1 <= {width} and 0 <= y0 < y1 <= {height}"
    x0, y0, x1, y1 = _whole(box, "box", size, inside)
    shown = f"box {x0},{y0},{x1},{y1}"
    if x1 < x0 or y1 < y0:
        raise SegmentError(f"{shown} on the {width}x{height} image: corners are swapped; "
                           f"expected left,top,right,bottom with {inside}")
    if x1 == x0 or y1 == y0:
        raise SegmentError(f"{shown} on the {width}x{height} image has zero area; expected {inside}")
    if x0 < 0 or y0 < 0 or x1 > width or y1 > height:
        raise SegmentError(f"{shown} reaches outside the {width}x{height} image; expected {inside}")


def check_point(point: tuple[int, int], size: tuple[int, int]) -> None:
    """Raise SegmentError unless `point` is an (x, y) pixel inside an image of size (width, height)."""
    width, height = size
    inside = f"0 <= x < {width} and 0 <= y < {height}"
    x, y = _whole(point, "point", size, inside)
    if not (0 <= x < width and 0 <= y < height):
        raise SegmentError(f"point {x},{y} lies outside the {width}x{height} image; expected {inside}")


def rect_mask(size: tuple[int, int], box) -> Mask:
    """Return the box itself as a mask over an image of size (width, height)."""
    check_box(box, size)
    x0, y0, x1, y1 = (int(v) for v in box)
    pixels = np.zeros((size[1], size[0]), bool)
    pixels[y0:y1, x0:x1] = True
    return Mask(pixels=pixels, score=1.0)


def refine(pixels: np.ndarray, blur: float = 0.0, dilate: int = 0, close: int = 0) -> np.ndarray:
    """Return a float32 mask in 0..1: closed by `close` pixels, grown by `dilate`, then feathered by a Gaussian `blur`.

    Closing (grow then shrink by the same radius) fills holes and gaps narrower than about twice
    `close`. Growing and shrinking use a square of side 2r+1; pixels outside the image are ignored,
    so a mask touching the border stays there.
    """
    for name, value in (("blur", blur), ("dilate", dilate), ("close", close)):
        if value < 0:
            raise SegmentError(f"refine: {name} is {value}; expected a radius of 0 or more pixels")
    mask = np.clip(np.asarray(pixels, dtype=np.float64), 0.0, 1.0)
    if close:
        mask = _spread(_spread(mask, int(close), np.maximum), int(close), np.minimum)
    if dilate:
        mask = _spread(mask, int(dilate), np.maximum)
    if blur:
        mask = _gaussian(mask, float(blur))
    return np.clip(mask, 0.0, 1.0).astype(np.float32)


def _spread(mask: np.ndarray, radius: int, pick) -> np.ndarray:
    """Apply `pick` (max or min) over a (2r+1)-square around each pixel, one axis at a time."""
    for axis in (0, 1):
        source, out = mask, mask.copy()
        for step in range(1, min(radius, mask.shape[axis] - 1) + 1):
            ahead = [slice(None)] * 2
            behind = [slice(None)] * 2
            ahead[axis], behind[axis] = slice(step, None), slice(None, -step)
            out[tuple(ahead)] = pick(out[tuple(ahead)], source[tuple(behind)])
            out[tuple(behind)] = pick(out[tuple(behind)], source[tuple(ahead)])
        mask = out
    return mask


def _gaussian(mask: np.ndarray, sigma: float) -> np.ndarray:
    """Blur with a normalised Gaussian of standard deviation `sigma`, cut at three sigma, edges repeated."""
    reach = max(1, int(np.ceil(3 * sigma)))
    taps = np.exp(-0.5 * (np.arange(-reach, reach + 1) / sigma) ** 2)
    taps /= taps.sum()
    for axis in (0, 1):
        pad = [(0, 0), (0, 0)]
        pad[axis] = (reach, reach)
        padded = np.pad(mask, pad, mode="edge")
        out = np.zeros_like(mask)
        length = mask.shape[axis]
        for offset, weight in enumerate(taps):
            out += weight * np.take(padded, np.arange(offset, offset + length), axis=axis)
        mask = out
    return mask


def mask_to_image(mask: np.ndarray) -> Image.Image:
    """Return a mask (bool, or float in 0..1) as an "L" image, 255 where the mask is full."""
    values = np.clip(np.asarray(mask, dtype=np.float32), 0.0, 1.0)
    return Image.fromarray(np.round(values * 255).astype(np.uint8), mode="L")


def image_to_mask(image: Image.Image) -> np.ndarray:
    """Return a grayscale reading of an image as a float32 mask in 0..1."""
    return np.asarray(image.convert("L"), dtype=np.float32) / 255.0
