"""Reading the files people hand the project, with a size cap and only from regular files.

Every file that comes from outside (a scene, a screenplay, a turns file, a library, a storyboard.json,
an upload, a session's own small files) goes through `read_bytes` or `read_text`. They open the file
without blocking (a FIFO or a terminal given as a scene would otherwise wait for ever), refuse anything
that is not a regular file (/dev/zero, a folder, a socket), and read at most `limit` bytes, so a huge or
endless file costs no more memory than the cap.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tools.errors import FileRefused

KB = 1024
MB = 1024 * KB

SCENE_LIMIT = 1 * MB
"""A scene file, a cast file or a turns file (a long scene is a few pages: tens of KB)."""
SCREENPLAY_LIMIT = 5 * MB
"""A Fountain screenplay (a feature film is a few hundred KB)."""
LIBRARY_LIMIT = 1 * MB
"""A model library (library.toml)."""
STORYBOARD_LIMIT = 20 * MB
"""A storyboard.json or the output of `shotsmith plan` (200 frames with their critiques are a few MB)."""
LORA_LIMIT = 4 * 1024 * MB
"""A LoRA weights file (SD 1.5 LoRAs are 10-200 MB, the largest SDXL ones under 2 GB)."""
SMALL_LIMIT = 1 * MB
"""The small files a session or a model folder keeps beside its work (session.json, owners, configs, captions)."""


def size_words(count: int) -> str:
    """Return a byte count as people say it: "512 bytes", "20 KB", "1.5 MB"."""
    if count < KB:
        return f"{count} bytes"
    if count < MB:
        return f"{count / KB:.3g} KB"
    if count < 1024 * MB:
        return f"{count / MB:.3g} MB"
    return f"{count / (1024 * MB):.3g} GB"


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a pipe (FIFO)"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def read_bytes(path: Path | str, limit: int, what: str) -> bytes:
    """Return the bytes of the regular file `path`, refusing one larger than `limit` bytes.

    `what` says what the file should be ("scene file (TOML)"); it goes into the refusal. A missing file
    raises FileNotFoundError and an unreadable one another OSError, as open() would, so callers keep their
    own words for those; anything else raises FileRefused.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(path, flags)
    except IsADirectoryError:
        raise FileRefused(f"{path}: is a folder; expected a {what}") from None
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(f"{path}: is {_kind(info.st_mode)}; expected a {what}")
        if info.st_size > limit:
            raise FileRefused(f"{path}: is {size_words(info.st_size)}; expected a {what} of at most "
                              f"{size_words(limit)}")
        chunks, total = [], 0
        while total <= limit:  # the size can change while it is read: stop one byte past the cap
            chunk = os.read(descriptor, min(limit + 1 - total, MB))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise FileRefused(f"{path}: is larger than {size_words(limit)}; expected a {what} of at most "
                              f"{size_words(limit)}")
        return b"".join(chunks)
    finally:
        os.close(descriptor)


def read_text(path: Path | str, limit: int, what: str, encoding: str = "utf-8") -> str:
    """Return the text of the regular file `path` (see read_bytes); bytes that are not `encoding` are refused."""
    data = read_bytes(path, limit, what)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        raise FileRefused(f"{path}: is not {encoding.upper()} text (bad byte at offset {error.start}); "
                          f"expected a {what}") from None
