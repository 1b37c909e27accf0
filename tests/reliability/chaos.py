"""Crash-resume ("chaos") suite: SIGKILL a scripted session at random points, resume it, count what was lost.

    python tests/reliability/chaos.py [--kills 20] [--seed N] [--keep DIR] [--jobs N]

Tiny random models (SD 1.5, CLIP, SAM, a 9-channel inpainting model) are built once under the work folder. A
turns file (a shot change, a regenerate, a pick, a SAM repair, an export to pdf, csv and mp4) is played once
uninterrupted as the reference. Each kill plays it again in a fresh folder, kills the process group inside one
phase (cycling planning, rendering, critique, inpainting, export), checks the files on disk, then runs
`shotsmith script --resume` until the session finishes. One table of figures is printed at the end; the exit
code is 1 when any figure misses its goal.

Choosing the moment: the reference notes when each mark appeared (session.json, each transcript line, each
finished version file), which cuts its run into windows, each in one phase. A kill picks a window of its phase
(seeded), waits in the live run for the mark that opens it, then sleeps a random fraction of the window's length
in the reference. Where it really landed is read afterwards, by the same rules, from the lines and version files
the killed run left; the table counts both.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
sys.path[:0] = [p for p in (str(ROOT), str(TESTS)) if p not in sys.path]

SHOTSMITH = ROOT / ".venv" / "bin" / "shotsmith"
PHASES = ("planning", "rendering", "critique", "inpainting", "export")
TEMPORARY = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp|\..+\.[0-9a-f]{8}\.[A-Za-z0-9]+")
"""Names of writes not yet renamed into place (tools/atomic.py; tools/animatic.py `replacing`)."""
FINISHED = re.compile(r"\d+ frames by the \w+ planner")
"""The summary line printed once the session is over; after it only the interpreter's exit remains."""
SQLITE_TROUBLE = re.compile(r"sqlite|database is locked|disk image is malformed|DatabaseError", re.IGNORECASE)
CANDIDATES = 2
SCENE = """\
title = "Kitchen talk"
description = "Kaito waits in the kitchen. Jiyeon comes in with a letter."
shots = [4, 6]
characters = [{name = "kaitoyosuke", class = "man", aliases = ["Kaito"]},
              {name = "jiyeonmun", class = "woman", aliases = ["Jiyeon"]}]
"""
TURNS = f"""\
scene: scene.toml
renderer: diffusers
planner: rules
width: 64
height: 64
steps: 6
candidates: {CANDIDATES}
seed: 7
turns:
  - "frame 1: close-up"
  - "regenerate 0"
  - "frame 0: pick 1"
  - "frame 1: inpaint box 8,8,40,40 with a red umbrella"
  - "export pdf, csv, mp4"
"""


def build_models(folder: Path) -> dict[str, Path]:
    """Build the tiny models into `folder` unless an earlier run did; return their paths by library key."""
    models = {"base": folder / "sd", "clip": folder / "clip", "sam": folder / "sam" / "tiny_sam.pth",
              "sam_type": folder / "sam" / "tiny_sam.json", "inpaint": folder / "inpaint"}
    if not (folder / "done").exists():
        from tiny_inpaint import write_inpaint_folder
        from tiny_models import write_clip_folder, write_sd_folder
        from tiny_sam import write_tiny_sam

        write_sd_folder(models["base"])
        write_clip_folder(models["clip"])
        write_tiny_sam(folder / "sam")
        write_inpaint_folder(models["inpaint"])
        (folder / "done").touch()
    return models


def build_project(work: Path, models: dict[str, Path] | None = None) -> Path:
    """Write scene, library and turns file under `work` (building the models if none are given); return the turns."""
    models = models or build_models(work / "models")
    project = work / "project"
    project.mkdir(parents=True, exist_ok=True)
    table = "".join(f'{key} = "{path}"\n' for key, path in models.items())
    # Every tiny frame scores below CLIP's threshold, so each render is followed by one retry.
    (project / "library.toml").write_text(f"[model]\n{table}[critique]\nretries = 1\n")
    (project / "scene.toml").write_text(SCENE)
    (project / "chaos.turns.yaml").write_text(TURNS)
    return project / "chaos.turns.yaml"


