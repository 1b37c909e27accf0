"""The Slack bot against a local stand-in for Slack's Web API: signed events in, messages and files out."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from slack_bolt import BoltRequest
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier
from typer.testing import CliRunner

from agent.cli.app import app as cli_app
from agent.bots.slack import build_app
from graphs.context import Context
from graphs.planning.planner import RulesPlanner
from tests.fake_slack import FakeSlack
from tools.render.sketch import SketchRenderer

SECRET = "test-signing-secret"
SCENE = '''title = "The door"
description = "Kaito pushes open the door of an empty house. He sweeps his flashlight across the hall. A door slams upstairs."
frames = 3
'''
MENTION = f"<@UBOT> please draw this\n```\n{SCENE}```"


def sketch_context(scene) -> Context:
    return Context(planner=RulesPlanner(), renderer=SketchRenderer())


@pytest.fixture
def fake():
    with FakeSlack() as server:
        yield server


def make_app(fake: FakeSlack, out: Path, **options):
    return build_app(sketch_context, out, client=WebClient(token="xoxb-test", base_url=fake.url),
                     signing_secret=SECRET, **options)


def deliver(app, event: dict, event_id: str, secret: str = SECRET, retry: int | None = None):
    """Send one signed Events API callback to the app and return Bolt's response."""
    body = json.dumps({"type": "event_callback", "team_id": "T1", "api_app_id": "A1", "event_id": event_id,
                       "event_time": int(time.time()), "event": event})
    ts = str(int(time.time()))
    headers = {"content-type": "application/json", "x-slack-request-timestamp": ts,
               "x-slack-signature": SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)}
    if retry is not None:
        headers["x-slack-retry-num"] = str(retry)
        headers["x-slack-retry-reason"] = "http_timeout"
    return app.dispatch(BoltRequest(body=body, headers=headers))


def mention(ts: str, text: str = MENTION, user: str = "U1", channel: str = "C1", thread_ts: str | None = None):
    event = {"type": "app_mention", "user": user, "text": text, "ts": ts, "channel": channel, "event_ts": ts}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def reply(ts: str, text: str, thread_ts: str, user: str = "U1", channel: str = "C1") -> dict:
    return {"type": "message", "channel_type": "channel", "user": user, "text": text, "ts": ts,
            "thread_ts": thread_ts, "channel": channel, "event_ts": ts}


def uploaded(fake: FakeSlack) -> list[list[str]]:
    """Return the titles of the files in each completed upload, in order."""
    return [[f.get("title") for f in json.loads(args["files"])] for args in fake.named("/files.completeUploadExternal")]


def test_a_whole_thread_draws_corrects_and_exports(fake, tmp_path):
    app = make_app(fake, tmp_path)
    assert deliver(app, mention("100.1"), "Ev1").status == 200
    fake.wait_for(lambda: len(uploaded(fake)) == 1)
    assert uploaded(fake)[0] == ["shot 0", "shot 1", "shot 2", "storyboard"]
    folder = tmp_path / "C1-100.1"
    assert (folder / "session.json").is_file() and (folder / "frames" / "shot_2.png").is_file()
    posts = fake.named("/chat.postMessage")
    assert len(posts) == 1 and posts[0]["thread_ts"] == "100.1"
    updates = fake.named("/chat.update")
    assert updates and {u["ts"] for u in updates} == {"2000.0001"}  # the one status message, edited in place
    assert "3 frames drawn" in updates[-1]["text"]
    assert "Frame 0 rendered (1 of 3)" in [u["text"] for u in updates]  # numbered from 0, like corrections
    for path in ("/files.getUploadURLExternal", "/files.completeUploadExternal"):
        assert fake.named(path)
    assert all(a["thread_ts"] == "100.1" and a["channel_id"] == "C1"
               for a in fake.named("/files.completeUploadExternal"))

    assert deliver(app, reply("100.2", "frame 1: close-up", "100.1"), "Ev2").status == 200
    fake.wait_for(lambda: len(uploaded(fake)) == 2)
    assert "shot 1" in uploaded(fake)[1] and "shot 0" not in uploaded(fake)[1]
    assert len(fake.named("/chat.postMessage")) == 2  # what the correction did, said in the thread

    deliver(app, reply("100.3", "export", "100.1"), "Ev3")
    fake.wait_for(lambda: len(uploaded(fake)) == 3)
    assert uploaded(fake)[2] == ["storyboard", "storyboard", "storyboard"]
    names = [a.get("filename") for a in fake.named("/files.getUploadURLExternal")[-3:]]
    assert names == ["storyboard.png", "storyboard.json", "storyboard.pdf"]
    assert "Exported" in fake.named("/chat.postMessage")[-1]["text"]

    deliver(app, reply("100.4", "frame 2: wide", "100.1"), "Ev4")
    fake.wait_for(lambda: len(fake.named("/chat.postMessage")) == 4)
    assert "finished" in fake.named("/chat.postMessage")[-1]["text"]


