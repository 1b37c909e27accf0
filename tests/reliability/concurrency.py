"""Many Slack threads at once against the fake Slack server, drawn by tiny real models.

Each thread is a top-level mention with a scene of its own; its driver waits for the drawing, sends a
correction, then "export". Meanwhile everyone at the per-person limit tries one more start, which must be
refused. The run checks that every thread finishes, that no two sessions hold the GPU queue or run a model
at once, and that no thread gets another's files or words; it reports wall time and the waits.

    python tests/reliability/concurrency.py [--threads 20] [--users 10] [--frames 3] [--work-dir DIR]

It prints one table and exits 1 when a goal is missed. test_concurrency.py beside it runs a short version.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
sys.path[:0] = [p for p in (str(TESTS.parent), str(TESTS)) if p not in sys.path]
if __name__ == "__main__":  # as the tests' conftest does: tiny local models only, never a hub
    os.environ.update(HF_HUB_OFFLINE="1", HF_HUB_DISABLE_PROGRESS_BARS="1")

from fake_slack import FakeSlack  # noqa: E402
from slack_bolt import BoltRequest  # noqa: E402
from slack_sdk import WebClient  # noqa: E402
from slack_sdk.signature import SignatureVerifier  # noqa: E402

from agent.config import make_context, read_library  # noqa: E402
from agent.bots.slack import build_app  # noqa: E402
from agent.bots.slack_owners import record  # noqa: E402
from tools.critique import ClipCritic  # noqa: E402
from tools.render.diffusion import DiffusionRenderer  # noqa: E402
from tools.models.gpu_queue import GpuQueue  # noqa: E402
from tools.models.hub import GPU_LOCK  # noqa: E402
from tools.models.library import load_library  # noqa: E402
from tools.render.job import RenderJob  # noqa: E402

SECRET, LIMIT, WAIT = "concurrency-secret", 2, 600.0
"""Signing secret, max_sessions_per_user, and the seconds one step of a thread may take."""
PLACES = ["an empty house", "a rainy station", "a lighthouse", "a night market", "a hospital corridor",
          "a frozen lake", "a rooftop garden", "a subway car", "a desert motel", "a library basement", "a ferry"]
ACTS = ["Kaito searches for a letter", "Mira waits for a call", "Ravi hides a key", "Lena reads a torn map",
        "Omar follows a stranger", "Yuki repairs a radio", "Ines counts the money"]
WAITING = "Waiting for the GPU"


class Thread:
    """One Slack thread of the run, and what happened to it."""

    def __init__(self, index: int, user: str, ts: str, frames: int):
        self.index, self.user, self.ts, self.frames = index, user, ts, frames
        self.channel = f"C{index % 3 + 1}"
        self.key = f"{self.channel}-{ts}"
        place = PLACES[index % len(PLACES)]
        self.title = f"Scene {index:02d} in {place}"
        self.text = (f'<@UBOT> please draw this\n```\ntitle = "{self.title}"\ndescription = "{ACTS[index % len(ACTS)]} '
                     f'in {place}. A door slams somewhere."\nframes = {frames}\n```')
        self.first_reply: float | None = None
        self.refused = self.finished = False
        self.failure = ""


class Recorder:
    """Every session's turns in the GPU queue and the spans its models ran."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.turns: list[tuple[str, float, float, float, bool]] = []  # (session, asked, got, gave back, waited)
        self.work: list[tuple[str, str, float, float]] = []  # (session, "render" | "clip", start, end)

    def run(self, tag: str, kind: str, call):
        """Run `call` under the model lock (re-entered inside it), noting when the model really ran."""
        with GPU_LOCK:
            start = time.perf_counter()
            try:
                return call()
            finally:
                with self.lock:
                    self.work.append((tag, kind, start, time.perf_counter()))


class SessionLock:
    """One session's handle on the shared GpuQueue; notes when it asks for a turn, gets it and gives it back."""

    def __init__(self, queue: GpuQueue, tag: str, recorder: Recorder):
        self.queue, self.tag, self.rec = queue, tag, recorder

    def waiting(self) -> int:
        return self.queue.waiting()

    @contextmanager
    def turn(self, on_wait=None):
        asked, heard = time.perf_counter(), []

        def told(ahead: int) -> None:
            heard.append(ahead)
            if on_wait is not None:
                on_wait(ahead)
        with self.queue.turn(told):
            got = time.perf_counter()
            try:
                yield
            finally:
                with self.rec.lock:
                    self.rec.turns.append((self.tag, asked, got, time.perf_counter(), any(heard)))


