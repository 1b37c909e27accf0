"""The `shotsmith slack` command: a Slack bot where every thread is one storyboard session.

Mention the bot (or write to it directly) with a scene in plain words, as TOML inside a ``` block, or as an
attached .toml file, and it draws the storyboard in that message's thread: one status message that is edited as the
work goes on, then the shots and the storyboard sheet as files. Replies in the thread are corrections
("frame 1: close-up", "undo"); "export" finishes the session and posts storyboard.png and storyboard.json.

The session for a thread lives in OUT/<channel>-<thread ts>, so it survives a restart of the bot. Session
work runs on Bolt's worker threads after the event is acknowledged; model work from all threads takes
turns through the process-wide GPU queue the Context carries. This module builds the Bolt app and decides
what each event is for; slack_messages reads the events, slack_threads does the storyboard work.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from slack_bolt import App
from slack_sdk import WebClient

from agent.bots.sessions import ContextFactory
from agent.bots.slack_messages import Message, SeenEvents, read_message, scene_source
from agent.bots.slack_status import Poster
from agent.bots.slack_threads import ThreadStoryboards
from agent.scenes.scene_file import reads_as_correction
from tools.errors import ShotsmithError
from tools.files.roots import Roots

log = logging.getLogger("shotsmith.slack")

LISTENERS = 64
"""Slack events handled at once; a storyboard being drawn keeps one of these busy until it is done."""


class SlackBot(ThreadStoryboards):
    """Routes Slack events to the storyboard sessions of their threads, after the allowlists and retries."""

    def __init__(self, context_factory: ContextFactory, out_root: Path, token: str | None,
                 allow_channels: Iterable[str] | None, allow_users: Iterable[str] | None,
                 max_sessions_per_user: int, lora_roots: Roots | None = None):
        super().__init__(context_factory, out_root, max_sessions_per_user, lora_roots)
        self.token = token
        self.allow_channels = set(allow_channels) if allow_channels else None
        self.allow_users = set(allow_users) if allow_users else None
        self.seen = SeenEvents()

    def first_time(self, event_id: str | None) -> bool:
        """Remember an event id; return False when it was already handled (a retry from Slack)."""
        return self.seen.first_time(event_id)

    def handle(self, event: dict, event_id: str | None, client: WebClient, bot_user: str | None,
               mentioned: bool) -> None:
        """Act on one mention, direct message or thread reply."""
        message = read_message(event, bot_user, mentioned)
        if message is None:
            return
        known = message.in_thread and self.threads.known(message.key)
        if not (mentioned or message.direct or known):
            return  # chatter in some other thread
        if not self.first_time(event_id):
            return
        say = Poster(client, message.channel, message.thread_ts)
        refusal = self.refusal(message)
        if refusal is not None:
            say(refusal)
        elif known:
            self.correct(message.key, message.text, say, client)
        else:
            self.new_storyboard(message, say, client)

    def refusal(self, message: Message) -> str | None:
        """Return why the bot will not take this message, from the allowlists; None when it will."""
        if self.allow_channels is not None and message.channel not in self.allow_channels and not message.direct:
            return "Sorry, I only draw storyboards in the channels I have been set up for."
        if self.allow_users is not None and message.user not in self.allow_users:
            return "Sorry, I can only take storyboard requests from the people I have been set up for."
        return None

    def new_storyboard(self, message: Message, say: Poster, client: WebClient) -> None:
        """Start a storyboard from a message outside any storyboard's thread, unless it reads as a correction."""
        try:
            source = scene_source(message.text, message.files, self.token)
        except (OSError, ShotsmithError) as error:
            say(f"I could not use the attached scene file: {error}")
            return
        if source is None and reads_as_correction(message.text):
            say("That reads as a correction: send it as a reply in the storyboard's thread. To start a new "
                "storyboard, tell me the scene in a sentence or two.")
            return
        self.start(message.key, message.user, message.text, source, say, client)


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