def finished_versions(out: Path) -> list[Path]:
    folder = out / "frames" / "versions"
    return sorted(p for p in folder.iterdir() if p.suffix == ".png" and not p.name.startswith(".")) \
        if folder.is_dir() else []


class Watch:
    """One shotsmith process and the marks it has shown: ("session",), ("line", i), ("versions", n), with times."""

    def __init__(self, turns: Path, out: Path, resume: bool = False):
        self.out, self.t0, self.lines, self.marks = out, time.monotonic(), [], []
        self.errors = tempfile.TemporaryFile(mode="w+")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
        command = [str(SHOTSMITH), "script", str(turns), "--out", str(out)] + ["--resume"] * resume
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=self.errors,
                                        text=True, start_new_session=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for text in self.process.stdout:
            self.lines.append((time.monotonic() - self.t0, text.rstrip("\n")))

    def look(self) -> set[tuple]:
        """Note the marks that appeared since the last look; return every mark seen so far."""
        seen, now = {key for _, key in self.marks}, time.monotonic() - self.t0
        new = [(now, ("session",))] if (self.out / "session.json").exists() else []
        new += [(at, ("line", i)) for i, (at, _) in enumerate(list(self.lines))]
        new += [(now, ("versions", n)) for n in range(1, len(finished_versions(self.out)) + 1)]
        self.marks += [(at, key) for at, key in new if key not in seen]
        return seen | {key for _, key in new}

    def finish(self, timeout: float = 600) -> tuple[int, list[str], str]:
        """Wait for the process; return its exit code, its transcript and its stderr."""
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=30)
        self.look()
        self.marks.append((time.monotonic() - self.t0, ("exit",)))
        self.errors.seek(0)
        return code, [text for _, text in self.lines], self.errors.read()

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # the whole group, ffmpeg included, as a crash would
        except ProcessLookupError:
            pass


@dataclass
class Reference:
    out: Path
    lines: list[str]
    versions_at: list[int]
    """Version files finished when each transcript line appeared."""
    windows: dict[str, list[tuple[tuple, float]]] = field(default_factory=dict)
    """Phase -> [(the mark opening a window, the window's length in seconds)]."""


def phase_of(lines: list[str], versions: int, session: bool, ref: Reference) -> str:
    """Name the phase a run was in, from its transcript lines and its count of finished version files."""
    if not session:
        return "before session"
    if not lines:
        return "planning"
    if any(FINISHED.match(line) for line in lines):
        return "finished"
    if any(line.startswith("> export") for line in lines):
        return "export"
    if lines[-1].startswith("> ") and " inpaint " in lines[-1]:
        return "inpainting"
    if lines != ref.lines[:len(lines)]:
        return "unknown"
    i = len(lines)  # the reference's next line, and the version files that were finished when it came
    following, due = (ref.lines[i], ref.versions_at[i]) if i < len(ref.lines) else ("", ref.versions_at[-1])
    if versions < due:
        return "rendering"
    return "critique" if "CLIP" in following else "between steps"


def reference_run(turns: Path, out: Path) -> Reference:
    """Play the script without a kill and cut its timeline into windows, one phase each."""
    shutil.rmtree(out, ignore_errors=True)
    watch = Watch(turns, out)
    while watch.process.poll() is None:
        watch.look()
        time.sleep(0.002)
    code, lines, errors = watch.finish()
    if code != 0:
        raise RuntimeError(f"the uninterrupted reference run failed ({code}):\n{errors}")
    marks = sorted(watch.marks, key=lambda mark: mark[0])
    ref = Reference(out, lines, [sum(1 for t, k in marks if k[0] == "versions" and t <= at) for at, _ in watch.lines])
    spans: list[list] = []  # [phase, opening mark, start, end]
    for n, ((at, key), (end, _)) in enumerate(zip(marks, marks[1:])):
        past = [k for _, k in marks[:n + 1]]
        phase = phase_of(lines[:sum(k[0] == "line" for k in past)], sum(k[0] == "versions" for k in past),
                         ("session",) in past, ref)
        if spans and spans[-1][0] == phase:
            spans[-1][3] = end
        else:
            spans.append([phase, key, at, end])
    for phase, key, start, end in spans:
        ref.windows.setdefault(phase, []).append((key, end - start))
    return ref


