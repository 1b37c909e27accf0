"""A first-come, first-served turn at the GPU for every session in the process.

Sessions (terminal, Slack, Discord, scripts) run side by side in one process; their model work
must not. A GpuQueue hands out turns in arrival order and tells a waiting caller how many are
ahead of it, so a front-end can say "2 ahead of you" instead of going quiet.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class GpuQueue:
    """A re-entrant lock that serves waiters in order and reports their place in line."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._line: list[object] = []
        self._owner: int | None = None
        self._depth = 0

    @contextmanager
    def turn(self, on_wait: Callable[[int], None] | None = None) -> Iterator[None]:
        """Hold the GPU for the body; while waiting, `on_wait(ahead)` hears how many callers come first."""
        self._acquire(on_wait)
        try:
            yield
        finally:
            self._release()

    def __enter__(self) -> GpuQueue:
        self._acquire(None)
        return self

    def __exit__(self, *exc: object) -> None:
        self._release()

    def waiting(self) -> int:
        """Return how many callers wait for a turn now."""
        with self._cond:
            return len(self._line)

    def _acquire(self, on_wait: Callable[[int], None] | None) -> None:
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:  # the same thread again: nested model work inside a turn
                self._depth += 1
                return
            ticket = object()
            self._line.append(ticket)
            told = None
            while self._owner is not None or self._line[0] is not ticket:
                ahead = self._line.index(ticket) + (self._owner is not None)
                if on_wait is not None and ahead != told:
                    on_wait(ahead)
                    told = ahead
                self._cond.wait()
            self._line.pop(0)
            self._owner, self._depth = me, 1

    def _release(self) -> None:
        with self._cond:
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._cond.notify_all()


GPU_QUEUE = GpuQueue()
"""The one queue every session in the process shares."""
