"""Reading the TOML files people write by hand (scenes, model libraries) with one-line errors."""

from __future__ import annotations

import tomllib
from pathlib import Path

from tools.errors import FileRefused
from tools.files.bounded import SCENE_LIMIT, read_text


def read_toml(path: Path, error: type[Exception], kind: str, limit: int = SCENE_LIMIT) -> dict:
    """Return the parsed table of `path`; any failure raises `error` with one line naming the file.

    `kind` names the file in the messages ("scene", "library"); a file larger than `limit` bytes, or one
    that is not a regular file (a FIFO, /dev/zero), is refused before it is read.
    """
    try:
        return tomllib.loads(read_text(path, limit, f"{kind} file (TOML)"))
    except FileNotFoundError:
        raise error(f"{path}: no such {kind} file") from None
    except FileRefused as problem:
        raise error(str(problem)) from None
    except OSError as problem:
        raise error(f"{path}: cannot read the file ({problem.strerror or problem})") from None
    except tomllib.TOMLDecodeError as problem:
        raise error(f"{path}: not valid TOML ({problem})") from None