def test_an_open_correction_is_answered_with_a_question(fake, tmp_path):
    app = make_app(fake, tmp_path)
    deliver(app, mention("100.1"), "Ev1")
    fake.wait_for(lambda: len(uploaded(fake)) == 1)
    deliver(app, reply("100.2", "make it a close up", "100.1"), "Ev2")
    fake.wait_for(lambda: len(fake.named("/chat.postMessage")) == 2)
    assert fake.named("/chat.postMessage")[-1]["text"].startswith("Question: which frame should be a close-up?")
    deliver(app, reply("100.3", "bananas on the moon", "100.1"), "Ev3")
    fake.wait_for(lambda: len(fake.named("/chat.postMessage")) == 3)
    assert fake.named("/chat.postMessage")[-1]["text"].startswith("Problem: did not understand")
    deliver(app, reply("100.4", "frame 0: close-up", "100.1"), "Ev4")  # messages of a thread run in order
    fake.wait_for(lambda: len(uploaded(fake)) == 2)
    assert uploaded(fake)[1] == ["shot 0", "storyboard"]  # the question and the refusal uploaded nothing


def test_a_bad_signature_is_refused(fake, tmp_path):
    app = make_app(fake, tmp_path)
    assert deliver(app, mention("100.1"), "Ev1", secret="not-the-secret").status == 401
    time.sleep(0.2)
    assert not fake.named("/chat.postMessage") and not list(tmp_path.iterdir())


def test_a_retried_event_is_handled_once(fake, tmp_path):
    app = make_app(fake, tmp_path)
    assert deliver(app, mention("100.1"), "EvSame").status == 200
    assert deliver(app, mention("100.1"), "EvSame", retry=1).status == 200
    fake.wait_for(lambda: len(uploaded(fake)) == 1)
    time.sleep(0.5)
    assert len(uploaded(fake)) == 1 and len(fake.named("/chat.postMessage")) == 1


def test_bot_messages_and_edits_are_ignored(fake, tmp_path):
    app = make_app(fake, tmp_path)
    deliver(app, dict(mention("100.1"), bot_id="B2"), "Ev1")
    deliver(app, {"type": "message", "subtype": "message_changed", "channel": "D1", "channel_type": "im",
                  "ts": "100.2", "message": {"text": MENTION}}, "Ev2")
    time.sleep(0.5)
    assert not fake.named("/chat.postMessage") and not list(tmp_path.iterdir())


def test_people_and_channels_outside_the_allowlists_are_refused(fake, tmp_path):
    app = make_app(fake, tmp_path, allow_users=["U1"], allow_channels=["C1"])
    deliver(app, mention("100.1", user="U9"), "Ev1")
    deliver(app, mention("100.2", channel="C9"), "Ev2")
    fake.wait_for(lambda: len(fake.named("/chat.postMessage")) == 2)
    time.sleep(0.3)
    posts = fake.named("/chat.postMessage")
    assert all(p["text"].startswith("Sorry") and "\n" not in p["text"] for p in posts)
    assert not list(tmp_path.iterdir()) and not fake.named("/chat.update") and not uploaded(fake)


def test_the_per_person_limit_refuses_politely(fake, tmp_path):
    app = make_app(fake, tmp_path, max_sessions_per_user=1)
    deliver(app, mention("100.1"), "Ev1")
    fake.wait_for(lambda: len(uploaded(fake)) == 1)
    deliver(app, mention("200.1"), "Ev2")
    fake.wait_for(lambda: len(fake.named("/chat.postMessage")) == 2)
    refusal = fake.named("/chat.postMessage")[-1]
    assert refusal["thread_ts"] == "200.1" and refusal["text"].startswith("Sorry")
    assert not (tmp_path / "C1-200.1").exists()
    deliver(app, mention("300.1", user="U2"), "Ev3")  # someone else may still start one
    fake.wait_for(lambda: len(uploaded(fake)) == 2)


