"""What a Slack event says to the bot: who wrote in which thread, the words meant for the bot, and the scene they carry.

Nothing here talks to Slack except scene_source, which downloads an attached scene file with the bot's token.
"""

from __future__ import annotations

import html
import logging
import re
import threading
import urllib.request
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from agent.bots import uploads
from agent.errors import SceneError
from agent.scenes.scene_file import scene_from_message
from graphs.state import Scene
from tools.files.roots import Roots

log = logging.getLogger("shotsmith.slack")

SEEN_EVENTS = 1000
"""How many recent event ids are remembered to drop Slack's retries of an event already handled."""

HINT = ("Tell me the scene in a sentence or two (\u201cKaito searches a dark office for a letter\u201d), or send it "
        "as TOML inside a ``` block, or attach a .toml scene file or a .fountain screenplay (say \u201cscene 2\u201d "
        "to pick a scene), and I will draw it here.")
"""The answer to a message that carries no scene."""

_BLOCK = re.compile(r"```(?:toml)?\s*\n?(.*?)```", re.DOTALL)
_MENTION = re.compile(r"<@[A-Z0-9]+>")
_KEY = re.compile(r"^[A-Za-z0-9]{1,40}-[0-9]{1,20}(\.[0-9]{1,20})?$")
"""A thread's folder name, channel id then thread time stamp; anything else (a "../" say) is never a folder."""


@dataclass(frozen=True)
class Message:
    """A person's message the bot may have to answer, read from a Slack event."""

    user: str
    channel: str
    thread_ts: str  # the thread it belongs to: its own time stamp when it starts one
    key: str  # the thread's folder name, "<channel>-<thread ts>"
    text: str  # the words without any mention of the bot
    direct: bool  # sent in a direct message to the bot
    in_thread: bool  # a reply in an existing thread
    files: list[dict] = field(default_factory=list)


def read_message(event: dict, bot_user: str | None, mentioned: bool) -> Message | None:
    """Return the message an event carries, or None when the bot must not act on it.

    None for messages from bots (the bot itself among them), edits and other subtypes, the message event that
    comes with an app_mention event for the same message, and thread ids that could not be folder names.
    """
    if event.get("bot_id") or event.get("subtype") not in (None, "file_share"):
        return None
    user, channel = event.get("user"), event.get("channel")
    if not user or not channel or (bot_user and user == bot_user):
        return None
    direct = event.get("channel_type") == "im"
    raw = event.get("text") or ""
    if not mentioned and not direct and bot_user and f"<@{bot_user}>" in raw:
        return None  # the app_mention event for the same message does the work
    mentions = re.compile(f"<@{re.escape(bot_user)}>") if bot_user else _MENTION
    thread_ts = event.get("thread_ts") or event["ts"]
    key = f"{channel}-{thread_ts}"
    if not _KEY.match(key):
        log.warning("ignored an event with an unexpected channel or time stamp: %r", key[:80])
        return None
    return Message(user, channel, thread_ts, key, html.unescape(mentions.sub("", raw)).strip(), direct,
                   event.get("thread_ts") is not None, event.get("files") or [])


class SeenEvents:
    """The ids of the latest events handled, to drop Slack's retries of them; safe to use from many threads."""

    def __init__(self) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

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


def scene_source(text: str, files: list[dict], token: str | None) -> tuple[str, str] | None:
    """Return ("", TOML) from a ``` block, (file name, text) for an attached scene file, or None for neither.

    Raises OSError when the attachment cannot be downloaded, SceneError when it is too big to be a scene.
    """
    found = _BLOCK.search(text)
    if found:
        return "", found.group(1)
    for item in files:
        url = item.get("url_private_download") or item.get("url_private")
        name = item.get("name") or ""
        if url and uploads.wanted(name):
            request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(request, timeout=30) as response:
                data = response.read(uploads.LIMIT + 1)
            if len(data) > uploads.LIMIT:
                raise SceneError(f"{name} is over {uploads.LIMIT // 1024} KB; expected a scene file or screenplay")
            return name, data.decode("utf-8", errors="replace")
    return None


def read_scene(text: str, source: tuple[str, str] | None, folder: Path, roots: Roots) -> Scene | None:
    """Read the scene of a message that starts a storyboard in `folder`; None when it carries none.

    The scene is the message's own words (plain words or TOML) when `source` is None, else the TOML of a
    ``` block (name "") or an attached file; "scene 2" in the message picks a screenplay's scene. LoRA paths
    resolve against the first of `roots`. Raises SceneError for a scene that cannot be used.
    """
    base = roots.folders[0] if roots.folders else folder
    if source is None:
        return scene_from_message(text, base, roots=roots)
    if not source[0]:
        return scene_from_message(source[1], base, toml=True, roots=roots)
    return uploads.scene_from_attachment(source[0], source[1], folder, uploads.scene_number(text), roots=roots)
