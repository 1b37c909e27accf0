"""The `shotsmith slack` command: a Slack bot where every thread is one storyboard session.

Mention the bot (or write to it directly) with a scene as TOML inside a ``` block, or with a .toml file
attached, and it draws the storyboard in that message's thread: one status message that is edited as the
work goes on, then the shots and the storyboard sheet as files. Replies in the thread are corrections
("frame 1: close-up", "undo"); "export" finishes the session and posts storyboard.png and storyboard.json.

The session for a thread lives in OUT/<channel>-<thread ts>, so it survives a restart of the bot. Session
work runs on Bolt's worker threads after the event is acknowledged; model work from all threads takes
turns through the process-wide GPU queue the Context carries.
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
import threading
import time
import tomllib
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path

from slack_bolt import App
from slack_sdk import WebClient

from agent.scene_file import SceneError, parse_scene
from agent.session import Event, Session, SessionError
from graphs.context import Context
from graphs.state import Scene

log = logging.getLogger("shotsmith.slack")

SEEN_EVENTS = 1000
"""How many recent event ids are remembered to drop Slack's retries of an event already handled."""

UPDATE_EVERY = 1.0
"""The least number of seconds between two edits of the status message for denoising steps."""

_BLOCK = re.compile(r"```(?:toml)?\s*\n?(.*?)```", re.DOTALL)
_MENTION = re.compile(r"<@[A-Z0-9]+>")

ContextFactory = Callable[[Scene], Context]


class _Thread:
    """One Slack thread's session, the person who started it, and a lock so its messages run one at a time."""

    def __init__(self, session: Session, owner: str):
        self.session = session
        self.owner = owner
        self.lock = threading.Lock()
        self.finished = False