def test_the_per_person_limit_holds_across_a_restart_and_exports_free_a_place(fake, tmp_path):
    first = make_app(fake, tmp_path, max_sessions_per_user=1)
    deliver(first, mention("100.1"), "Ev1")
    fake.wait_for(lambda: len(uploaded(fake)) == 1)
    assert json.loads((tmp_path / "C1-100.1" / "slack.json").read_text()) == {"owner": "U1", "open": True}

    first.shotsmith.close()  # the first process ends, releasing its folders
    restarted = make_app(fake, tmp_path, max_sessions_per_user=1)  # a new process: nothing in memory
    deliver(restarted, mention("200.1"), "Ev2")
    fake.wait_for(lambda: len(fake.named("/chat.postMessage")) == 2)
    assert fake.named("/chat.postMessage")[-1]["text"].startswith("Sorry, you already have 1")
    assert not (tmp_path / "C1-200.1").exists()

    deliver(restarted, reply("100.2", "export", "100.1"), "Ev3")  # the kept thread is picked up and finished
    fake.wait_for(lambda: len(uploaded(fake)) == 2)
    assert json.loads((tmp_path / "C1-100.1" / "slack.json").read_text()) == {"owner": "U1", "open": False}
    deliver(restarted, mention("300.1"), "Ev4")
    fake.wait_for(lambda: len(uploaded(fake)) == 3)
    assert (tmp_path / "C1-300.1" / "session.json").is_file()


def test_a_second_bot_on_the_same_folders_is_refused_a_thread_the_first_still_writes(fake, tmp_path):
    first = make_app(fake, tmp_path)
    deliver(first, mention("100.1"), "Ev1")
    fake.wait_for(lambda: len(uploaded(fake)) == 1)
    before = sorted((p.name, p.stat().st_mtime_ns) for p in (tmp_path / "C1-100.1").rglob("*"))
    second = make_app(fake, tmp_path)
    deliver(second, reply("100.2", "frame 0: wide", "100.1"), "Ev2")
    fake.wait_for(lambda: "could not pick" in fake.named("/chat.postMessage")[-1]["text"])
    said = fake.named("/chat.postMessage")[-1]["text"]
    assert f"process {os.getpid()}" in said and "is writing into this folder" in said
    assert sorted((p.name, p.stat().st_mtime_ns) for p in (tmp_path / "C1-100.1").rglob("*")) == before


def test_a_reply_to_an_exported_thread_after_a_restart_keeps_its_record(fake, tmp_path):
    first = make_app(fake, tmp_path)
    deliver(first, mention("100.1"), "Ev1")
    fake.wait_for(lambda: len(uploaded(fake)) == 1)
    deliver(first, reply("100.2", "export", "100.1"), "Ev2")
    fake.wait_for(lambda: len(uploaded(fake)) == 2)
    record = (tmp_path / "C1-100.1" / "slack.json").read_bytes()
    restarted = make_app(fake, tmp_path)
    deliver(restarted, reply("100.3", "frame 0: wide", "100.1"), "Ev3")
    fake.wait_for(lambda: "finished" in fake.named("/chat.postMessage")[-1]["text"])
    assert (tmp_path / "C1-100.1" / "slack.json").read_bytes() == record


def test_a_storyboard_that_cannot_be_drawn_frees_its_place(fake, tmp_path):
    def broken(scene) -> Context:
        renderer = SketchRenderer()
        renderer.render = lambda *args, **kwargs: (_ for _ in ()).throw(RuntimeError("the GPU fell over"))
        return Context(planner=RulesPlanner(), renderer=renderer)
    app = build_app(broken, tmp_path, client=WebClient(token="xoxb-test", base_url=fake.url), signing_secret=SECRET,
                    max_sessions_per_user=1)
    deliver(app, mention("100.1"), "Ev1")
    fake.wait_for(lambda: any("the GPU fell over" in u["text"] for u in fake.named("/chat.update")))
    assert json.loads((tmp_path / "C1-100.1" / "slack.json").read_text()) == {"owner": "U1", "open": False}
    app.shotsmith.context_factory = sketch_context
    deliver(app, mention("200.1"), "Ev2")  # the failed one does not count against the limit
    fake.wait_for(lambda: len(uploaded(fake)) == 1)