@contextmanager
def checkpoint_copy(out: Path) -> Iterator[sqlite3.Connection]:
    """Open a copy of the checkpoint (with its WAL), so that reading it cannot change what the resume finds."""
    with tempfile.TemporaryDirectory() as scratch:
        for suffix in ("", "-wal", "-shm"):
            if (out / f"session.sqlite{suffix}").exists():
                shutil.copy2(out / f"session.sqlite{suffix}", Path(scratch) / f"session.sqlite{suffix}")
        connection = sqlite3.connect(Path(scratch) / "session.sqlite", check_same_thread=False)
        try:
            yield connection
        finally:
            connection.close()


def integrity(out: Path) -> tuple[list[str], list[str], list[str]]:
    """Check every file in `out`; return (corrupt or half-written files, temporaries, SQLite problems)."""
    import imageio_ffmpeg
    from PIL import Image

    corrupt, temporary, database = [], [], []
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        name = str(path.relative_to(out))
        try:
            if TEMPORARY.fullmatch(path.name):
                temporary.append(name)
            elif path.suffix == ".png":
                with Image.open(path) as image:
                    image.verify()
            elif path.suffix == ".json":
                json.loads(path.read_text(encoding="utf-8"))
            elif path.suffix == ".csv":
                assert list(csv.reader(path.read_text(encoding="utf-8").splitlines())), "no rows"
            elif path.suffix == ".pdf":
                data = path.read_bytes()
                assert data.startswith(b"%PDF") and b"%%EOF" in data[-1024:], "no %PDF header or no %%EOF"
            elif path.suffix == ".mp4":
                assert imageio_ffmpeg.count_frames_and_secs(str(path))[0] > 0, "no frames"
            elif path.name == "session.sqlite":
                with checkpoint_copy(out) as connection:
                    verdict = connection.execute("PRAGMA integrity_check").fetchone()[0]
                database += [] if verdict == "ok" else [f"integrity_check: {verdict}"]
        except sqlite3.Error as error:
            database.append(f"{name}: {error}")
        except Exception as error:  # whatever the reader raised, the file is unusable
            corrupt.append(f"{name}: {type(error).__name__} {error}".strip())
    return corrupt, temporary, database


def picks(out: Path) -> tuple[set[tuple[str, str, int]], list[str]]:
    """Return the picks the checkpoint holds, as (frame id, render key, candidate), and any error reading it."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    from graphs.state import Storyboard
    from graphs.storyboard import compile_graph, serializer

    try:
        thread = json.loads((out / "session.json").read_text())["thread_id"]
    except (OSError, ValueError, KeyError):
        return set(), []  # killed before the session began: nothing can have been picked
    try:
        with checkpoint_copy(out) as connection:
            graph = compile_graph(SqliteSaver(connection, serde=serializer()))
            values = graph.get_state({"configurable": {"thread_id": thread}}).values
    except Exception as error:  # a checkpoint that cannot be read back is what this suite looks for
        return set(), [f"reading the checkpoint: {type(error).__name__}: {error}"]
    frames = Storyboard.model_validate(values).frames if values else []
    return {(f.id, key, k) for f in frames for key, k in f.picks.items()}, []


def result_of(out: Path) -> dict[str, bytes]:
    """What must match the reference: storyboard.json, the shot list, every shot image and the version names."""
    files = {name: (out / name).read_bytes() for name in ("storyboard.json", "shot_list.csv") if (out / name).exists()}
    files |= {f"frames/{p.name}": p.read_bytes() for p in sorted((out / "frames").glob("shot_*.png"))}
    return files | {"versions": "\n".join(p.name for p in finished_versions(out)).encode()}


@dataclass
class Trial:
    """What one kill and its recovery did."""

    aimed: str
    landed: str = "not killed"
    moment: str = ""
    restarted: bool = False
    resume_runs: int = 0
    resumed: bool = False
    versions_checked: int = 0
    rerendered: int = 0
    picks_checked: int = 0
    picks_lost: int = 0
    corrupt: list[str] = field(default_factory=list)
    temporaries: int = 0
    swept: int = 0
    left: int = 0
    sqlite: list[str] = field(default_factory=list)
    equal: bool = False
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def stamp(path: Path) -> tuple[int, bytes] | None:
    """A file's modification time and bytes, or None when it is gone: any change means it was written again."""
    return (path.stat().st_mtime_ns, path.read_bytes()) if path.exists() else None


