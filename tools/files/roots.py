"""The folders a scene may read files from, so a scene written or sent by someone else cannot reach the rest of the disk.

A scene file may name LoRA files inside its own folder; a scene sent in chat, inside the model library's
folder. SHOTSMITH_ROOTS adds folders to both (several are separated like PATH entries). Paths are judged
after every `..` and symbolic link is resolved, so neither can lead out.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ENV = "SHOTSMITH_ROOTS"


@dataclass(frozen=True)
class Roots:
    """The folders files may come from, and how a message names them to the person."""

    folders: tuple[Path, ...]
    place: str
    """Words for these folders in an error, such as "the scene file's folder"."""

    @classmethod
    def around(cls, folder: Path | None, place: str) -> Roots:
        """Return `folder` (when given) plus the folders listed in SHOTSMITH_ROOTS."""
        own = (folder.resolve(),) if folder is not None else ()
        return cls(own + env_roots(), f"{place} (or a folder listed in {ENV})")

    def refusal(self, key: str, given: str) -> str:
        """Return the one-line error for a path `given` under setting `key` that leads outside these folders."""
        return (f"{key}: {given!r} leads outside the folders LoRA files may be read from; expected a file inside "
                f"{self.place}")

    def holds(self, path: Path) -> bool:
        """Tell whether `path`, with links and `..` resolved, lies inside one of the folders."""
        return inside(path, self.folders)


def env_roots() -> tuple[Path, ...]:
    """Return the folders listed in SHOTSMITH_ROOTS, resolved; empty entries are skipped."""
    listed = os.environ.get(ENV, "")
    return tuple(Path(part).expanduser().resolve() for part in listed.split(os.pathsep) if part.strip())


def inside(path: Path, folders: Iterable[Path]) -> bool:
    """Tell whether `path`, with every symbolic link and `..` resolved, lies inside one of `folders`."""
    real = path.resolve()
    return any(real.is_relative_to(folder.resolve()) for folder in folders)
