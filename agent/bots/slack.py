"""The `shotsmith slack` command: a Slack bot where every thread is one storyboard session.

Mention the bot (or write to it directly) with a scene in plain words, as TOML inside a ``` block, or as an
attached .toml file, and it draws the storyboard in that message's thread: one status message that is edited as the
work goes on, then the shots and the storyboard sheet as files. Replies in the thread are corrections
("frame 1: close-up", "undo"); "export" finishes the session and posts storyboard.png and storyboard.json.

The session for a thread lives in OUT/<channel>-<thread ts>, so it survives a restart of the bot. Session
work runs on Bolt's worker threads after the event is acknowledged; model work from all threads takes
turns through the process-wide GPU queue the Context carries.
"""

from __future__ import annotations

import html
import logging
import re
import threading
import urllib.request
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable, Iterable
from pathlib import Path

from slack_bolt import App
from slack_sdk import WebClient

from agent.scenes.scene_file import SceneError, reads_as_correction, scene_from_message
from agent.session import Session, SessionError
from agent.bots import uploads
from agent.bots.shot_files import changed, shot_files, shot_paths
from agent.bots.slack_owners import Owners, record
from agent.bots.slack_status import Poster, Status
from graphs.context import Context
from graphs.state import Scene
from tools.models.memory import OutOfMemory
from tools.files.roots import Roots

log = logging.getLogger("shotsmith.slack")

LISTENERS = 64
"""Slack events handled at once; a storyboard being drawn keeps one of these busy until it is done."""
SEEN_EVENTS = 1000
"""How many recent event ids are remembered to drop Slack's retries of an event already handled."""


_BLOCK = re.compile(r"```(?:toml)?\s*\n?(.*?)```", re.DOTALL)
_MENTION = re.compile(r"<@[A-Z0-9]+>")
_KEY = re.compile(r"^[A-Za-z0-9]{1,40}-[0-9]{1,20}(\.[0-9]{1,20})?$")
"""A thread's folder name, channel id then thread time stamp; anything else (a "../" say) is never a folder."""

ContextFactory = Callable[[Scene], Context]


class _Thread:
    """One Slack thread's session, the person who started it, and a lock so its messages run one at a time."""

    def __init__(self, session: Session, owner: str):
        self.session = session
        self.owner = owner
        self.lock = threading.Lock()
        self.finished = False
        """True once the session was exported, or could not be drawn at all: replies no longer reach it."""


