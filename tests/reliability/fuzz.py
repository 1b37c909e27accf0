"""Fuzzing the chat path: generated turns through the rules reader, the edits and the whole storyboard graph,
and malformed model replies through the LLM planner, the LLM reader and a live session.

    python tests/reliability/fuzz.py [--turns 10000] [--graph-turns 4000] [--seed N] [--workers 2]

Every turn is read by interpret_rules and applied to an in-memory storyboard (apply_commands). An evenly
spread share of them (--graph-turns; all with --graph-turns 0) also goes to real Sessions: rules planner,
sketch renderer at 64x64, three frames, SQLite checkpoints. A session ended by an export or an unhandled
exception, or 300 turns old, is replaced by a fresh one. Prints one table; exits 1 if a goal is missed.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import sys
import tempfile
import threading
import time
import typing
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from agent.errors import SessionError
from agent.scenes.scene_file import load_scene
from agent.session import Session
from graphs.commands import ChooseMask, Clarify, Command, Inpaint, Refusal
from graphs.context import Context
from graphs.corrections.edits import apply_commands
from graphs.corrections.interpreter import interpret
from graphs.corrections.rules import interpret_rules
from graphs.errors import CorrectionError
from graphs.events import Done, Event, Problem, Question
from graphs.events import Reply as Answer
from graphs.planning.llm_planner import OpenAIPlanner, plan_or_rules
from graphs.planning.planner import RulesPlanner
from graphs.state import Frame, Settings, Storyboard
from prompts.shot_types import BY_SLUG, SHOT_TYPES
from tools.llm import LLM, LLMConfig
from tools.render.sketch import SketchRenderer

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))  # for fake_llm, when run as a command
from fake_llm import FakeLLM, Reply, Status  # noqa: E402

SCENE = load_scene(TESTS.parent / "examples" / "dialogue.toml", {"frames": 3})
SETTINGS = Settings(width=64, height=64)
EVENTS = set(typing.get_args(Event))
OUTCOMES = {Done: "exports", Answer: "applied", Question: "questions", Problem: "refused"}
"""How a graph turn is counted: by the first of these event classes among its events."""
ROTATE = 300
"""Turns one session takes before a fresh one replaces it, so its checkpoint file stays small."""

# --- generated turns ---------------------------------------------------------------------------------------------
SHOT_WORDS = sorted({w for s in SHOT_TYPES for w in (s.slug, s.name, s.phrase, str(s.number))}
                    | {"ecu", "cu", "closeup", "mid shot", "cowboy", "wide", "establishing shot", "insert", "fs"})
SMALL = st.integers(0, 3)
NUMBER = st.one_of(SMALL, SMALL, SMALL, st.integers(-3, 12), st.integers(10**6, 10**40),
                   st.sampled_from(["٣", "0x1", "1e3", "2.5", "+1", "00", "9" * 5000]))
JUNK = st.sampled_from(["\x00", "\u200f", "\u202e", "\u200b", "\ufeff", "🙂", "👩‍👩‍👧", "\r\n", "\t", "\x1b[31m",
                        "\udc80", "\u0301", "\u3000", "\xa0", "!!!", "please", "???", "\n\n"])
LONG = st.builds(lambda unit, count: (unit * count)[:100_000],
                 st.sampled_from(["x", "word ", "🙂", "\u202e", "frame 1: ", "9", "ü\u0301", "\x00", "{"]),
                 st.integers(500, 100_000))
TEXT = st.one_of(st.sampled_from(["the letter on the table", "rain on the window", "maravance cries", "Tomas leaves",
                                  "a cat 🐈", "mara and tomas and a stranger", "noir, high contrast", "", " "]),
                 st.text(max_size=30))
FILL = {
    "n": NUMBER, "m": NUMBER, "k": st.one_of(st.integers(0, 2), NUMBER), "text": TEXT,
    "shot": st.one_of(st.sampled_from(SHOT_WORDS), st.sampled_from(SHOT_WORDS), st.text(max_size=8)),
    "sec": st.one_of(st.sampled_from(["2.5", "0.2", "60", "0.1", "61", "0", "1e3", "9999.9999", "-1", "nan", "inf"]),
                     st.floats(0, 100).map(lambda f: f"{f:.2f}")),
    "who": st.sampled_from(["maravance", "Mara", "tomasreyes", "Tomas", "nobody", "frame", "Ǆ", "mara’s"]),
    "pos": st.sampled_from(["left", "right", "centre", "center", "middle", "left side of the frame", "up"]),
    "box": st.lists(NUMBER, min_size=1, max_size=6).map(lambda xs: ",".join(map(str, xs))),
    "size": st.sampled_from(["64x64", "96x64", "128 x 128", "63x64", "0x0", "4096x4096", "99999999999x1", "64×72"]),
    "fmt": st.lists(st.sampled_from(["mp4", "gif", "csv", "otio", "json", "png", "pdf", "animatic", "shot list",
                                     "docx", ".mp4", "timeline", ""]), max_size=4).map(", ".join),
}
TEMPLATES = [
    "frame {n}: {shot}", "{n} -> {shot}", "make frame {n} a {shot}", "frame {n} should be a {shot}",
    "change frame {n} to an {shot}", "swap {n} and {m}", "swap frames {n} with {m}", "regenerate {n}",
    "regen frame {n}", "redo frame {n}", "regenerate all", "frame {n}: regenerate", "redo", "frame {n}: candidate {k}",
    "take {k} for frame {n}", "use the second one for frame {n}", "frame {n}: pick {k}", "option {k}", "undo",
    "go back", "undo the last change", "frame {n}: {sec}s", "frame {n}: hold for {sec} seconds", "{n}: {sec} secs",
    "style: {text}", "no style", "change the style to {text}", "setting: {text}", "lighting: {text}",
    "make it black and white", "add a frame after {n}: {text}", "add a {shot} after frame {n} showing {text}",
    "add a frame at the end: {text}", "add a frame before {n}: {text}", "insert a {shot} after frame {n}: {text}",
    "add a frame", "remove {n}", "delete frame {n}", "remove this", "duplicate {n}", "copy frame {n}",
    "move frame {n} to {m}", "put frame {n} before {m}", "move frame {n} after {m}", "move frame {n} to the start",
    "frame {n}: add {text}", "append to frame {n}: {text}", "add {text} to frame {n}", "frame {n} += {text}",
    "frame {n}: {text}", "frame {n} {text}", "{n}: {text}", "move {who} to the {pos} in frame {n}",
    "frame {n}: {who} on the {pos}", "put {who} in the {pos}", "frame {n}: inpaint box {box} with {text}",
    "frame {n}: inpaint rect {box} dilate {k} blur {k} with {text}", "frame {n}: inpaint point {box} with {text}",
    "mask {k}", "frame {n}: mask {k}", "inpaint box {box} with {text}", "steps {k}", "size {size}",
    "guidance {sec}", "{k} candidates", "use ddim", "set the scheduler to {text}", "make it a {shot}", "regenerate",
    "take the first one", "which one?", "{text}",
]
EXPORTS = ["export", "export as {fmt}", "done", "export {fmt}", "ship it"]


@st.composite
def turn(draw) -> str:
    """One chat message: mostly the phrasings people use, varied with hostile characters, raw noise and huge texts."""
    roll = draw(st.integers(0, 199))
    if roll < 16:
        return draw(st.text(max_size=200))
    if roll < 20:
        return draw(st.sampled_from(["", " ", "\n\t ", "\u3000", "\x00", "\u200b", "\r\n\r\n"]))
    if roll < 23:
        return draw(LONG) if roll == 20 else draw(st.sampled_from(["frame 1: ", "style: ", "frame 0: add "])) + draw(LONG)
    template = draw(st.sampled_from(EXPORTS if roll < 25 else TEMPLATES))
    text = template.format(**{k: draw(v) for k, v in FILL.items() if f"{{{k}}}" in template})
    how = draw(st.integers(0, 9))
    if how == 5:
        at = draw(st.integers(0, len(text)))
        return text[:at] + draw(JUNK) + text[at:]
    if how == 6:
        return draw(JUNK) + text + draw(JUNK)
    if how == 7:
        return text.swapcase()
    if how == 8:
        return text.replace(" ", draw(st.sampled_from(["\u00a0", "\u3000", "\t", "  ", "\n"])))
    return text


def generate_turns(count: int, start: int = 0) -> list[str]:
    """Return `count` generated turns; the same seed gives the same turns."""
    found: list[str] = []
    while len(found) < count:
        @seed(start + len(found))
        @settings(max_examples=count - len(found), deadline=None, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(turn())
        def collect(text: str) -> None:
            found.append(text)
        collect()
    return found[:count]


# --- turns through the reader, the edits and the graph -----------------------------------------------------------
@dataclass
class Tally:
    """What happened to turns sent one way: counts by outcome, the inputs that raised, the slowest turn."""

    counts: Counter = field(default_factory=Counter)
    unhandled: list = field(default_factory=list)
    slowest: tuple = (0.0, "")

    def __getitem__(self, key: str) -> int:
        return self.counts[key]

    def merge(self, other: Tally) -> Tally:
        self.counts += other.counts
        self.unhandled += other.unhandled
        self.slowest = max(self.slowest, other.slowest)
        return self


def _shown(text: str, limit: int = 40) -> str:
    return repr(text[:limit]) + (f"… ({len(text)} chars)" if len(text) > limit else "")


def _fresh() -> Storyboard:
    frames = [Frame(id=f"f{i}", spec=spec) for i, spec in enumerate(RulesPlanner().plan(SCENE))]
    return Storyboard(scene=SCENE, frames=frames, next_id=len(frames))


def run_reader(turns: list[str]) -> Tally:
    """Read every turn by rules and apply it to an in-memory storyboard (no rendering, no checkpoints)."""
    tally, state = Tally(), _fresh()
    for text in turns:
        tally.counts["turns"] += 1
        try:
            commands = interpret_rules(text)
            asks = [c for c in commands if isinstance(c, Clarify)]
            tally.counts["out_of_shape"] += not commands or (bool(asks) and len(commands) > 1) or not all(
                isinstance(c, Command.__args__) for c in commands)
            if asks:
                tally.counts["refused" if isinstance(asks[0], Refusal) else "questions"] += 1
            elif isinstance(commands[0], (Inpaint, ChooseMask)):
                tally.counts["other"] += 1  # needs the inpaint node's models: left to the graph
            else:
                update = apply_commands(state, commands, RulesPlanner())
                tally.counts["exports" if update.get("done") else "applied"] += 1
                state = _fresh() if update.get("done") else state.model_copy(update=update)
        except CorrectionError:
            tally.counts["refused"] += 1
        except Exception as error:
            tally.unhandled.append(f"rules/edits, {_shown(text)}: {type(error).__name__}: {str(error)[:120]}")
            state = _fresh()
    return tally


class Driver:
    """Sends turns to one live session at a time, opening a fresh one when a session ends, breaks or grows old."""

    def __init__(self, root: Path):
        self.root, self.tally, self.session, self.age = root, Tally(), None, 0

    def _open(self) -> None:
        self.close()
        self.tally.counts["sessions"] += 1
        self.session = Session.create(self.root / f"session{self.tally['sessions']}",
                                      Context(planner=RulesPlanner(), renderer=SketchRenderer()))
        self.age = 0
        list(self.session.start(SCENE, SETTINGS))

    def send(self, text: str) -> None:
        """Send one turn. Session.send checks that the session waits, so a turn that left it not waiting
        shows up at the next send (SessionError) or at close()."""
        counts = self.tally.counts
        counts["turns"] += 1
        try:
            if self.session is None or self.age >= ROTATE:
                self._open()
            started = time.perf_counter()
            try:
                events = self.session.send(text)
            except SessionError:
                counts["not_waiting"] += 1
                self._open()
                events = self.session.send(text)
            self.age += 1
            kinds = {type(e) for e in events}
            self.tally.slowest = max(self.tally.slowest, (time.perf_counter() - started, _shown(text)))
        except Exception as error:  # the one thing that must never happen
            self.tally.unhandled.append(f"graph, {_shown(text)}: {type(error).__name__}: {str(error)[:120]}")
            if self.session is not None:
                self.session.close()
            self.session = None
            return
        counts["unknown_events"] += len(kinds - EVENTS)
        counts[next((name for kind, name in OUTCOMES.items() if kind in kinds), "other")] += 1
        if Done in kinds:
            self.close(expect_waiting=False)

    def close(self, expect_waiting: bool = True) -> None:
        """Close the live session; one that should be waiting and is not counts against the last turn."""
        if self.session is not None:
            self.tally.counts["not_waiting"] += expect_waiting and not self.session.waiting()
            self.session.close()
            shutil.rmtree(self.session.out_dir, ignore_errors=True)
            self.session = None


def run_graph(turns: list[str]) -> Tally:
    """Send every turn through live sessions kept in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="shotsmith-fuzz-") as folder:
        driver = Driver(Path(folder))
        for text in turns:
            driver.send(text)
        driver.close()
    return driver.tally


