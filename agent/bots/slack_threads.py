"""The storyboards of Slack threads: drawing a new one, applying a thread's replies, taking one up after a restart.

Each thread's session lives in OUT/<channel>-<thread ts> and its messages run one at a time under the thread's
lock. Who started each open storyboard is kept beside it (slack_owners), so the per-person limit survives a
restart of the bot.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from slack_sdk import WebClient

from agent.bots import uploads
from agent.bots.sessions import ContextFactory, Conversation, Conversations
from agent.bots.shot_files import changed, shot_files, shot_paths
from agent.bots.slack_messages import HINT, read_scene
from agent.bots.slack_owners import Owners, record
from agent.bots.slack_status import Poster, Status, collect, upload
from graphs.state import Scene, Storyboard
from tools.errors import MachineError, ShotsmithError
from tools.files.roots import Roots

log = logging.getLogger("shotsmith.slack")


class ThreadStoryboards:
    """One storyboard session per Slack thread under `out_root`; holds no Slack connection itself."""

    def __init__(self, context_factory: ContextFactory, out_root: Path, max_sessions_per_user: int,
                 lora_roots: Roots | None = None):
        self.context_factory = context_factory
        self.lora_roots = lora_roots or Roots.around(None, "the model library's folder")
        """Where LoRA files named by a scene sent in Slack may come from (relative paths start at the first)."""
        self.threads: Conversations[str] = Conversations(out_root)
        self.out_root = self.threads.out_root
        self.max_sessions = max_sessions_per_user
        self.owners = Owners(self.out_root)
        """Open sessions and who started them, kept across restarts; the per-person limit counts these."""

    # --- a new storyboard -------------------------------------------------------------------------------

    def start(self, key: str, user: str, text: str, source: tuple[str, str] | None, say: Poster,
              client: WebClient) -> None:
        """Read the scene, open the thread's session and draw it, reporting in one edited message.

        `source` is where the scene is when not in the message's own words (see slack_messages.read_scene).
        """
        folder = self.threads.folder(key)
        try:
            scene = read_scene(text, source, folder, self.lora_roots)
        except ShotsmithError as error:
            say(f"That scene has a problem: {error}")
            return
        if scene is None:
            say(HINT)
            return
        entry = Conversation(self.threads.new_lock())
        with entry.lock:  # held before the thread is claimed, so a quick reply waits for the drawing
            refusal = self._claim(user, key, entry)
            if refusal is not None:
                uploads.discard(folder)  # a screenplay kept for a storyboard that never started
                say(refusal)
                return
            if self._begin(key, user, entry, scene, say):
                self._draw(key, entry, scene, say, client)

    def _claim(self, user: str, key: str, entry: Conversation) -> str | None:
        """Claim the thread for `user` and return None, or return why not (their limit, or a start under way)."""
        def vet() -> str | None:
            running = self.owners.claim(key, user, self.max_sessions)
            return None if running is None else (
                f"Sorry, you already have {running} storyboards going; export one (reply \"export\" in its "
                "thread) before starting another.")
        return self.threads.claim(key, entry, "This thread already has a storyboard; reply here with corrections.",
                                  vet)

    def _begin(self, key: str, user: str, entry: Conversation, scene: Scene, say: Poster) -> bool:
        """Open the claimed thread's session; on failure give the claim back, say why and return False."""
        try:
            self.threads.begin(key, entry, self.context_factory(scene))
            self.owners.opened(key, user)
        except Exception as error:  # a model or library that cannot be loaded: say so in the thread
            if entry.session is not None:
                entry.session.close()
            self.threads.forget(key)
            self.owners.release(key, write=False)
            uploads.discard(self.threads.folder(key))
            say(f"I could not start this storyboard: {error}")
            return False
        return True

    def _draw(self, key: str, entry: Conversation, scene: Scene, say: Poster, client: WebClient) -> None:
        """Draw the new storyboard, editing one status message, then post its shots and sheet."""
        session = entry.session
        status = Status(client, say, f"Drawing \u201c{scene.title}\u201d: planning the shots\u2026")
        try:
            errors = status.follow(session.start(scene))
        except MachineError as error:  # passing: the thread stays open and a reply carries on from here
            status.set(f"Drawing stopped: {error}. The frames finished so far are kept; reply in this thread "
                       "(\u201cregenerate 0\u201d, say) to carry on.")
            return
        except Exception as error:
            log.exception("session %s failed", key)
            self._close(key, entry)  # a storyboard that cannot be drawn must not hold one of the person's places
            session.close()
            status.set(f"Something went wrong while drawing: {error}. This thread is closed; mention me "
                       "again to start over.")
            return
        state = session.state()
        count = len(state.frames) if state else 0
        status.set(f"\u201c{scene.title}\u201d: {count} frames drawn"
                   + (f"; {len(errors)} problem(s): {errors[-1]}" if errors else "")
                   + ". Reply in this thread with corrections such as \u201cframe 1: close-up\u201d, "
                     "or \u201cexport\u201d to finish.")
        folder = self.threads.folder(key)
        self.upload(client, say, folder, shot_paths(folder), sheet=True)

    def _close(self, key: str, entry: Conversation) -> None:
        """Close the thread's session for good, here and on disk, so it no longer counts against its owner."""
        entry.finished = True
        self.owners.release(key)

    # --- replies in the thread --------------------------------------------------------------------------

    def correct(self, key: str, text: str, say: Poster, client: WebClient) -> None:
        """Send a thread reply to its session and post what it did and any shots it redrew."""
        entry = self._entry(key, say)
        if entry is None or not text:
            return
        folder = self.threads.folder(key)
        with entry.lock:
            if entry.finished:
                say("This storyboard is finished; mention me with a scene to start another.")
                return
            before = shot_files(folder)
            try:
                if entry.session.unfinished():
                    for _ in entry.session.carry_on():
                        pass
                said = collect(entry.session.send(text), say)
            except ShotsmithError as error:
                say(str(error))
                return
            except Exception as error:
                log.exception("session %s failed", key)
                say(f"Something went wrong with that correction: {error}")
                return
            if said.exported is not None:
                self._close(key, entry)
                entry.session.close()
                say("\n".join(said.lines + ["Exported: here is the final storyboard."]))
                self.upload(client, say, folder, said.exported or [folder / "storyboard.png",
                                                                    folder / "storyboard.json"])
                return
            if said.lines:
                say("\n".join(said.lines))
            redrawn = changed(before, shot_files(folder))
            self.upload(client, say, folder, redrawn, sheet=bool(redrawn))

    def _entry(self, key: str, say: Poster) -> Conversation | None:
        """Return the thread's session, reopening it from its folder after a restart of the bot."""
        entry = self.threads.get(key)
        if entry is not None:
            return entry
        def adopt(found: Conversation, state: Storyboard | None) -> None:
            self._adopt(key, found, state, say)
        try:
            return self.threads.reopen(key, self.context_factory, adopt)
        except Exception as error:
            say(f"I could not pick this storyboard up again: {error}")
            return None

    def _adopt(self, key: str, entry: Conversation, state: Storyboard | None, say: Poster) -> None:
        """Tell the thread what reopening mended, and mark a storyboard that was exported or never drawn finished."""
        for notice in entry.session.notices:  # a damaged checkpoint file that was mended on the way in
            say(f"Note: {notice}")
        kept = record(self.threads.folder(key))
        if state is None or state.done:
            entry.finished = True
            if kept.get("open"):
                self._close(key, entry)  # exported just before a restart: the record did not say so yet

    def close(self) -> None:
        """Close every open session, releasing their folders for another process (the bot is shutting down)."""
        self.threads.close()

    def upload(self, client: WebClient, say: Poster, folder: Path, files: Iterable[Path], sheet: bool = False) -> None:
        """Post the given files (shots, exports), and the storyboard sheet when asked, in the thread."""
        upload(client, say, folder, list(files), sheet)
