"""Checkpoint: how big session.sqlite gets over a long conversation, how fast it reopens, and what one correction
to a long storyboard costs besides drawing.

Every figure comes from real Sessions (agent.session.Session) in a temporary folder, planned by rules and drawn by
the sketch renderer at the benchmark's frame size (64x64 on a CPU, 512x512 with --full-size), as a person's
session would be:

- an 8-frame board takes 100 "regenerate all" corrections: the checkpoint file's size after them (session.sqlite
  with its -wal file), and how much the checkpoint's rows grew per correction over the first 10 against the
  last 10 (rows, not the file: SQLite keeps freed pages and the WAL for reuse, so the file grows in steps);
- that folder is reopened: Session.reopen and reading the state back;
- a fresh 8-frame board takes 50 corrections of every kind and then 50 undos: the file's size, and whether the
  undos brought back the board as it was first drawn;
- a 200-frame board takes single-frame corrections ("regenerate N"): each one's wall time less the time spent
  inside the renderer (the median of five).

Targets (issue 19, "the checkpoint stays small"): 100 corrections in at most 20 MB, growth per correction at the
end at most twice that at the start, reopening in at most 1 s, 50 + 50 undos in at most 20 MB with the board
back as it was, and a one-frame correction on 200 frames at most 1 s beyond the drawing.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.harness import ROOT, Table, options

SCENE = ROOT / "examples" / "investigation.toml"
LONG = 100
LONG_BOARD = 200
MIXED = ["regenerate 1", "duplicate frame 0", "swap 1 and 2", "frame 1: close-up", "style: noir, high contrast",
         "set candidates to 2", "frame 0: pick 1", "regenerate all", "move frame 2 to 0", "remove 3",
         "add a frame after 1: Kaito opens the door", "frame 2: add rain on the window", "regenerate 4",
         "set candidates to 1"]
"""Corrections of every kind, played in turn for the undo run."""
TARGET_MB, TARGET_GROWTH, TARGET_REOPEN, TARGET_EXTRA = 20.0, 2.0, 1.0, 1.0


class TimedRenderer:
    """A renderer that counts the seconds spent inside the one it wraps."""

    def __init__(self, inner):
        self.inner = inner
        self.seconds = 0.0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def render(self, job, on_progress=None):
        start = time.perf_counter()
        try:
            return self.inner.render(job, on_progress)
        finally:
            self.seconds += time.perf_counter() - start


def file_bytes(out: Path) -> int:
    """Return the size of session.sqlite and its side files."""
    return sum(path.stat().st_size for path in out.glob("session.sqlite*") if path.is_file())


def row_bytes(out: Path) -> int:
    """Return the bytes the checkpoint's rows hold (its checkpoints and the writes after them)."""
    connection = sqlite3.connect(f"file:{out / 'session.sqlite'}?mode=ro", uri=True)
    try:
        checkpoints = connection.execute("SELECT coalesce(sum(length(checkpoint) + length(metadata)), 0) "
                                         "FROM checkpoints").fetchone()[0]
        writes = connection.execute("SELECT coalesce(sum(length(value)), 0) FROM writes").fetchone()[0]
    finally:
        connection.close()
    return checkpoints + writes


def say(session, text: str) -> None:
    """Send one correction and wait until the session waits again; a refused one is a benchmark error."""
    list(session.send(text))
    notice = session.state().notice
    if notice.startswith("error"):
        raise RuntimeError(f"{text!r} was refused: {notice}")


@dataclass
class Run:
    """What the three parts of the benchmark share: the table they fill and how a board is drawn."""

    table: Table
    context: object
    settings: object
    renderer: TimedRenderer

    def row(self, figure: str, value: float, unit: str, target: float, ok: bool | None = None) -> None:
        """Add a figure against its target (met when at most the target, unless `ok` says otherwise)."""
        ok = value <= target if ok is None else ok
        self.table.add(figure, f"{value:.3g} {unit}".strip(), f"<= {target:g} {unit}".strip(),
                       "PASS" if ok else "FAIL")

    def board(self, out: Path, frames: int) -> tuple[object, float]:
        """Open a session in `out` and draw a board of `frames` frames; return it and the seconds drawing took."""
        from agent.scenes.scene_file import load_scene
        from agent.session import Session

        session = Session.create(out, self.context)
        start = time.perf_counter()
        list(session.start(load_scene(SCENE, {"frames": frames}), self.settings))
        return session, time.perf_counter() - start


