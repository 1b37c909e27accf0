"""Overhead: a whole storyboard run against the time spent inside model calls; the rest is orchestration.

The run is the one `shotsmith run --renderer diffusers --candidates 4` makes, in this process: a
scene of 8 frames with the benchmark cast, planned by rules, rendered, scored by CLIP and written
out as the sheet, storyboard.json and the PDF. Model time is the wall time inside the diffusers
pipelines' calls, CLIP's encoding and SAM's predictor, with the GPU synchronised at each edge;
everything else is orchestration: the graph and its checkpoints, loading and switching LoRAs, image
files, the sheet and PDF (the last three timed apart). The first run starts with nothing loaded; the
second goes into a fresh folder with the models resident, as a bot serves its next scene.
Target: orchestration at most 3 % of model time, on a GPU.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import CAST, Table, build_models, compiled, options, sync, verdict

FRAMES, CANDIDATES = 8, 4
SHOT_NUMBERS = (2, 4, 7, 1, 2, 4, 7, 1)
"""close_up, medium, long, extreme_close_up twice: every frame has a shot LoRA of the benchmark models."""
TARGET = 0.03


def prepare(folder: Path, full_size: bool) -> tuple[Path, Path]:
    """Build the models and write library.toml (no critique retries: every run draws exactly 8 x 4) and an
    8-frame scene file with the benchmark cast; return both paths."""
    library = build_models(folder / "models", full_size).library()
    with library.open("a", encoding="utf-8") as handle:
        handle.write("\n[critique]\nretries = 0\n")
    lines = ['title = "Benchmark scene"',
             f'description = """{CAST[0][0]} opens the door of a dark flat. {CAST[1][0]} waits at the table with '
             f'a letter. {CAST[2][0]} watches from the window. They read the letter together."""',
             f"shots = [{', '.join(str(n) for n in SHOT_NUMBERS)}]", 'style = "cinematic still"']
    for token, word in CAST:
        lines += ["", "[[characters]]", f'name = "{token}"', f'class = "{word}"']
    scene = folder / "scene.toml"
    scene.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return library, scene


def make_run(library: Path, scene: Path):
    """Return a fresh Context (renderer, CLIP critic, empty caches) over the process's resident models."""
    from agent.config import make_context, read_library
    from agent.scenes.scene_file import load_scene

    story = load_scene(scene)
    return story, make_context(planner="rules", renderer="diffusers", library=read_library(library, scene, story))


def run_storyboard(library: Path, scene: Path, out: Path, size: int, steps: int) -> float:
    """Plan, render, score and publish into `out` as `shotsmith run` does; return the wall seconds (or raise
    RuntimeError when the storyboard is not 8 frames drawn by diffusers)."""
    from agent.session import Session
    from graphs.events import Problem
    from graphs.state import Settings

    sync()
    start = time.perf_counter()
    story, choice = make_run(library, scene)
    settings = Settings(width=size, height=size, steps=steps, candidates=CANDIDATES)
    session = Session.create(out, choice.context)
    errors = [event for event in session.start(story, settings) if isinstance(event, Problem)]
    state = session.state()
    session.close()
    sync()
    took = time.perf_counter() - start
    if errors or len(state.frames) != FRAMES or state.renderer != "diffusers":
        raise RuntimeError(f"storyboard in {out}: {len(state.frames)} frames by {state.renderer!r}, "
                           f"errors {errors}; expected {FRAMES} frames by diffusers")
    return took


def compile_and_warm(library: Path, scene: Path, out: Path, size: int, steps: int) -> None:
    """Put the resident pipeline's UNet and VAE under torch.compile, then run the storyboard once, untimed,
    so every shape and LoRA combination it meets is compiled before a timed run."""
    from tools.models.hub import GPU_LOCK, HUB

    _, choice = make_run(library, scene)
    with GPU_LOCK:
        compiled(HUB.pipeline(choice.context.renderer.model))
    run_storyboard(library, scene, out, size, steps)


