"""Tell whether an image file on disk can be read, before a storyboard shows, reuses or exports it."""

from __future__ import annotations

from pathlib import Path

from PIL import Image


def image_problem(path: Path) -> str:
    """Return why the image at `path` cannot be used ("missing", "damaged ..."), or "" when it reads whole."""
    if not path.is_file():
        return "missing"
    try:
        with Image.open(path) as image:
            image.verify()  # checks the chunks and their checksums without decoding the pixels
        with Image.open(path) as image:
            image.load()  # a file cut short passes verify() but not a full decode
    except Exception as error:  # Pillow raises OSError, SyntaxError, ValueError and others for damaged files
        return f"damaged ({str(error).splitlines()[0] if str(error) else type(error).__name__})"
    return ""
