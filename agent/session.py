"""A Session is one storyboard conversation: one LangGraph thread, checkpointed under its output folder."""

from __future__ import annotations

import errno
import gc
import json
import re
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from langgraph.types import Command

from agent import store
from agent.errors import FolderUnusable, SaveFailed, SessionError, StoreDamaged
from agent.store import PruningSaver
from graphs.context import Context
from graphs.events import Event  # what a session reports while it works; front-ends import it from here too
from graphs.state import Scene, Settings, Storyboard
from graphs.storyboard import compile_graph, serializer
from tools.errors import ShotsmithError
from tools.files import atomic
from tools.files.folder_lock import FolderLock
from tools.files.text import clean

LEFTOVER_WRITE = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")
"""What tools/atomic.py's write_bytes writes before the rename: .<name>.<8 random characters>.tmp, in any folder."""
LEFTOVER_EXPORT = re.compile(r"\..+\.[0-9a-f]{8}\.[A-Za-z0-9]+")
"""What tools/animatic.py's `replacing` writes before the rename (animatic, timelines): .<stem>.<8 hex>.<suffix>,
beside the export in the top of the output folder."""


def sweep_leftovers(out_dir: Path) -> list[Path]:
    """Remove the temporaries a killed process left half-written in `out_dir`; return what was removed.

    Finished files are never touched: they only get their names by renaming a complete temporary. Call this only
    while no other process is writing into the folder, since its temporaries look the same.
    """
    found = [path for path in out_dir.rglob(".*.tmp") if LEFTOVER_WRITE.fullmatch(path.name)]
    if out_dir.is_dir():
        found += [path for path in out_dir.iterdir() if LEFTOVER_EXPORT.fullmatch(path.name)]
    found = [path for path in found if path.is_file()]
    for path in found:
        path.unlink(missing_ok=True)
    return found


def _unwritable(folder: Path, error: OSError | sqlite3.Error, started: bool = False,
                kind: type[FolderUnusable] = FolderUnusable) -> FolderUnusable:
    """One line for a folder that cannot be written: read-only, full, or refused.

    `started` says whether the session has saved a step, so --resume is the way back in; `kind` is SaveFailed
    when the refusal stopped work under way.
    """
    if isinstance(error, OSError) and error.errno == errno.ENOSPC or "full" in str(error):
        again = "again with --resume (everything finished so far is kept)" if started else "again"
        return kind(f"{folder}: the disk is full; free some space and run {again}")
    reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
    return kind(f"{folder}: cannot write here ({reason}); expected a folder you can write to (copy it somewhere "
                "writable and go on there)")