class Clock:
    """Wall seconds per kind of work, each counted once: time inside a nested timed call goes to the inner kind."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}
        self._open: list[list] = []  # [kind, since] of the timed calls under way, innermost last
        self._undo: list[tuple] = []

    def wrap(self, owner: object, attribute: str, kind: str) -> None:
        """Replace owner.attribute with a version whose time counts as `kind`, until restore()."""
        original = owner.__dict__[attribute]

        def timed(*args, **kwargs):
            self._switch(kind)
            try:
                return original(*args, **kwargs)
            finally:
                self._switch(None)
        setattr(owner, attribute, timed)
        self._undo.append((owner, attribute, original))

    def restore(self) -> None:
        for owner, attribute, original in reversed(self._undo):
            setattr(owner, attribute, original)
        self._undo.clear()

    def _switch(self, kind: str | None) -> None:
        """Credit the innermost open call up to now, then open a call of `kind`, or close the innermost (None)."""
        sync()
        now = time.perf_counter()
        if self._open:
            self.totals[self._open[-1][0]] = self.totals.get(self._open[-1][0], 0.0) + now - self._open[-1][1]
        if kind is not None:
            self._open.append([kind, now])
            return
        self._open.pop()
        if self._open:
            self._open[-1][1] = now  # the outer call runs on from here


def start_clock() -> Clock:
    """Time model calls, model and LoRA loading, image files, and the sheet and PDF; restore() undoes it."""
    from diffusers import StableDiffusionInpaintPipeline, StableDiffusionPipeline

    import graphs.nodes
    import graphs.frames.scoring
    import tools.files.atomic
    import tools.render.diffusion
    from tools.critique import ClipCritic
    from tools.models.hub import ModelHub

    clock = Clock()
    for pipeline in (StableDiffusionPipeline, StableDiffusionInpaintPipeline):
        clock.wrap(pipeline, "__call__", "model")
    clock.wrap(ClipCritic, "_encode", "model")
    if importlib.util.find_spec("segment_anything") is not None:
        from segment_anything import SamPredictor

        clock.wrap(SamPredictor, "set_image", "model")
        clock.wrap(SamPredictor, "predict", "model")
    clock.wrap(ModelHub, "resident", "loading")  # only a first use reads weights; later ones are a dict look-up
    clock.wrap(tools.render.diffusion, "ensure_loaded", "loading")
    clock.wrap(tools.files.atomic, "write_pngs", "files")  # a frame's candidates, encoded side by side, fsynced
    clock.wrap(tools.files.atomic, "write_png", "files")  # single images: the sheet's PNG goes under "sheet"
    clock.wrap(tools.files.atomic, "copy_if_changed", "files")
    clock.wrap(graphs.frames.scoring, "open_rgb", "files")  # CLIP reads the candidates back from disk
    clock.wrap(graphs.nodes, "write_grid", "sheet")
    clock.wrap(graphs.nodes, "write_exports", "sheet")
    return clock


def split(total: float, totals: dict[str, float]) -> tuple:
    """Return total, model, orchestration, loading, image file and sheet seconds, and the overhead ratio."""
    model = totals.get("model", 0.0)
    overhead = (total - model) / model if model else float("inf")
    return (total, model, total - model, *(totals.get(kind, 0.0) for kind in ("loading", "files", "sheet")),
            overhead)


def time_runs(table: Table, opts, runs: list[str], folder: Path) -> str | None:
    """Run and time one storyboard per label in `runs`, a row each; return why the compiled run failed, if it did."""
    library, scene = prepare(folder, opts.full_size)
    clock = start_clock()
    try:
        for number, label in enumerate(runs):
            try:
                if "compiled" in label:
                    compile_and_warm(library, scene, folder / "compile-warm-up", opts.size, opts.steps)
                clock.totals = {}
                cells = split(run_storyboard(library, scene, folder / f"run-{number}", opts.size,
                                             opts.steps), clock.totals)
            except Exception as error:  # a torch.compile failure is a finding: keep the eager rows, report it
                if "compiled" not in label:
                    raise
                table.add(label, *["-"] * 7, f"<= {TARGET}", "failed")
                return f"{type(error).__name__}: {(str(error).strip() or '?').splitlines()[0][:300]}"
            table.add(label, *cells, f"<= {TARGET}", verdict(cells[-1], TARGET, applies=opts.device == "cuda"))
    finally:
        clock.restore()
    return None


def main(argv: list[str] | None = None) -> int:
    opts, _ = options(__doc__.splitlines()[0], argv)
    table = Table("overhead", f"a {FRAMES}-frame x {CANDIDATES}-candidate storyboard against its model time", opts,
                  ("run", "total s", "model s", "orchestration s", "of which loading s", "of which image files s",
                   "of which sheet + PDF s", "overhead", "target", "verdict"))
    runs = ["cold: nothing loaded", "warm: models resident"]
    if "compiled" in opts.modes():
        runs.append("warm, UNet + VAE compiled")
    with tempfile.TemporaryDirectory(prefix="shotsmith-bench-") as tmp:
        failed = time_runs(table, opts, runs, Path(tmp))
    add_notes(table, opts, len(runs) > 2, failed)
    table.show()
    return 1 if failed else 0


def add_notes(table: Table, opts, compiled_run: bool, failed: str | None) -> None:
    """Say what each column counts, and what a compiled run or a CPU run means for the figures."""
    table.notes += [
        "model s: inside the SD pipelines' calls, CLIP's encoding and SAM's predictor (GPU synchronised at each edge); "
        "orchestration s = total - model s; overhead = orchestration / model",
        "loading (ModelHub.resident's first reads, LoRA loading) counts as orchestration and is most of the cold "
        "run's; image files = writing each candidate PNG (fsynced), copying the shots, reading them back for CLIP; "
        "sheet + PDF = write_grid and write_exports; the rest is the graph, its SQLite checkpoints, LoRA switching",
        f"library.toml sets [critique] retries = 0 so each run draws exactly {FRAMES} x {CANDIDATES} images; a plain "
        "run does no SAM or inpainting (only corrections do)",
    ]
    if compiled_run:
        table.notes.append("the compiled run follows an untimed run of the same storyboard, which compiles what it "
                           "meets")
    if opts.device != "cuda":
        table.notes.append("the target is for a GPU; on a CPU with tiny models the fixed costs of the graph and "
                           "files weigh far more")
    if failed:
        table.notes.append(f"the compiled run failed: {failed}")


if __name__ == "__main__":
    sys.exit(main())