def small(job):
    """The bot asks for Settings' 512x512 and 25 steps; the tiny model draws 64x64 in 2."""
    return replace(job, width=64, height=64, steps=2)


class TinyRenderer(DiffusionRenderer):
    """The diffusers renderer on small jobs, timed while it holds the model lock."""

    def __init__(self, base: DiffusionRenderer, tag: str, recorder: Recorder):
        super().__init__(base.model, base.base_negative, base.hub)
        self.tag, self.rec = tag, recorder

    def key_parts(self, job):
        return super().key_parts(small(job))

    def facts(self, job):
        return super().facts(small(job))

    def render(self, job, on_progress=None):
        return self.rec.run(self.tag, "render", lambda: super(TinyRenderer, self).render(small(job), on_progress))


class TimedCritic(ClipCritic):
    """The CLIP critic, timed while it holds the model lock (it does not take the GPU queue)."""

    def __init__(self, model: str, tag: str, recorder: Recorder):
        super().__init__(model)
        self.tag, self.rec = tag, recorder

    def _encode(self, images=None, text=None):
        return self.rec.run(self.tag, "clip", lambda: super(TimedCritic, self)._encode(images, text))


def context_factory(library: Path, recorder: Recorder):
    """Each session's Context as `shotsmith slack --library` builds it, with the timed parts swapped in."""
    queue = GpuQueue()

    def context_for(scene):
        context = make_context("rules", "diffusers", read_library(library, library, scene)).context
        critic = TimedCritic(context.critic.model, scene.title, recorder) if context.critic else None
        return replace(context, renderer=TinyRenderer(context.renderer, scene.title, recorder), critic=critic,
                       gpu_lock=SessionLock(queue, scene.title, recorder))
    return context_for


def warm_up(library: Path) -> None:
    """Load the tiny models once and run each, as a bot does for its first storyboard, so the clock runs warm."""
    context = make_context("rules", "diffusers", load_library(library)).context
    context.renderer.render(small(RenderJob(prompt="a warm-up", negative_prompt="", shot_type="medium", seed=0)))
    if context.critic is not None:
        context.critic.text_embeddings(["a warm-up"])


def write_library(work: Path, sd: Path | None, clip: Path | None) -> Path:
    """Write library.toml naming the tiny SD and CLIP folders (built under `work` when not given)."""
    from tiny_models import write_clip_folder, write_sd_folder

    work.mkdir(parents=True, exist_ok=True)
    if sd is None and not (work / "tiny_sd" / "model_index.json").is_file():
        write_sd_folder(work / "tiny_sd")
    if clip is None and not (work / "tiny_clip" / "config.json").is_file():
        write_clip_folder(work / "tiny_clip")
    library = work / "library.toml"
    library.write_text(f'[model]\nbase = "{sd or work / "tiny_sd"}"\nclip = "{clip or work / "tiny_clip"}"\n\n'
                       "[critique]\nretries = 0\nshot_retry = false\n", encoding="utf-8")
    return library


class SlackLog(FakeSlack):
    """The fake Slack server, also noting each posted message's thread and each upload's name and size."""

    def __init__(self) -> None:
        super().__init__()
        self.thread_of: dict[str, str | None] = {}
        self.sizes: dict[str, tuple[str, int]] = {}

    def _answer(self, path: str, args: dict, port: int) -> dict:
        answer = super()._answer(path, args, port)
        if path == "/chat.postMessage":
            self.thread_of[answer["ts"]] = args.get("thread_ts")
        elif path == "/files.getUploadURLExternal":
            self.sizes[answer["file_id"]] = (args.get("filename", ""), int(args.get("length", -1)))
        return answer

    def posts(self, thread: Thread) -> list[str]:
        return [a["text"] for a in self.named("/chat.postMessage")
                if a.get("thread_ts") == thread.ts and a.get("channel") == thread.channel]