def test_a_correction_sent_outside_a_thread_is_not_taken_as_a_scene(fake, tmp_path):
    app = make_app(fake, tmp_path)
    deliver(app, mention("100.1", text="<@UBOT> frame 2: close-up"), "Ev1")
    fake.wait_for(lambda: fake.named("/chat.postMessage"))
    assert "reply in the storyboard's thread" in fake.named("/chat.postMessage")[0]["text"]
    assert not (tmp_path / "C1-100.1").exists()


def test_a_scene_file_attached_to_a_direct_message(fake, tmp_path):
    fake.files["scene.toml"] = SCENE.encode()
    app = make_app(fake, tmp_path)
    event = {"type": "message", "subtype": "file_share", "channel_type": "im", "channel": "D1", "user": "U1",
             "text": "", "ts": "100.1", "files": [{"name": "scene.toml",
                                                  "url_private_download": fake.url + "files/scene.toml"}]}
    deliver(app, event, "Ev1")
    fake.wait_for(lambda: len(uploaded(fake)) == 1)
    assert (tmp_path / "D1-100.1" / "storyboard.png").is_file()


def test_an_attached_screenplay_draws_the_scene_named_in_the_message(fake, tmp_path):
    fake.files["hamlet.fountain"] = (Path(__file__).resolve().parents[2] / "data" / "hamlet.fountain").read_bytes()
    app = make_app(fake, tmp_path)
    event = {"type": "message", "subtype": "file_share", "channel_type": "im", "channel": "D1", "user": "U1",
             "text": "scene 2 please", "ts": "100.1", "files": [{"name": "hamlet.fountain",
                                                                  "url_private_download": fake.url + "files/hamlet.fountain"}]}
    deliver(app, event, "Ev1")
    fake.wait_for(lambda: len(uploaded(fake)) == 1)
    folder = tmp_path / "D1-100.1"
    assert (folder / "screenplay.fountain").is_file()
    document = json.loads((folder / "storyboard.json").read_text())
    assert document["title"].startswith("Hamlet: ") and any(f["dialogue"] for f in document["frames"])


def test_a_broken_scene_is_answered_in_one_line(fake, tmp_path):
    app = make_app(fake, tmp_path)
    deliver(app, mention("100.1", text="<@UBOT> ```\ntitle = \"x\"\n```"), "Ev1")
    fake.wait_for(lambda: fake.named("/chat.postMessage"))
    text = fake.named("/chat.postMessage")[0]["text"]
    assert text.startswith("That scene has a problem") and "frames" in text and "\n" not in text
    assert not (tmp_path / "C1-100.1" / "session.json").exists()


def test_a_scene_in_plain_words_starts_a_storyboard(fake, tmp_path):
    app = make_app(fake, tmp_path)
    deliver(app, mention("100.1", text="<@UBOT> A detective searches a dark office for a letter. Rain on the glass."),
            "Ev1")
    fake.wait_for(lambda: len(uploaded(fake)) == 1)
    assert uploaded(fake)[0] == [f"shot {i}" for i in range(6)] + ["storyboard"]
    assert "\u201cA detective searches a dark office for a letter\u201d: 6 frames drawn" in \
        fake.named("/chat.update")[-1]["text"]


@pytest.mark.parametrize(("text", "expected"), [("<@UBOT> hello", "in a sentence or two"),
                                                 ("<@UBOT> ```\ntitle = \"x\n```", "not valid TOML")])
def test_chatter_gets_a_hint_and_broken_toml_its_error(fake, tmp_path, text, expected):
    app = make_app(fake, tmp_path)
    deliver(app, mention("100.1", text=text), "Ev1")
    fake.wait_for(lambda: fake.named("/chat.postMessage"))
    assert expected in fake.named("/chat.postMessage")[0]["text"]
    assert not (tmp_path / "C1-100.1").exists() and not uploaded(fake)


def test_the_command_without_tokens_exits_with_one_line(monkeypatch):
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(cli_app, ["slack"])
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "SLACK_BOT_TOKEN" in lines[0] and "Traceback" not in result.output


# --- hostile input ---------------------------------------------------------------------------------------


