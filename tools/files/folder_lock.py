"""One writer per output folder: a lock on OUT/.shotsmith.lock that ends with the process holding it.

The lock is an flock on an open file, so the kernel drops it when the process exits, however it exits
(kill -9 included): no stale lock is ever left to clear by hand. The file keeps the holder's pid and command
so a second writer can say who is in the way.
"""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path

from tools.errors import FolderBusy

LOCK_NAME = ".shotsmith.lock"


def _holder(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")[:300].strip()
    except OSError:
        return "another process"
    pid, _, command = text.partition(" ")
    return f"process {pid} ({command})" if pid.isdigit() and command else (f"process {pid}" if pid.isdigit()
                                                                             else "another process")


class FolderLock:
    """Hold the folder's lock from creation until release(); raises FolderBusy if it is held elsewhere."""

    def __init__(self, folder: Path):
        self.path = folder / LOCK_NAME
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            raise FolderBusy(f"{folder}: {_holder(self.path)} is writing into this folder; wait for it to "
                             "finish, or use another --out") from None
        except OSError:
            os.close(descriptor)
            raise
        self._descriptor: int | None = descriptor
        command = " ".join(Path(arg).name if i == 0 else arg for i, arg in enumerate(sys.argv[:2]))
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()} {command or 'python'}\n".encode("utf-8", "replace"), 0)

    def release(self) -> None:
        """Let another writer in; the lock file stays, empty of meaning, for the next one."""
        if self._descriptor is not None:
            os.close(self._descriptor)  # closing the only descriptor drops the flock
            self._descriptor = None