def describe(key: tuple, ref: Reference) -> str:
    if key[0] == "line":
        return f'line {key[1] + 1} "{ref.lines[key[1]][:40]}"'
    return f"version file {key[1]}" if key[0] == "versions" else "session.json"


def kill_and_resume(turns: Path, out: Path, ref: Reference, aimed: str, rng: random.Random) -> Trial:
    """Kill one run inside `aimed`, check what it left, resume it until it finishes, compare with the reference."""
    trial, started = Trial(aimed), time.monotonic()
    for attempt in range(4):  # a run can finish before its moment comes; then aim earlier
        shutil.rmtree(out, ignore_errors=True)
        key, length = rng.choice(ref.windows[aimed])
        delay = rng.random() * length / (attempt + 1)
        watch = Watch(turns, out)
        while key not in watch.look() and watch.process.poll() is None:
            time.sleep(0.002)
        time.sleep(delay)
        killed = watch.process.poll() is None
        watch.kill()
        lines = watch.finish()[1]
        trial.moment = f"{delay:.3f} s after {describe(key, ref)}"
        if killed:
            break
    else:
        trial.notes.append("the run finished before every moment chosen")
        return trial
    trial.landed = phase_of(lines, len(finished_versions(out)), (out / "session.json").exists(), ref)
    # A render job is finished once all its candidates are on disk; one cut off between them is drawn again whole.
    jobs = Counter(p.name.rsplit("-", 1)[0] for p in finished_versions(out))
    before = {p: stamp(p) for p in finished_versions(out) if jobs[p.name.rsplit("-", 1)[0]] == CANDIDATES}
    held, trouble = picks(out)
    trial.corrupt, temporaries, database = integrity(out)
    trial.versions_checked, trial.picks_checked, trial.temporaries = len(before), len(held), len(temporaries)
    trial.sqlite = database + trouble
    resume = True
    for _ in range(3):
        trial.resume_runs += 1
        code, lines, errors = Watch(turns, out, resume=resume).finish()
        trial.sqlite += [line for line in errors.splitlines() if SQLITE_TROUBLE.search(line)]
        if resume and code == 2 and ("no session to resume" in errors or "never started" in errors):
            trial.restarted, resume = True, False  # killed before the first checkpoint: start it again
        elif code == 0 and "Traceback" not in errors:
            trial.resumed = True
            break
        else:
            trial.notes.append(f"resume exited {code}: {errors.strip()[-300:]}")
    trial.rerendered = sum(stamp(path) != was for path, was in before.items())
    after, trouble = picks(out)
    corrupt, left, database = integrity(out)
    trial.picks_lost, trial.corrupt = len(held - after), trial.corrupt + corrupt
    trial.sqlite += trouble + database
    trial.left, trial.swept = len(left), len(set(temporaries) - set(left))
    trial.equal = trial.resumed and result_of(out) == result_of(ref.out) and after == picks(ref.out)[0]
    trial.seconds = time.monotonic() - started
    return trial