class SlackBot:
    """Routes Slack events to storyboard sessions, one per thread; holds no Slack connection itself."""

    def __init__(self, context_factory: ContextFactory, out_root: Path, token: str | None,
                 allow_channels: Iterable[str] | None, allow_users: Iterable[str] | None,
                 max_sessions_per_user: int):
        self.context_factory = context_factory
        self.out_root = Path(out_root)
        self.token = token
        self.allow_channels = set(allow_channels) if allow_channels else None
        self.allow_users = set(allow_users) if allow_users else None
        self.max_sessions = max_sessions_per_user
        self.threads: dict[str, _Thread] = {}
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

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
        text = html.unescape(_MENTION.sub("", event.get("text") or "")).strip()
        if not mentioned and not direct and bot_user and f"<@{bot_user}>" in (event.get("text") or ""):
            return  # the app_mention event for the same message does the work
        thread_ts = event.get("thread_ts") or event["ts"]
        key = f"{channel}-{thread_ts}"
        known = event.get("thread_ts") is not None and self._known(key)
        if not (mentioned or direct or known):
            return  # chatter in some other thread
        if not self.first_time(event_id):
            return
        say = _Poster(client, channel, thread_ts)
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
            scene_text = self.scene_text(text, event.get("files") or [])
        except OSError as error:
            say(f"I could not download the attached scene file: {error}")
            return
        if scene_text is None:
            say("Send me a scene as TOML inside a ``` block (or attach a .toml file) and I will draw it "
                "in a thread.")
            return
        self.start(key, user, scene_text, say, client)

    def _known(self, key: str) -> bool:
        with self._lock:
            if key in self.threads:
                return True
        return (self.out_root / key / "session.json").is_file()

    def scene_text(self, text: str, files: list[dict]) -> str | None:
        """Return the scene TOML from a ``` block in the text, else from an attached .toml file, else None."""
        found = _BLOCK.search(text)
        if found:
            return found.group(1)
        for item in files:
            url = item.get("url_private_download") or item.get("url_private")
            if url and (item.get("name") or "").lower().endswith(".toml"):
                request = urllib.request.Request(url, headers={"Authorization": f"Bearer {self.token}"})
                with urllib.request.urlopen(request, timeout=30) as response:
                    return response.read(256 * 1024).decode("utf-8", errors="replace")
        return None

    # --- a new session ----------------------------------------------------------------------------------

    def start(self, key: str, user: str, scene_text: str, say: _Poster, client: WebClient) -> None:
        """Parse the scene, open the thread's session and draw it, reporting in one edited message."""
        folder = self.out_root / key
        try:
            scene = parse_scene(tomllib.loads(scene_text), folder)
        except tomllib.TOMLDecodeError as error:
            say(f"That scene is not valid TOML: {error}")
            return
        except SceneError as error:
            say(f"That scene has a problem: {error}")
            return
        entry = _Thread(None, user)
        with entry.lock:  # held before the thread is claimed, so a quick reply waits for the drawing
            running = self._claim(user, key, entry)
            if running is not None:
                say(f"Sorry, you already have {running} storyboards going; export one (reply \"export\" in its "
                    "thread) before starting another.")
                return
            try:
                entry.session = Session.create(folder, self.context_factory(scene))
            except Exception as error:  # a model or library that cannot be loaded: say so in the thread
                with self._lock:
                    self.threads.pop(key, None)
                say(f"I could not start this storyboard: {error}")
                return
            session = entry.session
            status = _Status(client, say, f"Drawing \u201c{scene.title}\u201d: planning the shots\u2026")
            before = _hashes(folder)
            try:
                errors = status.follow(session.start(scene))
            except Exception as error:
                log.exception("session %s failed", key)
                status.set(f"Something went wrong while drawing: {error}")
                return
            state = session.state()
            count = len(state.frames) if state else 0
            status.set(f"\u201c{scene.title}\u201d: {count} frames drawn"
                       + (f"; {len(errors)} problem(s): {errors[-1]}" if errors else "")
                       + ". Reply in this thread with corrections such as \u201cframe 1: close-up\u201d, "
                         "or \u201cexport\u201d to finish.")
            self.upload(client, say, folder, _changed(before, _hashes(folder), every=True), sheet=True)

    def _claim(self, user: str, key: str, entry: _Thread) -> int | None:
        """Claim the thread for `user` and return None, or return how many sessions they run when at the limit."""
        with self._lock:
            running = sum(1 for t in self.threads.values() if t.owner == user and not t.finished)
            full = running >= self.max_sessions
            if not full:
                self.threads[key] = entry
        return running if full else None

    # --- corrections ------------------------------------------------------------------------------------

    def correct(self, key: str, text: str, say: _Poster, client: WebClient) -> None:
        """Send a thread reply to its session and post what it did and any shots it redrew."""
        entry = self._entry(key, say)
        if entry is None:
            return
        if not text:
            return
        folder = self.out_root / key
        with entry.lock:
            if entry.finished:
                say("This storyboard was exported and is finished; mention me with a scene to start another.")
                return
            before = _hashes(folder)
            lines: list[str] = []
            done = False
            try:
                if entry.session.unfinished():
                    for _ in entry.session.carry_on():
                        pass
                for event in entry.session.send(text):
                    kind = event.get("type")
                    if kind in ("message", "notice"):
                        lines.append(event["message"])
                    elif kind == "error":
                        lines.append(f"Problem: {event['message']}")
                    elif kind == "queue" and event.get("ahead"):
                        say(f"Waiting for the GPU: {event['ahead']} ahead of this thread.")
                    elif kind == "done":
                        done = True
            except SessionError as error:
                say(str(error))
                return
            except Exception as error:
                log.exception("session %s failed", key)
                say(f"Something went wrong with that correction: {error}")
                return
            if done:
                entry.finished = True
                entry.session.close()
                say("\n".join(lines + ["Exported: here is the final storyboard."]))
                self.upload(client, say, folder, [], sheet=True, data=True)
                return
            if lines:
                say("\n".join(lines))
            changed = _changed(before, _hashes(folder))
            self.upload(client, say, folder, changed, sheet=bool(changed))

    def _entry(self, key: str, say: _Poster) -> _Thread | None:
        """Return the thread's session, reopening it from its folder after a restart of the bot."""
        with self._lock:
            entry = self.threads.get(key)
        if entry is not None:
            return entry
        folder = self.out_root / key
        try:
            owner = Session.reopen(folder, None)
            state = owner.state()
            if state is not None:
                owner.context = self.context_factory(state.scene)
        except Exception as error:
            say(f"I could not pick this storyboard up again: {error}")
            return None
        entry = _Thread(owner, "")
        entry.finished = state is None or state.done
        with self._lock:
            entry = self.threads.setdefault(key, entry)
        return entry

    # --- files ------------------------------------------------------------------------------------------

    def upload(self, client: WebClient, say: _Poster, folder: Path, shots: list[str], sheet: bool = False,
               data: bool = False) -> None:
        """Post the named shots, and the storyboard sheet and data when asked, as files in the thread."""
        paths = [folder / "frames" / name for name in shots]
        if sheet:
            paths.append(folder / "storyboard.png")
        if data:
            paths.append(folder / "storyboard.json")
        uploads = [{"file": str(p), "filename": p.name, "title": p.stem.replace("_", " ")}
                   for p in paths if p.is_file()]
        if not uploads:
            return
        try:
            client.files_upload_v2(channel=say.channel, thread_ts=say.thread_ts, file_uploads=uploads)
        except Exception as error:
            log.exception("upload to %s failed", say.channel)
            say(f"The files are in {folder} but I could not upload them: {error}")


