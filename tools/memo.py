"""A bounded memo shared by the threads of one process: what was worked out lately, kept by key.

The least lately used entries go first once the entries weigh more than the memo may hold (by default
each weighs 1, so `most` counts entries); the newest entry always stays, however heavy. None is never
stored as a value, since get() answers None for a key it does not hold.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable


class Memo:
    """Values by key, at most `most` in total weight, the least lately used dropped first; safe across threads."""

    def __init__(self, most: int, weight: Callable[[object], int] | None = None):
        self.most = most
        self.weight = weight
        self.items: OrderedDict = OrderedDict()
        self.held = 0
        """The total weight of the values held."""
        self.lock = threading.Lock()

    def get(self, key):
        """Return the value kept for `key` (now the most lately used), or None."""
        with self.lock:
            value = self.items.get(key)
            if value is not None:
                self.items.move_to_end(key)
            return value

    def put(self, key, value) -> None:
        """Keep `value` for `key`, then drop the least lately used entries while the memo weighs too much."""
        with self.lock:
            if key in self.items:
                self.held -= self._weigh(self.items.pop(key))
            self.items[key] = value
            self.held += self._weigh(value)
            while self.held > self.most and len(self.items) > 1:
                self.held -= self._weigh(self.items.popitem(last=False)[1])

    def _weigh(self, value) -> int:
        return 1 if self.weight is None else self.weight(value)