class Session:
    """Drives the storyboard graph for one output folder; every front-end talks to this.

    The folder is the one given now, never one remembered from an earlier run, so a session folder that was
    copied or moved carries on where it is. While a Session is open it holds the folder's lock: a second
    writer is refused at once, before anything is touched.
    """

    def __init__(self, out_dir: Path, context: Context, thread_id: str, lock: FolderLock, fresh: bool = False):
        self.out_dir = out_dir
        self.context = context
        self.thread_id = thread_id
        self.notices: list[str] = []
        """What opening the session had to mend (a damaged checkpoint file), for the front-end to show."""
        self._lock = lock
        self._config = {"configurable": {"thread_id": thread_id}}
        try:
            self._open_store(fresh)
        except ShotsmithError:
            lock.release()
            raise
        except (OSError, sqlite3.Error) as error:
            lock.release()
            raise _unwritable(out_dir, error, started=not fresh) from None

    def _open_store(self, fresh: bool) -> None:
        """Open the checkpoint file and read the session back; a damaged file is set aside and mended once."""
        path = self.out_dir / store.STORE
        try:
            store.check(path)
            self._attach(path)
            return
        except StoreDamaged as damage:
            reason = str(damage)
        except (OSError, sqlite3.OperationalError):
            raise
        except Exception as error:  # the file opens but a saved checkpoint cannot be read back
            if getattr(self, "_connection", None) is not None:
                self._connection.close()
            reason = f"a saved step cannot be read: {type(error).__name__}"
        aside = store.set_aside(path)
        kept = False if fresh else store.restore_copy(self.out_dir)
        what = f"{path.name} was damaged ({reason}); it is kept as {aside.name}"
        if fresh:
            self.notices.append(f"{what}, and this new session starts a fresh one")
        elif kept:
            self.notices.append(f"{what}; carrying on from the copy saved when the session last waited for you "
                                "(only work after that, if any, is lost; frames on disk are reused)")
        else:
            raise StoreDamaged(f"{what}; no good copy was kept, so its picks and undo history are lost: run again "
                               "without --resume to start afresh (frames on disk are reused, not redrawn)")
        try:
            self._attach(path)
        except (OSError, sqlite3.OperationalError):
            raise
        except Exception as error:
            raise StoreDamaged(f"{path}: the saved session cannot be read even from its good copy "
                               f"({type(error).__name__}); move the folder's session files away to start "
                               "afresh") from None

    def _attach(self, path: Path) -> None:
        self._connection = sqlite3.connect(path, check_same_thread=False)
        self._graph = compile_graph(PruningSaver(self._connection, serde=serializer()))
        values = self._graph.get_state(self._config).values
        if values:
            Storyboard.model_validate(values)

    @staticmethod
    def _take(out_dir: Path) -> tuple[Path, FolderLock]:
        out_dir = Path(out_dir).absolute()
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            return out_dir, FolderLock(out_dir)
        except OSError as error:
            raise _unwritable(out_dir, error) from None

    @classmethod
    def create(cls, out_dir: Path, context: Context) -> Session:
        """Start a new session in `out_dir`; earlier images there stay on disk and may be reused."""
        out_dir, lock = cls._take(out_dir)
        thread_id = f"run:{uuid.uuid4()}"
        try:
            atomic.write_json(out_dir / "session.json", {"thread_id": thread_id})
        except OSError as error:
            lock.release()
            raise _unwritable(out_dir, error) from None
        return cls(out_dir, context, thread_id, lock, fresh=True)

    @classmethod
    def reopen(cls, out_dir: Path, context: Context) -> Session:
        """Open the session last started in `out_dir`, first sweeping away half-written temporaries a crash left."""
        try:
            thread_id = json.loads((Path(out_dir) / "session.json").read_text())["thread_id"]
            if not isinstance(thread_id, str):
                raise TypeError
        except (OSError, ValueError, KeyError, TypeError):
            raise SessionError(f"{out_dir}: no session to resume here (session.json missing or unreadable)") from None
        out_dir, lock = cls._take(out_dir)
        try:
            sweep_leftovers(out_dir)
        except OSError as error:
            lock.release()
            raise _unwritable(out_dir, error, started=True) from None
        return cls(out_dir, context, thread_id, lock)

    def state(self) -> Storyboard | None:
        """Return the session's current state, or None before it has started."""
        values = self._graph.get_state(self._config).values
        return Storyboard.model_validate(values) if values else None

    def waiting(self) -> bool:
        """Tell whether the session is waiting for the person's next message."""
        return bool(self._graph.get_state(self._config).interrupts)

    def unfinished(self) -> bool:
        """Tell whether a step was cut off (a crash) and work remains before the next message.

        The pending tasks are counted, not `next`: a crash after a step's writes were saved but before the
        checkpoint that follows leaves `next` empty, yet the graph still has to apply them and go on.
        """
        snapshot = self._graph.get_state(self._config)
        return bool(snapshot.tasks) and not snapshot.interrupts

    def start(self, scene: Scene, settings: Settings | None = None) -> Iterator[Event]:
        """Plan and render the scene, stopping when the storyboard waits for the person."""
        initial = Storyboard(scene=scene, settings=settings or Settings())
        yield from self._run(initial)

    def send(self, text: str) -> Iterator[Event]:
        """Hand the person's message to a waiting session; the events run until it waits again.

        Raises SessionError at once (not when iterated) if the session is not waiting.
        """
        if not self.waiting():
            raise SessionError("the session is not waiting for a message: it has finished or never started")
        return self._run(Command(resume=clean(text)))  # no control characters reach the storyboard or a terminal

    def carry_on(self) -> Iterator[Event]:
        """Finish work a crash cut off; files already written are reused, not redrawn."""
        if self.unfinished():
            yield from self._run(None)

    def close(self) -> None:
        """Release the checkpoint database and the folder's lock."""
        self._connection.close()
        self._lock.release()

    def _run(self, graph_input: object) -> Iterator[Event]:
        context = replace(self.context, out_dir=self.out_dir)  # the folder as it is now, never a stored one
        try:
            for mode, chunk in self._graph.stream(graph_input, self._config, context=context,
                                                  stream_mode=["custom", "updates"], durability="sync"):
                if mode == "custom":
                    yield chunk
        except (OSError, sqlite3.OperationalError) as error:
            if not _is_storage(error):
                raise
            raise _unwritable(self.out_dir, error, self._saved(), SaveFailed) from None
        self._keep_copy()
        _settle_heap()

    def _saved(self) -> bool:
        """Tell whether a step of the session is saved (reading needs no free space)."""
        try:
            return bool(self._graph.get_state(self._config).values)
        except Exception:
            return False

    def _keep_copy(self) -> None:
        """Save the last-good copy once the session waits again; a copy that cannot be made is no failure."""
        try:
            store.keep_copy(self._connection, self.out_dir)
        except (OSError, sqlite3.Error):
            pass


_SETTLED = threading.Event()


def _settle_heap() -> None:
    """Once the process's first turn is done, put what it holds by then (modules, models, the first board) out of
    the garbage collector's reach.

    Python's full collection walks every object that can hold others; on a long storyboard each correction made one,
    and it spent a tenth of a second on modules and model layers that live as long as the process. Frozen objects
    are still freed when nothing refers to them; only a cycle among them would stay.
    """
    if not _SETTLED.is_set():
        _SETTLED.set()
        gc.collect()
        gc.freeze()


def _is_storage(error: OSError | sqlite3.Error) -> bool:
    """Tell a full disk or a read-only folder from other errors, which are not this layer's to explain."""
    if isinstance(error, sqlite3.Error):
        return any(word in str(error) for word in ("full", "readonly", "read-only", "unable to open"))
    return error.errno in (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EDQUOT, errno.EPERM)
