"""The shot images of a session folder, fingerprinted so a front-end can tell which ones a step drew or redrew."""

from __future__ import annotations

import hashlib
from pathlib import Path


def shot_paths(folder: Path) -> list[Path]:
    """Return every frames/shot_N.png under `folder`, in shot order, without reading them."""
    shots = [p for p in (folder / "frames").glob("shot_*.png") if p.stem[len("shot_"):].isdigit()]
    return sorted(shots, key=lambda p: int(p.stem[len("shot_"):]))


def shot_files(folder: Path) -> dict[Path, str]:
    """Return {path: sha1 of its bytes} for every frames/shot_N.png under `folder`, in shot order."""
    return {p: hashlib.sha1(p.read_bytes()).hexdigest() for p in shot_paths(folder)}


def changed(before: dict[Path, str], after: dict[Path, str]) -> list[Path]:
    """Return the shots in `after` that are new or different from `before`, in shot order."""
    return [path for path, digest in after.items() if before.get(path) != digest]