@dataclass
class Figures:
    """The suite's totals; `goals_met` says whether every figure is at its goal."""

    trials: list[Trial]
    wall: float = 0.0

    def total(self, name: str) -> int:
        return sum(len(v) if isinstance(v := getattr(t, name), list) else int(v) for t in self.trials)

    @property
    def aimed(self) -> Counter:
        return Counter(t.aimed for t in self.trials)

    @property
    def landed(self) -> Counter:
        return Counter(t.landed for t in self.trials)

    def goals_met(self) -> bool:
        return (self.total("resumed") == self.total("equal") == len(self.trials)
                and not any(self.total(n) for n in ("rerendered", "picks_lost", "corrupt", "left", "sqlite")))

    def table(self) -> str:
        kills, aimed, landed = len(self.trials), self.aimed, self.landed
        rows = [("kills: aimed at / landed in", f"{kills}", ""),
                *[(f"  {p}", f"{aimed[p]} / {landed[p]}", "") for p in [*PHASES, *sorted(set(landed) - set(PHASES))]],
                ("killed before the first checkpoint; started again", self.total("restarted"), ""),
                ("resumed and finished", f"{self.total('resumed')} of {kills}", kills),
                ("resume runs", self.total("resume_runs"), ""),
                ("finished version files on disk at a kill", self.total("versions_checked"), ""),
                ("finished frames re-rendered", self.total("rerendered"), 0),
                ("picks in the checkpoint at a kill", self.total("picks_checked"), ""),
                ("picks lost", self.total("picks_lost"), 0),
                ("corrupt or half-written files", self.total("corrupt"), 0),
                ("temporary files found after a kill", self.total("temporaries"), ""),
                ("temporary files swept on resume", self.total("swept"), ""),
                ("temporary files left after resume", self.total("left"), 0),
                ("SQLite checkpoint errors", self.total("sqlite"), 0),
                ("final result equal to an uninterrupted run", f"{self.total('equal')} of {kills}", kills),
                ("wall time", f"{self.wall:.1f} s", "")]
        width = max(len(name) for name, _, _ in rows)
        lines = [f"{'figure':<{width}}  {'value':>8}  goal", "-" * (width + 16)]
        lines += [f"{name:<{width}}  {value!s:>8}  {goal}" for name, value, goal in rows]
        lines.append(f"goals: {'met' if self.goals_met() else 'MISSED'}")
        return "\n".join(lines + [f"kill {i}: aimed at {t.aimed}, {t.moment}; landed in {t.landed} ({t.seconds:.0f} s)"
                                  + "".join(f"; {n}" for n in t.notes + t.corrupt + t.sqlite)
                                  for i, t in enumerate(self.trials, 1)])


def run_chaos(kills: int = 20, seed: int = 0, work_dir: Path | None = None, jobs: int | None = None,
              models: dict[str, Path] | None = None) -> Figures:
    """Play the reference, then kill and resume `kills` runs, `jobs` at a time (default: one per core, 2 to 4).

    `models` maps the library's [model] keys (base, clip, sam, sam_type, inpaint) to tiny models already built;
    without it they are built under the work folder, which is removed afterwards unless `work_dir` is given.
    """
    started = time.monotonic()
    work = Path(work_dir or tempfile.mkdtemp(prefix="shotsmith-chaos-"))
    turns = build_project(work, models)
    ref = reference_run(turns, work / "reference")
    missing = [phase for phase in PHASES if phase not in ref.windows]
    if missing:
        raise RuntimeError(f"the reference run never showed {', '.join(missing)}; transcript:\n" + "\n".join(ref.lines))
    rng = random.Random(seed)
    aims = [(PHASES[i % len(PHASES)], random.Random(rng.random())) for i in range(kills)]
    with ThreadPoolExecutor(max_workers=jobs or min(4, max(2, os.cpu_count() or 2))) as pool:
        trials = list(pool.map(lambda i: kill_and_resume(turns, work / f"kill-{i + 1:02d}", ref, *aims[i]),
                               range(kills)))
    if work_dir is None:
        shutil.rmtree(work, ignore_errors=True)
    return Figures(trials, time.monotonic() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20, help="runs to kill (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="seed for choosing the moments (default 0)")
    parser.add_argument("--keep", type=Path, help="work folder to keep; tiny models built there are reused")
    parser.add_argument("--jobs", type=int, help="kills run side by side (default: one per core, 2 to 4)")
    args = parser.parse_args(argv)
    figures = run_chaos(args.kills, args.seed, args.keep, args.jobs)
    print(figures.table())
    return 0 if figures.goals_met() else 1


if __name__ == "__main__":
    sys.exit(main())
