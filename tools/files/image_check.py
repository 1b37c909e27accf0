"""Tell whether an image file on disk can be read, before a storyboard shows, reuses or exports it."""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image

from tools.memo import Memo

_READ_WHOLE = Memo(20_000)
"""Files found whole (True), by what stat says of them; any write, rename or truncation changes that, so a damaged
file is never taken for one checked before. Without it, every correction decoded every frame's image again."""


def _identity(stat: os.stat_result) -> tuple:
    return stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns


def image_problem(path: Path) -> str:
    """Return why the image at `path` cannot be used ("missing", "damaged ..."), or "" when it reads whole."""
    try:
        stat = os.stat(path)
    except OSError:
        return "missing"
    if not os.path.isfile(path):
        return "missing"
    key = (os.fspath(path), *_identity(stat))
    if _READ_WHOLE.get(key):
        return ""
    try:
        with Image.open(path) as image:
            image.verify()  # checks the chunks and their checksums without decoding the pixels
        with Image.open(path) as image:
            image.load()  # a file cut short passes verify() but not a full decode
    except Exception as error:  # Pillow raises OSError, SyntaxError, ValueError and others for damaged files
        return f"damaged ({str(error).splitlines()[0] if str(error) else type(error).__name__})"
    try:
        if _identity(os.stat(path)) != key[1:]:
            return ""  # changed while it was read: right for now, but checked again next time
    except OSError:
        return ""
    _READ_WHOLE.put(key, True)
    return ""