def run_graph_parallel(turns: list[str], workers: int) -> Tally:
    """Split the turns between `workers` processes, each with its own sessions."""
    if workers <= 1:
        return run_graph(turns)
    size = -(-len(turns) // workers)
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        parts = pool.map(run_graph, [turns[i:i + size] for i in range(0, len(turns), size)])
    total = Tally()
    for part in parts:
        total.merge(part)
    return total


# --- malformed model replies -------------------------------------------------------------------------------------
@dataclass
class Raw:
    """A whole HTTP body sent as it is, for what fake_llm cannot send (bytes that are not UTF-8, odd shapes)."""

    body: bytes


class RawLLM(ThreadingHTTPServer):
    """A chat-completions stand-in answering every request with `reply.body`; use as a context manager."""

    daemon_threads = True

    def __init__(self, reply: Raw):
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_port}/v1"
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def __exit__(self, *exc) -> None:
        self.shutdown()
        super().__exit__(*exc)


def corpus() -> list[tuple[str, Reply | Status | Raw]]:
    """Return the malformed replies by class; each goes to the planner, the reader and a session alike."""
    big = 10 * 1024 * 1024
    plan = [{"shot": BY_SLUG[s.shot_type].number, "prompt": s.prompt, "setting": s.setting, "lighting": s.lighting,
             "action": s.action, "subject": s.subject, "characters": [
                 {"name": c.name, "position": c.position, "action": c.action} for c in s.characters]}
            for s in RulesPlanner().plan(SCENE)]
    extra = json.dumps({"frames": plan, "commands": [{"kind": "swap", "first": 0, "second": 1, "why": "x"}],
                        "question": "", "notes": {"extra": [1, 2]}})
    refusal = {"choices": [{"index": 0, "finish_reason": "stop",
                            "message": {"role": "assistant", "content": None, "refusal": "I can't help."}}]}
    return [
        ("truncated JSON", Reply('{"frames": [{"shot": 2, "prompt": "a')),
        ("cut off at the length limit", Reply('{"frames": [', finish="length")),
        ("filtered", Reply("", finish="content_filter")),
        ("wrong types", Reply('{"frames": "three", "commands": {"kind": 7}, "question": ["?"]}')),
        ("wrong item types", Reply('{"frames": [{"shot": "ten", "characters": "Mara"}], '
                                   '"commands": [{"kind": "swap", "first": "a"}], "question": ""}')),
        ("out-of-range values", Reply('{"frames": [{"shot": 0}], "question": "", '
                                      '"commands": [{"kind": "set_shot", "frame": -5, "shot_type": "nope"}]}')),
        ("extra fields", Reply(extra)),
        ("missing fields", Reply('{"frames": [{"shot": 2}], "commands": [{"kind": "set_shot"}]}')),
        ("empty string", Reply("")),
        ("whitespace only", Reply(" \n\t ")),
        ("null content", Reply(None)),
        ("content is an object", Reply({"frames": []})),
        ("JSON array", Reply("[1, 2, 3]")),
        ("deeply nested JSON", Reply("[" * 100_000 + "]" * 100_000)),
        ("deeply nested object", Reply('{"frames": ' + '{"a": ' * 5000 + "1" + "}" * 5001)),
        ("markdown, broken JSON", Reply('Here you go:\n```json\n{"frames": [{"shot": 1,, ]}\n```')),
        ("refusal in prose", Reply("I'm sorry, but I can't help with that.")),
        ("refusal field", Raw(json.dumps(refusal).encode())),
        ("control characters", Reply('\x00\x01{"frames": []}\x1b[0m')),
        ("lone surrogates", Reply('\udcff{"commands": [], "question": "\ud800?"}')),
        ("non-UTF-8 bytes", Raw(b'{"choices": [{"message": {"content": "\xff\xfe{"}}]}')),
        ("not JSON at all", Raw(b"<html><body>502 Bad Gateway</body></html>")),
        ("message not an object", Raw(b'{"choices": [{"message": "hi"}]}')),
        ("no choices", Raw(b'{"choices": []}')),
        ("deeply nested body", Raw(b'{"choices": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")),
        ("non-completion body", Status(200, "this is not a completion")),
        ("HTTP 500", Status(500, "internal error")),
        ("HTTP 429", Status(429, "slow down")),
        ("HTTP 500, 10 MB error", Status(500, "x" * big)),
        ("slow reply (timeout)", Reply(extra, delay=1.5)),
        ("10 MB reply", Reply('{"frames": [], "commands": [], "question": "' + "a" * big + '"}')),
    ]


def _why(message: str) -> str:
    """Return the reason inside an LLMError's text."""
    message = message.split("); the rules planner", 1)[0]
    for mark in ("last problem: ", "gave no usable reply (", "did not answer (", "gave no usable plan ("):
        message = message.split(mark, 1)[-1]
    return "LLMError, rules stood in: " + message.rstrip(")")


def try_reply(reply: Reply | Status | Raw, session: Session | None = None) -> dict[str, str]:
    """Serve one malformed reply to the LLM planner, the LLM reader and (optionally) a live session; return
    each path's outcome. One starting with UNHANDLED or LOST misses the goal."""
    outcome = {}
    with RawLLM(reply) if isinstance(reply, Raw) else FakeLLM([], default=reply) as server:
        llm = LLM(LLMConfig(model="fuzz", base_url=server.url, api_key="fuzz", timeout=1.0, retries=0, replies=2))
        try:
            _, name, notice = plan_or_rules(OpenAIPlanner(llm, rounds=1), SCENE)
            outcome["planner"] = _why(notice) if notice else f"model plan used ({name})"
        except Exception as error:
            outcome["planner"] = f"UNHANDLED {type(error).__name__}: {str(error)[:80]}"
        try:
            read = interpret("make it pop", _fresh(), llm)
            note = read[0].question.split("could not help: ", 1) if isinstance(read[0], Refusal) else []
            outcome["reader"] = _why(note[1]) if len(note) == 2 else f"model read: {', '.join(c.kind for c in read)}"
        except Exception as error:
            outcome["reader"] = f"UNHANDLED {type(error).__name__}: {str(error)[:80]}"
        if session is not None:
            outcome["session"] = _through_session(session, llm)
    return outcome


def _through_session(session: Session, llm: LLM) -> str:
    session.context.llm = llm
    try:
        before = session.state()
        kinds = [type(e) for e in session.send("make it pop")]
        after = session.state()
    except Exception as error:
        return f"UNHANDLED {type(error).__name__}: {str(error)[:80]}"
    if not session.waiting():
        return "LOST: not waiting"
    if Answer in kinds:
        return "waiting; applied"
    return "waiting; unchanged" if after.frames == before.frames else "LOST: frames changed"


def run_corpus() -> list[tuple[str, dict[str, str]]]:
    """Serve every malformed reply; return (class, outcome by path)."""
    with tempfile.TemporaryDirectory(prefix="shotsmith-fuzz-") as root:
        session = Session.create(Path(root), Context(planner=RulesPlanner(), renderer=SketchRenderer()))
        list(session.start(SCENE, SETTINGS))
        try:
            return [(name, try_reply(reply, session)) for name, reply in corpus()]
        finally:
            session.close()


def missed(outcome: dict[str, str]) -> bool:
    return any(text.startswith(("UNHANDLED", "LOST")) for text in outcome.values())


# --- the command -------------------------------------------------------------------------------------------------
def table(reader: Tally, graph: Tally, replies: list, workers: int, wall: float) -> tuple[str, bool]:
    """Return the report and whether every goal was met."""
    bad = sum(missed(o) for _, o in replies)
    unhandled = reader.unhandled + graph.unhandled
    ok = not unhandled and not graph["not_waiting"] and not reader["out_of_shape"] and not bad

    def row(label: str, *values) -> str:
        return f"{label:<46}" + "".join(f"{v!s:>14}" for v in values)
    rows = [row("", "rules+edits", "graph")] + [row(label, reader[key], graph[key]) for label, key in (
        ("turns sent", "turns"), ("  applied", "applied"), ("  answered with a question", "questions"),
        ("  refused as an error", "refused"), ("  exports (each ends a graph session)", "exports"),
        ("  inpaint left to the graph / no message", "other"))]
    rows += [row("unhandled exceptions (goal 0)", len(reader.unhandled), len(graph.unhandled)),
             row("rules answers out of shape (goal 0)", reader["out_of_shape"], "-"),
             row("turns leaving a session not waiting (goal 0)", "-", graph["not_waiting"]),
             row("events of unknown types", "-", graph["unknown_events"]),
             row("sessions opened", "-", f"{graph['sessions']} ({workers} proc)"),
             f"{'slowest graph turn':<46}{graph.slowest[0]:.2f} s {graph.slowest[1]}", "",
             f"{'malformed replies':<46}{len(replies)} classes, each to the LLM planner, LLM reader and a session",
             f"{'class':<28}{'session':<20}LLM planner / LLM reader (one text when both ended alike)"]
    rows += [f"{name:<28}{o.get('session', '-'):<20}" + (o["planner"][:110] if o["planner"] == o["reader"] else
                                                          f"{o['planner'][:66]} / {o['reader'][:42]}")
             for name, o in replies]
    rows += [row("malformed replies unhandled or lost (goal 0)", bad), "", f"{'wall time':<46}{wall:.1f} s",
             f"{'goals':<46}{'all met' if ok else 'MISSED'}"] + [f"unhandled: {line}" for line in unhandled[:20]]
    return "\n".join(rows), ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=10_000, help="turns generated (default 10000)")
    parser.add_argument("--graph-turns", type=int, default=4000, help="of them, how many go through the graph "
                                                                       "too (default 4000; 0 sends all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2, help="processes sending graph turns (default 2)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    turns = generate_turns(args.turns, args.seed)
    share = min(args.graph_turns or len(turns), len(turns))
    graph = run_graph_parallel([turns[i * len(turns) // share] for i in range(share)], args.workers)
    report, ok = table(run_reader(turns), graph, run_corpus(), args.workers, time.perf_counter() - started)
    print(report)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