class SlackBot:
    """Routes Slack events to storyboard sessions, one per thread; holds no Slack connection itself."""

    def __init__(self, context_factory: ContextFactory, out_root: Path, token: str | None,
                 allow_channels: Iterable[str] | None, allow_users: Iterable[str] | None,
                 max_sessions_per_user: int, lora_roots: Roots | None = None):
        self.context_factory = context_factory
        self.lora_roots = lora_roots or Roots.around(None, "the model library's folder")
        """Where LoRA files named by a scene sent in Slack may come from (relative paths start at the first)."""
        self.out_root = Path(out_root).absolute()  # the folder as given at startup, whatever the cwd does later
        self.token = token
        self.allow_channels = set(allow_channels) if allow_channels else None
        self.allow_users = set(allow_users) if allow_users else None
        self.max_sessions = max_sessions_per_user
        self.threads: dict[str, _Thread] = {}
        self.owners = Owners(self.out_root)
        """Open sessions and who started them, kept across restarts; the per-person limit counts these."""
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self._reopening = threading.Lock()

    # --- routing ----------------------------------------------------------------------------------------

    def first_time(self, event_id: str | None) -> bool:
        """Remember an event id; return False when it was already handled (a retry from Slack)."""
        if not event_id:
            return True
        with self._lock:
            if event_id in self._seen:
                return False
            self._seen[event_id] = None
            while len(self._seen) > SEEN_EVENTS:
                self._seen.popitem(last=False)
            return True

    def handle(self, event: dict, event_id: str | None, client: WebClient, bot_user: str | None,
               mentioned: bool) -> None:
        """Act on one mention, direct message or thread reply."""
        if event.get("bot_id") or event.get("subtype") not in (None, "file_share"):
            return
        user, channel = event.get("user"), event.get("channel")
        if not user or not channel or (bot_user and user == bot_user):
            return
        direct = event.get("channel_type") == "im"
        mentions = re.compile(f"<@{re.escape(bot_user)}>") if bot_user else _MENTION
        text = html.unescape(mentions.sub("", event.get("text") or "")).strip()
        if not mentioned and not direct and bot_user and f"<@{bot_user}>" in (event.get("text") or ""):
            return  # the app_mention event for the same message does the work
        thread_ts = event.get("thread_ts") or event["ts"]
        key = f"{channel}-{thread_ts}"
        if not _KEY.match(key):
            log.warning("ignored an event with an unexpected channel or time stamp: %r", key[:80])
            return
        known = event.get("thread_ts") is not None and self._known(key)
        if not (mentioned or direct or known):
            return  # chatter in some other thread
        if not self.first_time(event_id):
            return
        say = Poster(client, channel, thread_ts)
        if self.allow_channels is not None and channel not in self.allow_channels and not direct:
            say("Sorry, I only draw storyboards in the channels I have been set up for.")
            return
        if self.allow_users is not None and user not in self.allow_users:
            say("Sorry, I can only take storyboard requests from the people I have been set up for.")
            return
        if known:
            self.correct(key, text, say, client)
            return
        try:
            source = self.scene_source(text, event.get("files") or [])
        except (OSError, SceneError) as error:
            say(f"I could not use the attached scene file: {error}")
            return
        if source is None and reads_as_correction(text):
            say("That reads as a correction: send it as a reply in the storyboard's thread. To start a new "
                "storyboard, tell me the scene in a sentence or two.")
            return
        self.start(key, user, text, source, say, client)

    def _known(self, key: str) -> bool:
        with self._lock:
            if key in self.threads:
                return True
        return (self.out_root / key / "session.json").is_file()

    def scene_source(self, text: str, files: list[dict]) -> tuple[str, str] | None:
        """Return ("", TOML) from a ``` block, (file name, text) for an attached scene file, or None for neither."""
        found = _BLOCK.search(text)
        if found:
            return "", found.group(1)
        for item in files:
            url = item.get("url_private_download") or item.get("url_private")
            name = item.get("name") or ""
            if url and uploads.wanted(name):
                request = urllib.request.Request(url, headers={"Authorization": f"Bearer {self.token}"})
                with urllib.request.urlopen(request, timeout=30) as response:
                    data = response.read(uploads.LIMIT + 1)
                if len(data) > uploads.LIMIT:
                    raise SceneError(f"{name} is over {uploads.LIMIT // 1024} KB; expected a scene file or screenplay")
                return name, data.decode("utf-8", errors="replace")
        return None

    # --- a new session ----------------------------------------------------------------------------------

    def start(self, key: str, user: str, text: str, source: tuple[str, str] | None, say: Poster,
              client: WebClient) -> None:
        """Read the scene, open the thread's session and draw it, reporting in one edited message.

        The scene is the message's own words (plain words or TOML) when `source` is None, else the TOML of a
        ``` block (name "") or an attached file; "scene 2" in the message picks a screenplay's scene.
        """
        folder = self.out_root / key
        roots = self.lora_roots
        base = roots.folders[0] if roots.folders else folder
        try:
            if source is None:
                scene = scene_from_message(text, base, roots=roots)
            elif not source[0]:
                scene = scene_from_message(source[1], base, toml=True, roots=roots)
            else:
                scene = uploads.scene_from_attachment(source[0], source[1], folder, uploads.scene_number(text),
                                                      roots=roots)
        except SceneError as error:
            say(f"That scene has a problem: {error}")
            return
        if scene is None:
            say("Tell me the scene in a sentence or two (\u201cKaito searches a dark office for a letter\u201d), "
                "or send it as TOML inside a ``` block, or attach a .toml scene file or a .fountain screenplay "
                "(say \u201cscene 2\u201d to pick a scene), and I will draw it here.")
            return
        entry = _Thread(None, user)
        with entry.lock:  # held before the thread is claimed, so a quick reply waits for the drawing
            refusal = self._claim(user, key, entry)
            if refusal is not None:
                uploads.discard(folder)  # a screenplay kept for a storyboard that never started
                say(refusal)
                return
            try:
                entry.session = Session.create(folder, self.context_factory(scene))
                self.owners.opened(key, user)
            except Exception as error:  # a model or library that cannot be loaded: say so in the thread
                if entry.session is not None:
                    entry.session.close()
                with self._lock:
                    self.threads.pop(key, None)
                self.owners.release(key, write=False)
                uploads.discard(folder)
                say(f"I could not start this storyboard: {error}")
                return
            session = entry.session
            status = Status(client, say, f"Drawing \u201c{scene.title}\u201d: planning the shots\u2026")
            try:
                errors = status.follow(session.start(scene))
            except OutOfMemory as error:  # passing: the thread stays open and a reply carries on from here
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
            self.upload(client, say, folder, shot_paths(folder), sheet=True)

    def _claim(self, user: str, key: str, entry: _Thread) -> str | None:
        """Claim the thread for `user` and return None, or return why not (their limit, or a start under way)."""
        with self._lock:
            if key in self.threads:
                return "This thread already has a storyboard; reply here with corrections."
            running = self.owners.claim(key, user, self.max_sessions)
            if running is not None:
                return (f"Sorry, you already have {running} storyboards going; export one (reply \"export\" in its "
                        "thread) before starting another.")
            self.threads[key] = entry
        return None

    def _close(self, key: str, entry: _Thread) -> None:
        """Close the thread's session for good, here and on disk, so it no longer counts against its owner."""
        entry.finished = True
        self.owners.release(key)

    # --- corrections ------------------------------------------------------------------------------------

    def correct(self, key: str, text: str, say: Poster, client: WebClient) -> None:
        """Send a thread reply to its session and post what it did and any shots it redrew."""
        entry = self._entry(key, say)
        if entry is None:
            return
        if not text:
            return
        folder = self.out_root / key
        with entry.lock:
            if entry.finished:
                say("This storyboard is finished; mention me with a scene to start another.")
                return
            before = shot_files(folder)
            lines: list[str] = []
            done: list[Path] | None = None
            waited = False
            try:
                if entry.session.unfinished():
                    for _ in entry.session.carry_on():
                        pass
                for event in entry.session.send(text):
                    kind = event.get("type")
                    if kind in ("message", "notice"):
                        lines.append(event["message"])
                    elif kind == "question":
                        lines.append(f"Question: {event['message']}")
                    elif kind == "error":
                        lines.append(f"Problem: {event['message']}")
                    elif kind == "queue" and event.get("ahead") and not waited:
                        waited = True  # said once per correction, not once per frame that waits
                        say(f"Waiting for the GPU: {event['ahead']} ahead of this thread.")
                    elif kind == "done":
                        done = [Path(f) for f in event.get("files", [])]
            except SessionError as error:
                say(str(error))
                return
            except Exception as error:
                log.exception("session %s failed", key)
                say(f"Something went wrong with that correction: {error}")
                return
            if done is not None:
                self._close(key, entry)
                entry.session.close()
                say("\n".join(lines + ["Exported: here is the final storyboard."]))
                self.upload(client, say, folder, done or [folder / "storyboard.png", folder / "storyboard.json"])
                return
            if lines:
                say("\n".join(lines))
            redrawn = changed(before, shot_files(folder))
            self.upload(client, say, folder, redrawn, sheet=bool(redrawn))

    def _entry(self, key: str, say: Poster) -> _Thread | None:
        """Return the thread's session, reopening it from its folder after a restart of the bot."""
        with self._lock:
            entry = self.threads.get(key)
        if entry is not None:
            return entry
        with self._reopening:  # one reopen at a time: reopening sweeps temporaries another session may be writing
            with self._lock:
                entry = self.threads.get(key)
            if entry is not None:
                return entry  # another message reopened it while this one waited
            return self._reopen(key, say)

    def _reopen(self, key: str, say: Poster) -> _Thread | None:
        folder = self.out_root / key
        try:
            session = Session.reopen(folder, None)
            state = session.state()
            if state is not None:
                session.context = self.context_factory(state.scene)
        except Exception as error:
            say(f"I could not pick this storyboard up again: {error}")
            return None
        for notice in session.notices:  # a damaged checkpoint file that was mended on the way in
            say(f"Note: {notice}")
        kept = record(folder)
        entry = _Thread(session, kept.get("owner", ""))
        with self._lock:
            self.threads[key] = entry
        if state is None or state.done:
            entry.finished = True
            if kept.get("open"):
                self._close(key, entry)  # exported just before a restart: the record did not say so yet
        return entry

    def close(self) -> None:
        """Close every open session, releasing their folders for another process (the bot is shutting down)."""
        with self._lock:
            entries = list(self.threads.values())
            self.threads.clear()
        for entry in entries:
            if entry.session is not None:
                with entry.lock:
                    entry.session.close()

    # --- files ------------------------------------------------------------------------------------------

    def upload(self, client: WebClient, say: Poster, folder: Path, files: list[Path], sheet: bool = False) -> None:
        """Post the given files (shots, exports), and the storyboard sheet when asked, in the thread."""
        paths = list(files)
        if sheet:
            paths.append(folder / "storyboard.png")
        items = [{"file": str(p), "filename": p.name, "title": p.stem.replace("_", " ")} for p in paths if p.is_file()]
        if not items:
            return
        try:
            client.files_upload_v2(channel=say.channel, thread_ts=say.thread_ts, file_uploads=items)
        except Exception as error:
            log.exception("upload to %s failed", say.channel)
            say(f"The files are in {folder} but I could not upload them: {error}")