def long_conversation(run: Run, out: Path, corrections: int) -> None:
    """Measure the file and the growth of its rows over many "regenerate all" corrections, then the reopening."""
    from agent.session import Session

    window = min(10, corrections // 2)
    session, _ = run.board(out, 8)
    sizes = [row_bytes(out)]
    for _ in range(corrections):
        say(session, "regenerate all")
        sizes.append(row_bytes(out))
    session.close()
    first = (sizes[window] - sizes[0]) / window
    last = (sizes[-1] - sizes[-1 - window]) / window
    run.row(f"file after {corrections} corrections, 8 frames", file_bytes(out) / 2**20, "MB", TARGET_MB)
    run.row(f"growth per correction, last {window} / first {window}", last / first, "", TARGET_GROWTH)
    start = time.perf_counter()
    session = Session.reopen(out, run.context)
    state = session.state()
    reopened = time.perf_counter() - start
    session.close()
    run.row(f"reopen after {corrections} corrections", reopened, "s", TARGET_REOPEN)
    run.table.notes.append(f"checkpoint rows: {sizes[0] / 1024:.0f} KB after drawing, {sizes[-1] / 1024:.0f} KB "
                           f"after {corrections} corrections; {first / 1024:.1f} KB per correction over the first "
                           f"{window}, {last / 1024:.1f} KB over the last {window}; {len(state.history)} undo steps "
                           "kept")


def undo_run(run: Run, out: Path, undos: int) -> None:
    """Measure the file after corrections of every kind and as many undos, and whether the board came back."""
    session, _ = run.board(out, 8)
    drawn = session.state()
    for turn in range(undos):
        say(session, MIXED[turn % len(MIXED)])
    for _ in range(undos):
        say(session, "undo")
    back = session.state()
    session.close()
    whole = back.frames == drawn.frames and back.scene == drawn.scene and back.settings == drawn.settings
    run.row(f"file after {undos} corrections + {undos} undos", file_bytes(out) / 2**20, "MB", TARGET_MB,
            ok=file_bytes(out) <= TARGET_MB * 2**20 and whole)
    run.table.notes.append(f"after the {undos} undos the board is " + ("exactly as first drawn" if whole else
                                                                     "NOT as first drawn"))


def long_board_run(run: Run, out: Path, frames: int) -> None:
    """Measure single-frame corrections on a long board: the median wall time beyond the renderer's."""
    session, planned = run.board(out, frames)
    extra = []
    for number in sorted({round(frames * share) for share in (0.04, 0.25, 0.5, 0.75, 0.94)}):
        run.renderer.seconds = 0.0
        start = time.perf_counter()
        say(session, f"regenerate {number}")
        took = time.perf_counter() - start
        extra.append((took - run.renderer.seconds, took, run.renderer.seconds))
    session.close()
    beyond, took, drawing = sorted(extra)[len(extra) // 2]
    run.row(f"one-frame correction, {frames} frames, beyond drawing", beyond, "s", TARGET_EXTRA)
    run.table.notes.append(f"{frames} frames: first drawing {planned:.1f} s; the median correction took {took:.2f} "
                           f"s, {drawing:.3f} s of it inside the renderer; beyond drawing "
                           + ", ".join(f"{e[0]:.2f}" for e in extra) + " s")


def more_options(parser) -> None:
    """Add this benchmark's sizes to the common options."""
    parser.add_argument("--corrections", type=int, default=LONG, metavar="N",
                        help=f"corrections in the long conversation (default {LONG}; at least 4)")
    parser.add_argument("--long-board", type=int, default=LONG_BOARD, metavar="FRAMES",
                        help=f"frames of the long storyboard (default {LONG_BOARD})")


def main(argv: list[str] | None = None) -> int:
    opts, args = options(__doc__.splitlines()[0], argv, more_options)
    corrections, long_board = max(4, args.corrections), max(2, min(200, args.long_board))
    from graphs.context import Context
    from graphs.planning.planner import RulesPlanner
    from graphs.state import Settings
    from tools.render.sketch import SketchRenderer

    renderer = TimedRenderer(SketchRenderer())
    table = Table("checkpoint", "session.sqlite over long conversations, and one correction to a long storyboard",
                  opts, ("figure", "measured", "target", "verdict"))
    run = Run(table, Context(planner=RulesPlanner(), renderer=renderer), Settings(width=opts.size, height=opts.size),
              renderer)
    with tempfile.TemporaryDirectory(prefix="shotsmith-bench-") as tmp:
        long_conversation(run, Path(tmp) / "long", corrections)
        undo_run(run, Path(tmp) / "undo", min(50, corrections))
        long_board_run(run, Path(tmp) / "long-board", long_board)
    table.notes.append("sizes are the file as it stands (session.sqlite and its -wal); SQLite keeps freed pages and "
                       "its write-ahead log for reuse, so they are the checkpoint's rows at their largest, a few "
                       "times over")
    table.show()
    return 0