def watch_uploads(bot, sent: list) -> None:
    """Wrap the bot's upload so each finished call notes (channel, thread ts, [(path, sha256, size)])."""
    original = bot.upload

    def upload(client, say, folder, files, sheet=False):
        paths = list(files) + ([Path(folder) / "storyboard.png"] if sheet else [])
        items = [(p, *fingerprint(p)) for p in paths if p.is_file()]
        original(client, say, folder, files, sheet)
        sent.append((say.channel, say.thread_ts, items))
    bot.upload = upload


def fingerprint(path: Path) -> tuple[str, int]:
    data = path.read_bytes()
    return hashlib.sha256(data).hexdigest(), len(data)


def deliver(app, event: dict) -> None:
    """Send one signed Events API callback to the Bolt app, as Slack would."""
    body = json.dumps({"type": "event_callback", "team_id": "T1", "api_app_id": "A1", "event_id": f"Ev{event['ts']}",
                       "event_time": int(time.time()), "event": event})
    ts = str(int(time.time()))
    headers = {"content-type": "application/json", "x-slack-request-timestamp": ts,
               "x-slack-signature": SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body)}
    status = app.dispatch(BoltRequest(body=body, headers=headers)).status
    if status != 200:
        raise RuntimeError(f"the app answered {status} to {event['ts']}")


def reply(thread: Thread, text: str, ts: str) -> dict:
    """A reply in the thread, as Slack's message event."""
    return {"type": "message", "channel_type": "channel", "user": thread.user, "text": text, "ts": ts,
            "thread_ts": thread.ts, "channel": thread.channel, "event_ts": ts}


def wait(check, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} after {WAIT:.0f} s")
        time.sleep(0.05)


def start(app, fake: SlackLog, thread: Thread) -> bool:
    """Mention the bot with the thread's scene and wait for its first answer; False if refused or failed."""
    asked = time.perf_counter()
    try:
        deliver(app, {"type": "app_mention", "user": thread.user, "text": thread.text, "ts": thread.ts,
                      "channel": thread.channel, "event_ts": thread.ts})
        wait(lambda: fake.posts(thread), "first reply")
    except Exception as error:  # reported as a missed goal
        thread.failure = f"{thread.key}: {error}"
        return False
    thread.first_reply = time.perf_counter() - asked
    thread.refused = fake.posts(thread)[0].startswith("Sorry, you already have")
    return not thread.refused


def drive(app, fake: SlackLog, sent: list, thread: Thread, go: threading.Barrier, extras_done: threading.Event):
    """Start the thread's storyboard, redraw one frame, and export once the extra starts were answered."""
    def uploads() -> list:
        return [items for channel, ts, items in list(sent) if channel == thread.channel and ts == thread.ts]
    go.wait()
    if not start(app, fake, thread):
        return
    try:
        wait(uploads, "drawn storyboard")
        deliver(app, reply(thread, f"regenerate {thread.index % thread.frames}", thread.ts + "1"))
        wait(lambda: len(uploads()) >= 2, "redrawn frame")
        extras_done.wait()
        deliver(app, reply(thread, "export", thread.ts + "2"))
        wait(lambda: any(p.name == "storyboard.json" for items in uploads() for p, *_ in items), "export")
        thread.finished = True
    except Exception as error:  # reported as a missed goal
        thread.failure = f"{thread.key}: {error}"


