"""A Session is one storyboard conversation: one LangGraph thread, checkpointed under its output folder."""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command

from graphs.context import Context
from graphs.state import Scene, Settings, Storyboard
from graphs.storyboard import compile_graph, serializer
from tools import atomic
from tools.text import clean

Event = dict
"""What a session reports while it works: {"type": "plan" | "progress" | "frame" | "published" | "message" |
"question" | "error" | "queue" | "done" | ...}, with the fields each type carries."""


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


class SessionError(RuntimeError):
    """A session that cannot be opened or continued; the message says why."""


class Session:
    """Drives the storyboard graph for one output folder; every front-end talks to this."""

    def __init__(self, out_dir: Path, context: Context, thread_id: str):
        self.out_dir = out_dir
        self.context = context
        self.thread_id = thread_id
        out_dir.mkdir(parents=True, exist_ok=True)
        self._connection = sqlite3.connect(out_dir / "session.sqlite", check_same_thread=False)
        self._graph = compile_graph(SqliteSaver(self._connection, serde=serializer()))
        self._config = {"configurable": {"thread_id": thread_id}}

    @classmethod
    def create(cls, out_dir: Path, context: Context) -> Session:
        """Start a new session in `out_dir`; earlier images there stay on disk and may be reused."""
        thread_id = f"run:{uuid.uuid4()}"
        atomic.write_json(out_dir / "session.json", {"thread_id": thread_id})
        return cls(out_dir, context, thread_id)

    @classmethod
    def reopen(cls, out_dir: Path, context: Context) -> Session:
        """Open the session last started in `out_dir`, first sweeping away half-written temporaries a crash left."""
        try:
            thread_id = json.loads((out_dir / "session.json").read_text())["thread_id"]
        except (OSError, ValueError, KeyError, TypeError):
            raise SessionError(f"{out_dir}: no session to resume here (session.json missing or unreadable)") from None
        sweep_leftovers(out_dir)
        return cls(out_dir, context, thread_id)

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
        initial = Storyboard(scene=scene, out_dir=str(self.out_dir), settings=settings or Settings())
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
        """Release the checkpoint database."""
        self._connection.close()

    def _run(self, graph_input: object) -> Iterator[Event]:
        for mode, chunk in self._graph.stream(graph_input, self._config, context=self.context,
                                              stream_mode=["custom", "updates"], durability="sync"):
            if mode == "custom":
                yield chunk
