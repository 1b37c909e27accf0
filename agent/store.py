"""The session's checkpoint file: SQLite that keeps only the latest checkpoint, plus a last-good copy.

LangGraph's SqliteSaver writes the whole state at every step and keeps every checkpoint, so a long
conversation grows the file with the square of its corrections. Resuming, crash-resuming and undo need
only the newest checkpoint and the writes made after it (undo lives in the state's own history), so
older ones are deleted as each new one is saved, in the same transaction.

After every turn the file is copied to session.good.sqlite; a damaged session.sqlite is set aside and
that copy put in its place, so a bad disk block costs at most the turn that was under way.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from langgraph.checkpoint.sqlite import SqliteSaver

from agent.errors import StoreDamaged

STORE = "session.sqlite"
GOOD_COPY = "session.good.sqlite"
SIDE_FILES = ("-wal", "-shm", "-journal")


class PruningSaver(SqliteSaver):
    """A SqliteSaver that deletes a thread's older checkpoints, and their writes, as each new one lands."""

    def put(self, config, checkpoint, metadata, new_versions):
        saved = super().put(config, checkpoint, metadata, new_versions)
        thread, namespace = saved["configurable"]["thread_id"], saved["configurable"]["checkpoint_ns"]
        newest = saved["configurable"]["checkpoint_id"]
        with self.cursor() as cursor:
            cursor.execute("DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id != ?",
                           (thread, namespace, newest))
            cursor.execute("DELETE FROM writes WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id != ?",
                           (thread, namespace, newest))
        return saved


def check(path: Path) -> None:
    """Raise StoreDamaged unless `path` is missing or a readable SQLite database with sane tables."""
    if not path.exists():
        return
    try:
        # immutable (no locks, no side files) unless a crash left a write-ahead log that must be read too
        flags = "mode=ro" if path.with_name(path.name + "-wal").exists() else "mode=ro&immutable=1"
        connection = sqlite3.connect(f"file:{path}?{flags}", uri=True)
        try:
            verdict = connection.execute("PRAGMA quick_check").fetchone()[0]
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            for table in {"checkpoints", "writes"} & tables:
                connection.execute(f"SELECT count(*) FROM {table}").fetchone()
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:
        if "unable to open" in str(error):  # a file this process may not read is not a damaged one
            raise
        raise StoreDamaged(str(error)) from None
    if verdict != "ok":
        raise StoreDamaged(str(verdict).splitlines()[0])


def set_aside(path: Path) -> Path:
    """Rename a damaged store (and its side files) out of the way, keeping it for a post-mortem; return its name."""
    aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    path.replace(aside)
    for side in SIDE_FILES:
        extra = path.with_name(path.name + side)
        if extra.exists():
            extra.replace(aside.with_name(aside.name + side))
    return aside


def keep_copy(connection: sqlite3.Connection, folder: Path) -> None:
    """Copy the store, consistent as of now, to session.good.sqlite (a temporary renamed into place)."""
    target = folder / GOOD_COPY
    temporary = folder / f".{GOOD_COPY}.copy"
    temporary.unlink(missing_ok=True)
    copy = sqlite3.connect(temporary)
    try:
        connection.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")  # a plain file: reading it back leaves no -wal or -shm beside it
    finally:
        copy.close()
    temporary.replace(target)


def restore_copy(folder: Path) -> bool:
    """Put session.good.sqlite in place of the store when it is readable; return whether it was."""
    good = folder / GOOD_COPY
    if not good.is_file():
        return False
    try:
        check(good)
    except StoreDamaged:
        return False
    temporary = folder / f".{STORE}.restore"
    temporary.write_bytes(good.read_bytes())
    temporary.replace(folder / STORE)
    return True