def run_concurrency(threads: int, users: int, frames: int, work_dir: Path, sd: Path | None = None,
                    clip: Path | None = None) -> Figures:
    """Run `threads` storyboards at once for `users` people under `work_dir` and return what was measured.

    `sd` and `clip` are tiny model folders to use; without them they are built under `work_dir`.
    """
    library, out = write_library(Path(work_dir), sd, clip), Path(work_dir) / "out"
    burst = [Thread(i, f"U{i % users + 1:02d}", f"{1000 + i}.0001", frames + i % 2) for i in range(threads)]
    starts = {u: sum(t.user == u for t in burst) for u in sorted({t.user for t in burst})}
    extras = [Thread(threads + k, u, f"{9000 + k}.0001", frames)
              for k, u in enumerate(u for u, n in starts.items() if n >= LIMIT)]
    recorder, sent, loading = Recorder(), [], time.perf_counter()
    warm_up(library)
    loading = time.perf_counter() - loading
    with SlackLog() as fake:
        app = build_app(context_factory(library, recorder), out, client=WebClient(token="xoxb-test", base_url=fake.url),
                        signing_secret=SECRET, max_sessions_per_user=LIMIT)
        watch_uploads(app.shotsmith, sent)
        go, extras_done = threading.Barrier(len(burst) + 1), threading.Event()
        drivers = [threading.Thread(target=drive, args=(app, fake, sent, t, go, extras_done), daemon=True)
                   for t in burst]
        for driver in drivers:
            driver.start()
        go.wait()
        began = time.perf_counter()
        try:  # the extra starts go once every start of the burst is claimed or refused, and before any export
            wait(lambda: all(t.key in app.shotsmith.threads or t.refused or t.failure for t in burst), "claims")
            with ThreadPoolExecutor(max(len(extras), 1)) as pool:
                list(pool.map(lambda extra: start(app, fake, extra), extras))
        except Exception as error:
            burst[0].failure = f"extra starts: {error}"
        extras_done.set()
        for driver in drivers:
            driver.join(WAIT * 4)
        wall = time.perf_counter() - began
        time.sleep(0.2)  # the last status edits land
        figures = measure(burst, extras, starts, recorder, fake, sent, out, wall)
    figures.rows.insert(8, ("model load, before the burst", f"{loading:.1f} s", None))
    return figures


@dataclass
class Figures:
    """What one run measured, as table rows (figure, seen, goal or None); a row off its goal is a problem."""

    rows: list[tuple[str, object, object]]
    waits: list[float]  # seconds from asking for a GPU turn to getting it, for the turns that waited behind another
    leaks: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def __getitem__(self, name: str) -> object:
        return next(seen for figure, seen, _ in self.rows if figure.startswith(name))

    def problems(self) -> list[str]:
        missed = [f"{figure}: {seen}, expected {goal}" for figure, seen, goal in self.rows if goal not in (None, seen)]
        return missed + self.failures + self.leaks[:10]

    def table(self) -> str:
        name_w, seen_w = max(len(r[0]) for r in self.rows), max(len(str(r[1])) for r in self.rows)
        lines = [f"{'figure':<{name_w}} | {'seen':>{seen_w}} | goal", f"{'-' * name_w}-+-{'-' * seen_w}-+-----"]
        lines += [f"{name:<{name_w}} | {str(seen):>{seen_w}} | {'' if goal is None else goal}"
                  for name, seen, goal in self.rows]
        problems = self.problems()
        return "\n".join(lines + ["all goals met" if not problems else "MISSED:\n  " + "\n  ".join(problems)])


def measure(burst, extras, starts, rec: Recorder, fake: SlackLog, sent, out: Path, wall: float) -> Figures:
    """Read the figures off the threads, the recorder, the fake server and the session folders."""
    held = [(tag, got, back) for tag, _, got, back, _ in rec.turns]
    renders = [(tag, s, e) for tag, kind, s, e in rec.work if kind == "render"]
    waits = [got - asked for _, asked, got, _, waited in rec.turns if waited]
    posts = [sum(WAITING in text for text in fake.posts(t)) for t in burst]
    accepted = sum(min(n, LIMIT) for n in starts.values())
    leaks = find_leaks(burst + extras, fake, sent, out)
    rows = [
        ("threads started", len(burst), None),
        ("accepted", sum((out / t.key / "session.json").is_file() for t in burst), accepted),
        ("finished (exported)", sum(t.finished and record(out / t.key).get("open") is False for t in burst), accepted),
        ("refused by the per-person limit", sum(t.refused and not (out / t.key).exists() for t in burst + extras),
         sum(max(0, n - LIMIT) for n in starts.values()) + len(extras)),
        ("overlapping GPU-queue turns", overlaps(held), 0),
        ("overlapping model runs (render, CLIP)", overlaps([w[:1] + w[2:] for w in rec.work]), 0),
        ("renders outside their session's turn",
         sum(not any(t == tag and got <= s and e <= back for t, got, back in held) for tag, s, e in renders), 0),
        ("cross-session leaks", len(leaks), 0),
        ("wall time", f"{wall:.1f} s", None),
        ("GPU-queue turns", len(rec.turns), None),
        ("queue waits: count, median, max", f"{len(waits)}, {spread(waits)}", None),
        (f"'{WAITING}' edits; new messages (most in a thread)",
         f"{sum(WAITING in a.get('text', '') for a in fake.named('/chat.update'))}; {sum(posts)} ({max(posts, default=0)})", None),
        ("first reply to a start: median, max", spread([t.first_reply for t in burst if t.first_reply]), None),
        ("refusal of an extra start: median, max", spread([t.first_reply for t in extras if t.first_reply]), None),
        ("renders (tiny SD, 64x64, 2 steps)", len(renders), None),
        ("CLIP passes (tiny CLIP)", sum(kind == "clip" for _, kind, _, _ in rec.work), None)]
    return Figures(rows, waits, leaks, [t.failure for t in burst + extras if t.failure])


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s, {max(values):.2f} s" if values else "-"


