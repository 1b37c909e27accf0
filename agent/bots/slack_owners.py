"""Who started each open Slack storyboard, kept in each thread's folder so the per-person limit survives restarts."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

from tools.files import atomic
from tools.files.bounded import SMALL_LIMIT, read_text

log = logging.getLogger("shotsmith.slack")

OWNER_FILE = "slack.json"
"""Kept in each thread's folder: who started the session and whether it is still open."""


class Owners:
    """The open thread sessions under one folder and the person who started each; safe to use from many threads."""

    def __init__(self, out_root: Path):
        self.out_root = out_root
        self._open = _open_sessions(out_root)
        self._lock = threading.Lock()

    def claim(self, key: str, user: str, limit: int) -> int | None:
        """Count the thread as `user`'s and return None, or return how many they run when already at `limit`."""
        with self._lock:
            running = sum(1 for owner in self._open.values() if owner == user)
            if running >= limit:
                return running
            self._open[key] = user
        return None

    def opened(self, key: str, user: str) -> None:
        """Record on disk that `user` started the thread's session (once its folder exists)."""
        atomic.write_json(self.out_root / key / OWNER_FILE, {"owner": user, "open": True})

    def release(self, key: str, write: bool = True) -> None:
        """Stop counting the thread against its owner, and (with `write`) say so on disk; a failed write is logged."""
        with self._lock:
            owner = self._open.pop(key, None)
        if not write:
            return
        try:
            atomic.write_json(self.out_root / key / OWNER_FILE,
                              {"owner": owner or record(self.out_root / key).get("owner", ""), "open": False})
        except OSError:  # the limit may count it again after a restart; nothing else is lost
            log.exception("could not record that %s is closed", key)

    def owner(self, key: str) -> str:
        """Return who started the thread's session, or "" when no record says."""
        with self._lock:
            if key in self._open:
                return self._open[key]
        return record(self.out_root / key).get("owner", "")


def record(folder: Path) -> dict:
    """Return a thread folder's owner record ({"owner": user, "open": bool}), or {} when it has none."""
    try:
        data = json.loads(read_text(folder / OWNER_FILE, SMALL_LIMIT, "owner record (JSON)"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and isinstance(data.get("owner"), str) else {}


def _open_sessions(out_root: Path) -> dict[str, str]:
    """Return {thread key: owner} for every open session kept under `out_root`."""
    found = {}
    for path in out_root.glob(f"*/{OWNER_FILE}"):
        kept = record(path.parent)
        if kept.get("open") is True:
            found[path.parent.name] = kept["owner"]
    return found