def lora_scene(lora: str) -> str:
    return f'<@UBOT> ```\n{SCENE}\n[[characters]]\nname = "kaitoyosuke"\nclass = "man"\nlora = "{lora}"\n```'


@pytest.mark.parametrize("case", ["dot-dot", "absolute", "symlink out"])
def test_a_lora_path_in_a_slack_scene_may_not_leave_the_library_folder(fake, tmp_path, case):
    from tiny_models import write_lora
    from tools.files.roots import Roots

    library = tmp_path / "library"
    secret = write_lora(tmp_path / "private" / "theirs.safetensors", 1)
    (library / "loras").mkdir(parents=True)
    (library / "loras" / "link.safetensors").symlink_to(secret)
    lora = {"dot-dot": "../private/theirs.safetensors", "absolute": str(secret),
            "symlink out": "loras/link.safetensors"}[case]
    out = tmp_path / "out"
    app = make_app(fake, out, lora_roots=Roots.around(library, "the model library's folder"))
    deliver(app, mention("100.1", text=lora_scene(lora)), "Ev1")
    fake.wait_for(lambda: fake.named("/chat.postMessage"))
    text = fake.named("/chat.postMessage")[0]["text"]
    assert text.startswith("That scene has a problem: characters[0].lora") and "model library's folder" in text
    assert str(library) not in text and "\n" not in text  # the bot's own folders are not shown in chat
    assert not out.exists() or not any(out.iterdir())


def test_a_slack_scene_without_a_library_names_no_lora_at_all(fake, tmp_path):
    app = make_app(fake, tmp_path)
    deliver(app, mention("100.1", text=lora_scene("kaito.safetensors")), "Ev1")
    fake.wait_for(lambda: fake.named("/chat.postMessage"))
    assert "leads outside" in fake.named("/chat.postMessage")[0]["text"]


@pytest.mark.parametrize(("channel", "ts"), [("../../escape", "100.1"), ("C1", "../../../tmp/x"), ("C1/..", "1.2")])
def test_an_event_whose_ids_are_paths_is_ignored(fake, tmp_path, channel, ts):
    out = tmp_path / "out"
    app = make_app(fake, out)
    assert deliver(app, mention(ts, channel=channel), "Ev1").status == 200
    time.sleep(0.3)
    assert not fake.named("/chat.postMessage") and not uploaded(fake)
    assert [p.name for p in tmp_path.iterdir()] in ([], ["out"]) and not (out.exists() and any(out.iterdir()))


@pytest.mark.parametrize(("text", "expected"), [
    ("<@UBOT> " + "Kaito runs across the roof. " * 4000, "characters long; expected a scene of at most 20,000"),
    ("<@UBOT> " + "Kaito runs across the roof. " * 800, "description: expected at most 20,000 characters"),
    (f"<@UBOT> ```\n{SCENE.replace('frames = 3', 'frames = 500')}```", "frames: expected at most 200, got 500"),
])
def test_huge_scenes_are_refused_in_one_line(fake, tmp_path, text, expected):
    app = make_app(fake, tmp_path)
    deliver(app, mention("100.1", text=text), "Ev1")
    fake.wait_for(lambda: fake.named("/chat.postMessage"))
    reply_text = fake.named("/chat.postMessage")[0]["text"]
    assert expected in reply_text and "\n" not in reply_text
    assert not (tmp_path / "C1-100.1").exists()


def test_a_refused_screenplay_start_leaves_no_folder(fake, tmp_path):
    fake.files["hamlet.fountain"] = (Path(__file__).resolve().parents[2] / "data" / "hamlet.fountain").read_bytes()
    app = make_app(fake, tmp_path, max_sessions_per_user=1)
    deliver(app, mention("100.1"), "Ev1")
    fake.wait_for(lambda: len(uploaded(fake)) == 1)
    event = {"type": "message", "subtype": "file_share", "channel_type": "im", "channel": "D1", "user": "U1",
             "text": "scene 2", "ts": "200.1", "files": [{"name": "../../hamlet.fountain",
                                                          "url_private_download": fake.url + "files/hamlet.fountain"}]}
    deliver(app, event, "Ev2")
    fake.wait_for(lambda: len(fake.named("/chat.postMessage")) == 2)
    assert fake.named("/chat.postMessage")[-1]["text"].startswith("Sorry")
    assert not (tmp_path / "D1-200.1").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) in (["C1-100.1"], ["C1-100.1", "slack.json"])
