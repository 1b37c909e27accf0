"""The storyboard sessions a chat bot keeps, one per conversation: a Slack thread, or a Discord channel.

Each conversation has its own folder under the bot's output folder, named after its key, and an entry here with
its open Session and a lock that makes its messages take turns. The registry opens a conversation's session,
takes up one kept on disk by an earlier run of the bot, and closes them all when the bot shuts down. What a bot
says about any of this stays in the bot.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from agent.session import Session
from graphs.context import Context
from graphs.state import Scene, Storyboard

Key = TypeVar("Key", str, int)
"""What names a conversation: "<channel>-<thread ts>" in Slack, the channel id in Discord."""

ContextFactory = Callable[[Scene], Context]
"""Builds the graph's Context for a scene (the scene may bring its own character LoRAs)."""


class Conversation:
    """One conversation's session (None until one is opened), its lock, and what the bot still has to tell it."""

    def __init__(self, lock: threading.Lock | asyncio.Lock, session: Session | None = None):
        self.session = session
        self.lock = lock
        self.finished = False
        """True once replies no longer reach the session (Slack: exported, or it could not be drawn at all)."""
        self.notices: list[str] = []
        """What reopening the session had to mend, said with the conversation's next reply (Discord)."""


Adopt = Callable[[Conversation, Storyboard | None], None]
"""Called with a conversation whose session was just taken up, and that session's state."""


class Conversations(Generic[Key]):
    """The conversations of one bot, each with a folder under `out_root`; safe to use from many threads.

    `on_event_loop` gives each conversation an asyncio lock, for a bot whose messages take turns on the event
    loop (Discord); otherwise each has a threading lock, held by the worker thread that runs its message (Slack).
    """

    def __init__(self, out_root: Path, on_event_loop: bool = False):
        self.out_root = Path(out_root).absolute()  # the folder as given at startup, whatever the cwd does later
        self.on_event_loop = on_event_loop
        self._open: dict[Key, Conversation] = {}
        self._lock = threading.Lock()
        self._reopening = threading.Lock()

    def new_lock(self) -> threading.Lock | asyncio.Lock:
        """Return a fresh lock of the kind this bot's conversations take turns with."""
        return asyncio.Lock() if self.on_event_loop else threading.Lock()

    def folder(self, key: Key) -> Path:
        """The folder that holds the conversation's session."""
        return self.out_root / f"{key}"

    def kept(self, key: Key) -> bool:
        """Tell whether the conversation's folder holds a session (from this run or an earlier one)."""
        return (self.folder(key) / "session.json").is_file()

    def get(self, key: Key) -> Conversation | None:
        """Return the conversation's entry when this run has one."""
        with self._lock:
            return self._open.get(key)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._open

    def known(self, key: Key) -> bool:
        """Tell whether the conversation has a session, here or kept on disk."""
        return key in self or self.kept(key)

    def entry(self, key: Key) -> Conversation:
        """Return the conversation's entry, making an empty one (with its lock) the first time it is asked for."""
        with self._lock:
            return self._open.setdefault(key, Conversation(self.new_lock()))

    def claim(self, key: Key, entry: Conversation, taken: str, vet: Callable[[], str | None]) -> str | None:
        """Make `entry` the conversation's and return None, or return why not: `taken` when it already has one,
        else what `vet` says (asked under the registry's lock, so two starts cannot both pass it)."""
        with self._lock:
            if key in self._open:
                return taken
            refusal = vet()
            if refusal is None:
                self._open[key] = entry
            return refusal

    def forget(self, key: Key) -> None:
        """Drop the conversation's entry (a start that failed); its folder is left as it is."""
        with self._lock:
            self._open.pop(key, None)

    def begin(self, key: Key, entry: Conversation, context: Context) -> Session:
        """Open a new session in the conversation's folder for `entry`, closing the one it had.

        Raises SessionError when the folder cannot be used (another process writes there, say).
        """
        old, entry.session = entry.session, None
        if old is not None:
            old.close()
        entry.session = Session.create(self.folder(key), context)
        return entry.session

    def reopen(self, key: Key, context_factory: ContextFactory, adopt: Adopt) -> Conversation:
        """Take up the session an earlier run kept in the conversation's folder, and return its entry.

        The session gets a Context for its scene (one never drawn has none), then `adopt(entry, state)` runs
        before the entry is registered. One reopen runs at a time: reopening sweeps temporaries that another
        session may be writing. A message that waited here finds the session the one before it took up.
        Raises what Session.reopen or the factory raises.
        """
        with self._reopening:
            entry = self.get(key)
            if entry is not None and entry.session is not None:
                return entry  # another message reopened it while this one waited
            session = Session.reopen(self.folder(key), None)
            state = session.state()
            if state is not None:
                session.context = context_factory(state.scene)
            entry = entry or Conversation(self.new_lock())
            entry.session = session
            adopt(entry, state)
            with self._lock:
                self._open[key] = entry
            return entry

    def close(self) -> None:
        """Close every open session, releasing their folders for another process (the bot is shutting down).

        With threading locks each conversation's lock is taken first, so a message being worked on finishes.
        """
        with self._lock:
            entries = list(self._open.values())
            self._open.clear()
        for entry in entries:
            if entry.session is None:
                continue
            if self.on_event_loop:
                entry.session.close()
            else:
                with entry.lock:
                    entry.session.close()