class _Poster:
    """Posts one-line replies in a thread."""

    def __init__(self, client: WebClient, channel: str, thread_ts: str):
        self.client, self.channel, self.thread_ts = client, channel, thread_ts

    def __call__(self, text: str) -> dict:
        return self.client.chat_postMessage(channel=self.channel, thread_ts=self.thread_ts, text=text)


class _Status:
    """A message posted once and then edited in place to show how the drawing goes."""

    def __init__(self, client: WebClient, say: _Poster, text: str):
        self.client = client
        posted = say(text)
        self.channel = posted.get("channel") or say.channel
        self.ts = posted["ts"]
        self.last = 0.0

    def set(self, text: str) -> None:
        try:
            self.client.chat_update(channel=self.channel, ts=self.ts, text=text)
        except Exception:  # a status edit that fails must not stop the drawing
            log.exception("status update failed")
        self.last = time.monotonic()

    def follow(self, events: Iterable[Event]) -> list[str]:
        """Edit the status for each event worth showing; return the error messages met."""
        errors = []
        for event in events:
            kind = event.get("type")
            if kind == "plan":
                self.set(f"Planned {event['frames']} frames with the {event['planner']} planner; drawing\u2026")
            elif kind == "progress" and time.monotonic() - self.last >= UPDATE_EVERY:
                self.set(f"Drawing frame {event['frame'] + 1} of {event['frames']}: step {event['step']} of "
                         f"{event['steps']}")
            elif kind == "frame":
                self.set(f"Frame {event['frame'] + 1} of {event['frames']} {event['status']}")
            elif kind == "queue" and event.get("ahead"):
                self.set(f"Waiting for the GPU: {event['ahead']} ahead of this storyboard")
            elif kind == "error":
                errors.append(event["message"])
        return errors


def _hashes(folder: Path) -> dict[str, str]:
    frames = folder / "frames"
    if not frames.is_dir():
        return {}
    return {p.name: hashlib.sha1(p.read_bytes()).hexdigest() for p in frames.glob("shot_*.png")}


def _changed(before: dict[str, str], after: dict[str, str], every: bool = False) -> list[str]:
    """Return the shot files, in shot order, that are new or different (all of them with `every`)."""
    names = [n for n in after if every or before.get(n) != after[n]]
    return sorted(names, key=lambda n: int(re.sub(r"\D", "", n) or 0))


def build_app(context_factory: ContextFactory, out_root: Path, client: WebClient | None = None,
              signing_secret: str | None = None, token: str | None = None,
              allow_channels: Iterable[str] | None = None, allow_users: Iterable[str] | None = None,
              max_sessions_per_user: int = 2) -> App:
    """Return a Bolt app that runs storyboard sessions, one per Slack thread, under `out_root`.

    `context_factory(scene)` gives the planner and renderer for a new session. Building the app asks
    Slack (auth.test) who the bot is; nothing is contacted before this is called.
    """
    if client is None:
        client = WebClient(token=token)
    bot = SlackBot(context_factory, out_root, token or client.token, allow_channels, allow_users,
                   max_sessions_per_user)
    app = App(client=client, signing_secret=signing_secret or "")
    app.shotsmith = bot  # for tests and operators who want to look inside

    @app.event("app_mention")
    def on_mention(body, event, client, context):
        bot.handle(event, body.get("event_id"), client, context.bot_user_id, mentioned=True)

    @app.event("message")
    def on_message(body, event, client, context):
        bot.handle(event, body.get("event_id"), client, context.bot_user_id, mentioned=False)

    return app
