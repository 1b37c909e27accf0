"""Files going to and from Discord: shrinking images to a server's upload limit, and fetching attached scenes."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import discord
from PIL import Image

from agent.bots import uploads

SMALLEST_SIDE = 64
"""Halving stops once an image's shorter side would drop below this; JPEG is tried from there."""


def shrink(data: bytes, limit: int) -> tuple[bytes, str] | None:
    """Return the image re-encoded to at most `limit` bytes, with its format ("png" or "jpg").

    The image is halved again and again as PNG; once it would get too small, JPEG is tried at falling
    quality. None means even the smallest JPEG is over the limit.
    """
    with Image.open(io.BytesIO(data)) as opened:
        image = opened.copy()
    size = image.size
    while min(size) // 2 >= SMALLEST_SIDE:
        size = (max(1, size[0] // 2), max(1, size[1] // 2))
        smaller = _encode(image.resize(size, Image.LANCZOS), "PNG")
        if len(smaller) <= limit:
            return smaller, "png"
    flat = image.convert("RGB").resize(size, Image.LANCZOS)
    for quality in (85, 60, 35, 15):
        jpeg = _encode(flat, "JPEG", quality=quality)
        if len(jpeg) <= limit:
            return jpeg, "jpg"
    return None


def _encode(image: Image.Image, kind: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, kind, **options)
    return buffer.getvalue()


def attachment(path: Path, limit: int) -> discord.File | None:
    """Return the file to attach, shrunk when it is over `limit` bytes; None when it cannot be made to fit."""
    data = path.read_bytes()
    if len(data) <= limit:
        return discord.File(io.BytesIO(data), filename=path.name)
    if path.suffix.lower() not in (".png", ".jpg", ".jpeg"):  # a PDF, video or GIF cannot be shrunk as a still
        return None
    fitted = shrink(data, limit)
    if fitted is None:
        return None
    smaller, kind = fitted
    return discord.File(io.BytesIO(smaller), filename=f"{path.stem}.{kind}")


def upload_limit(interaction: discord.Interaction) -> int:
    """Return the largest file, in bytes, the interaction's server accepts (Discord's default outside a server)."""
    guild = getattr(interaction, "guild", None)
    return guild.filesize_limit if guild is not None else discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES


@dataclass
class Attached:
    """A scene file attached to /storyboard: its text, or why it cannot be used."""

    name: str
    text: str = ""
    problem: str = ""


async def fetch(file: discord.Attachment) -> Attached:
    """Download an attached scene file or screenplay, refusing any other file or one too big to be a scene."""
    if not uploads.wanted(file.filename):
        return Attached(file.filename, problem=f"expected a scene file or screenplay ({', '.join(uploads.SUFFIXES)})")
    if file.size > uploads.LIMIT:
        return Attached(file.filename, problem=f"the file is {file.size} bytes; a scene file may be at most "
                                               f"{uploads.LIMIT} bytes")
    try:
        data = await file.read()
    except discord.HTTPException as error:
        return Attached(file.filename, problem=f"could not fetch the file from Discord ({error})")
    return Attached(file.filename, text=data.decode("utf-8", errors="replace"))
