"""Scenes that arrive as files attached to a chat message: a TOML scene file or a Fountain screenplay."""

from __future__ import annotations

import re
from pathlib import Path

from agent.errors import SceneError
from agent.scenes.scene_file import scene_from_message
from graphs.state import Scene
from tools.errors import InputError
from tools.files import atomic
from tools.files.roots import Roots
from tools.files.text import clean

SUFFIXES = (".toml", ".fountain")
"""The attachments a bot reads as scenes."""
LIMIT = 1024 * 1024
"""The largest attachment read as a scene, in bytes (a feature screenplay in Fountain is a few hundred KB)."""
SCREENPLAY = "screenplay.fountain"
"""The name an attached screenplay is kept under in its session's folder."""
_SCENE_WORD = re.compile(r"\bscene\s+#?([A-Za-z0-9.-]+)", re.IGNORECASE)


def wanted(name: str) -> bool:
    """Tell whether an attachment's name is one read as a scene."""
    return name.lower().endswith(SUFFIXES)


def scene_number(text: str) -> str | None:
    """Return the scene asked for in a message ("scene 2", "scene #12A"), or None."""
    found = _SCENE_WORD.search(text or "")
    return found.group(1) if found else None


def scene_from_attachment(name: str, text: str, folder: Path, number: str | None = None,
                          frames: int | None = None, roots: Roots | None = None) -> Scene:
    """Read an attached scene file; a screenplay is kept in `folder` as screenplay.fountain and one scene is read.

    A scene file's LoRA paths resolve against the first of `roots` and must lie inside them (see
    scene_from_message). Raises SceneError with one line for a file that cannot be used; a screenplay that
    cannot be used is not kept.
    """
    name = clean(name).strip() or "the attachment"
    if name.lower().endswith(".fountain"):
        from agent.scenes.screenplay import scene_from_screenplay

        path = folder / SCREENPLAY
        atomic.write_bytes(path, text.encode("utf-8"))
        try:
            return scene_from_screenplay(path, number, frames=frames)
        except InputError as error:  # the message names the saved copy; the person knows the upload by its name
            discard(folder)
            raise SceneError(str(error).replace(str(path), name)) from None
    if number is not None:
        raise SceneError(f"{name}: a scene number is for screenplays (.fountain), not scene files")
    base = roots.folders[0] if roots is not None and roots.folders else folder
    scene = scene_from_message(text, base, frames, toml=True, roots=roots)
    if scene is None:  # cannot happen for TOML, which always gives a scene or an error
        raise SceneError(f"{name}: expected a scene")
    return scene


def discard(folder: Path) -> None:
    """Remove a kept screenplay from a folder no session was started in, and the folder when it is left empty."""
    if (folder / "session.json").exists():
        return
    (folder / SCREENPLAY).unlink(missing_ok=True)
    try:
        folder.rmdir()
    except OSError:  # the folder holds something else, or was never made
        pass