def overlaps(spans: list[tuple[str, float, float]]) -> int:
    """Count the pairs of spans (session, start, end) of two different sessions that overlap in time."""
    spans, count = sorted(spans, key=lambda s: s[1]), 0
    for i, (tag, _, end) in enumerate(spans):
        for other, begin, _ in spans[i + 1:]:
            if begin >= end:
                break
            count += other != tag
    return count


def find_leaks(threads: list[Thread], fake: SlackLog, sent: list, out: Path) -> list[str]:
    """Everything a thread got that belongs to another: words, files, a scene in its folder."""
    found, by_ts = [], {(t.channel, t.ts): t for t in threads}

    def check(thread: Thread | None, text: str, what: str) -> None:
        if thread is None:
            found.append(f"{what} went to no thread of the run")
        for other in threads if thread else []:
            if other is not thread and (other.title in text or other.ts in text):
                found.append(f"{thread.key}: {what} names {other.key}")
    for args in fake.named("/chat.postMessage"):
        check(by_ts.get((args.get("channel"), args.get("thread_ts"))), args.get("text", ""), "a message")
    for args in fake.named("/chat.update"):
        check(by_ts.get((args.get("channel"), fake.thread_of.get(args.get("ts")))), args.get("text", ""), "an edit")
    owners: dict[str, set[str]] = {}  # file digest -> the session folders that hold such a file
    for path in out.glob("*/**/*"):
        if path.is_file() and path.suffix in (".png", ".json", ".pdf"):
            owners.setdefault(fingerprint(path)[0], set()).add(path.relative_to(out).parts[0])
    meant: dict[tuple, list] = {}
    for channel, ts, items in sent:
        thread, key = by_ts.get((channel, ts)), f"{channel}-{ts}"
        for path, sha, size in items:
            meant.setdefault((channel, ts), []).append((path.name, size))
            folder = path.resolve().parent
            if thread is None or (folder.parent if folder.name == "frames" else folder) != (out / key).resolve():
                found.append(f"{key}: uploaded {path}, which is not in its folder")
            elif path.name.startswith("shot_") and int(path.stem[5:]) >= thread.frames:
                found.append(f"{key}: uploaded {path.name} but has {thread.frames} frames")
            if owners.get(sha, {key}) - {key}:
                found.append(f"{key}: uploaded {path.name}, the same bytes as a file of {owners[sha] - {key}}")
    arrived: dict[tuple, list] = {}
    for args in fake.named("/files.completeUploadExternal"):
        arrived.setdefault((args.get("channel_id"), args.get("thread_ts")), []).extend(
            fake.sizes[f["id"]] for f in json.loads(args.get("files", "[]")))
    for place in set(meant) | set(arrived):
        if sorted(meant.get(place, [])) != sorted(arrived.get(place, [])):
            found.append(f"{place}: the files that reached the thread are not the ones sent from its folder")
    for thread in threads:
        document = out / thread.key / "storyboard.json"
        if document.is_file():
            data = json.loads(document.read_text(encoding="utf-8"))
            if data.get("title") != thread.title or len(data.get("frames", [])) != thread.frames:
                found.append(f"{thread.key}: storyboard.json holds {data.get('title')!r}, "
                             f"{len(data.get('frames', []))} frames")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=20)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--frames", type=int, default=3)
    parser.add_argument("--work-dir", type=Path, help="keep the tiny models and session folders here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="shotsmith-concurrency-") as temp:
        figures = run_concurrency(args.threads, args.users, args.frames, args.work_dir or Path(temp))
    print(figures.table())
    return 1 if figures.problems() else 0


if __name__ == "__main__":
    sys.exit(main())
