"""Reading the TOML files people write by hand (scenes, model libraries) with one-line errors."""

from __future__ import annotations

import tomllib
from pathlib import Path


def read_toml(path: Path, error: type[Exception], kind: str) -> dict:
    """Return the parsed table of `path`; any failure raises `error` with one line naming the file.

    `kind` names the file in the missing-file message ("scene", "library").
    """
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{path}: no such {kind} file") from None
    except (OSError, UnicodeDecodeError) as problem:
        raise error(f"{path}: cannot read the file ({problem})") from None
    except tomllib.TOMLDecodeError as problem:
        raise error(f"{path}: not valid TOML ({problem})") from None
