"""Running out of GPU memory in a pipeline call: fewer images per call, then attention slicing, then one clear line.

    images, fallback = fit(loaded, len(seeds), lambda start, end: draw(seeds[start:end]), "drawing a 512x512 frame")

`draw(start, end)` must draw candidates start..end-1 from their own seeds (fresh generators every
call), so a frame drawn in parts gets every candidate, each from the same seed as in one call.
"""

from __future__ import annotations

import gc
from collections.abc import Callable

from tools.errors import OutOfMemory
from tools.models.hub import Loaded

SPLIT = "split"
"""The candidates were drawn in smaller batches."""
SLICING = "slicing"
"""Attention slicing was switched on; it stays on for the rest of the process."""


def out_of_memory_error() -> type[BaseException]:
    """Return torch's out-of-memory exception class (torch.OutOfMemoryError, torch.cuda's before torch 2.5)."""
    import torch

    return getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)


def free_memory() -> None:
    """Drop unreachable tensors and hand cached GPU blocks back, so the next try starts from a clean slate."""
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        torch.mps.empty_cache()


def fit(loaded: Loaded, count: int, draw: Callable[[int, int], list], doing: str) -> tuple[list, str | None]:
    """Return the `count` images of `draw`, and how memory was saved: None, SPLIT or SLICING.

    First all candidates in one call. When memory runs out, what is left is drawn in calls half
    as large, down to one image a call; when one image still does not fit, attention slicing is
    switched on (and recorded on `loaded`) and the image tried again. Past that, OutOfMemory
    says what ran out while `doing` what, and what to change.
    """
    oom = out_of_memory_error()
    images: list = []
    size, fallback = count, None
    while len(images) < count:
        start = len(images)
        end = min(start + size, count)
        try:
            part = draw(start, end)
        except oom:
            part = None  # handled below, once the error and the tensors its traceback holds are gone
        if part is not None:
            images.extend(part)
            continue
        free_memory()
        if end - start > 1:
            size, fallback = (end - start + 1) // 2, fallback or SPLIT
        elif not loaded.slicing:
            loaded.pipe.enable_attention_slicing()
            loaded.slicing, fallback = True, SLICING
        else:
            raise OutOfMemory(message(loaded, doing))
    return images, fallback


def message(loaded: Loaded, doing: str) -> str:
    """Return the one-line error for running out of memory while `doing` what, with what to change."""
    offload = "" if loaded.memory == "offload" else ', or memory = "offload" under [model] in library.toml'
    return (f"the GPU ran out of memory {doing}, even one image at a time with attention slicing; "
            f"expected a smaller --width/--height, fewer --candidates{offload}")


def notice(fallback: str | None, count: int) -> str:
    """Return one line telling the person how memory was saved, or "" when nothing had to change."""
    if fallback == SPLIT:
        return f"GPU memory ran short; the {count} candidates were drawn a few at a time"
    if fallback == SLICING:
        return "GPU memory ran short; attention slicing is now on for the rest of this process (slower)"
    return ""