def build_app(context_factory: ContextFactory, out_root: Path, client: WebClient | None = None,
              signing_secret: str | None = None, token: str | None = None,
              allow_channels: Iterable[str] | None = None, allow_users: Iterable[str] | None = None,
              max_sessions_per_user: int = 2, lora_roots: Roots | None = None) -> App:
    """Return a Bolt app that runs storyboard sessions, one per Slack thread, under `out_root`.

    `context_factory(scene)` gives the planner and renderer for a new session. `lora_roots` are the folders
    LoRA files named by a scene sent in Slack may come from (by default only those in SHOTSMITH_ROOTS).
    Building the app asks Slack (auth.test) who the bot is; nothing is contacted before this is called.
    """
    if client is None:
        client = WebClient(token=token)
    bot = SlackBot(context_factory, out_root, token or client.token, allow_channels, allow_users,
                   max_sessions_per_user, lora_roots)
    # Each drawing holds its listener thread until done, so Bolt's default pool of 5 would leave the sixth
    # person with no answer at all; waiting belongs in the GPU queue, where the thread is told its place.
    app = App(client=client, signing_secret=signing_secret or "",
              listener_executor=ThreadPoolExecutor(max_workers=LISTENERS, thread_name_prefix="slack-listener"))
    app.shotsmith = bot  # for tests and operators who want to look inside

    @app.event("app_mention")
    def on_mention(body, event, client, context):
        bot.handle(event, body.get("event_id"), client, context.bot_user_id, mentioned=True)

    @app.event("message")
    def on_message(body, event, client, context):
        bot.handle(event, body.get("event_id"), client, context.bot_user_id, mentioned=False)

    return app
