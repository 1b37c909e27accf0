"""Adapters: switching LoRAs per frame with set_adapters against loading them again for every frame.

Twelve frames cycle through the 4 shot types, each with one or two of the 3 characters, so all 7
LoRAs take turns. The product loads every LoRA once and then only switches the frame's adapters on
at their weights (tools.models.loras.activate). The study's way removes every loaded LoRA and reads the
frame's files from disk again before switching them on. Targets: a switch costs at most 1/20 of a
reload, and at most 2 % of rendering one image.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

from bench.harness import CAST, SHOTS, Table, build_models, median, options, ratio, seconds, verdict

FRAMES = 12
TO_RELOAD = 0.05
TO_IMAGE = 0.02


def frames(library) -> list:
    """Return (shot type, prompt, adapters) for each frame: shot types in turn, one or two characters each."""
    from tools.models.adapters import adapters_for

    chosen = []
    for index in range(FRAMES):
        shot = SHOTS[index % len(SHOTS)]
        people = [CAST[index % len(CAST)]]
        if index % 2:
            people.append(CAST[(index + 1) % len(CAST)])
        names = " and ".join(f"{token} {word}" for token, word in people)
        prompt = f"{shot.replace('_', ' ')} shot of {names} on a rainy street at night"
        chosen.append((shot, prompt, adapters_for(library, shot, [token for token, _ in people])))
    return chosen


def unload(loaded) -> None:
    """Remove every LoRA from the pipeline, as the study did before each frame."""
    loaded.pipe.unload_lora_weights()
    loaded.adapters.clear()


def jobs_for(plan: list, opts) -> list:
    """Return one single-candidate RenderJob per planned frame, each from its own seed."""
    from tools.render.job import RenderJob

    return [RenderJob(prompt=prompt, negative_prompt="blurry", shot_type=shot, seed=7 + index,
                      width=opts.size, height=opts.size, candidates=1, steps=opts.steps, adapters=adapters)
            for index, (shot, prompt, adapters) in enumerate(plan)]


def time_both_ways(renderer, jobs: list, every: tuple) -> dict[str, float]:
    """Time switching against reloading, per frame and with rendering; the pipeline is loaded here."""
    from tools.models.hub import GPU_LOCK
    from tools.models.loras import activate, ensure_loaded

    with GPU_LOCK:
        loaded = renderer.hub.pipeline(renderer.model)

        def switching() -> list[float]:
            return [seconds(lambda: activate(loaded, job.adapters)) for job in jobs]

        def reloading() -> list[float]:
            def again(adapters) -> None:
                unload(loaded)
                ensure_loaded(loaded, adapters)
                activate(loaded, adapters)

            return [seconds(lambda: again(job.adapters)) for job in jobs]

        times = {"reload": passes(reloading)}
        unload(loaded)
        times["load all"] = seconds(lambda: ensure_loaded(loaded, every))
        times["switch"] = passes(switching)
        renderer.render(jobs[0])  # warm-up: first call of the pipeline at this size
        times["image"] = median(lambda: renderer.render(jobs[0]))
        times["with switching"] = median(lambda: [renderer.render(job) for job in jobs])
        times["with reloading"] = median(lambda: [(unload(loaded), renderer.render(job)) for job in jobs])
    return times


def passes(way) -> float:
    """Return the median over 3 passes of the summed per-frame times, after one pass to warm up."""
    way()
    return statistics.median(sum(way()) for _ in range(3))


def main(argv: list[str] | None = None) -> int:
    opts, _ = options(__doc__.splitlines()[0], argv)
    from tools.render.diffusion import DiffusionRenderer
    from tools.models.hub import ModelHub, ModelSpec
    from tools.models.library import load_library

    table = Table("adapters", f"per-frame set_adapters against reloading the LoRAs, {FRAMES} frames, "
                  f"{len(SHOTS)} shot types, {len(CAST)} characters", opts,
                  ("mode", "switch s/frame", "reload s/frame", "image s", f"{FRAMES} frames switching s",
                   f"{FRAMES} frames reloading s", "switch/reload", f"verdict (<= {TO_RELOAD})", "switch/image",
                   f"verdict (<= {TO_IMAGE})"))
    with tempfile.TemporaryDirectory(prefix="shotsmith-bench-") as tmp:
        models = build_models(Path(tmp), opts.full_size, ("base",))
        plan = frames(load_library(models.library()))
        every = tuple({a.name: a for _, _, adapters in plan for a in adapters}.values())
        renderer = DiffusionRenderer(ModelSpec(base=str(models.base)), hub=ModelHub())
        times = time_both_ways(renderer, jobs_for(plan, opts), every)
        switch, reload, image = times["switch"] / FRAMES, times["reload"] / FRAMES, times["image"]
        to_reload, to_image = ratio(switch, reload), ratio(switch, image)
        table.add("eager", switch, reload, image, times["with switching"], times["with reloading"], to_reload,
                  verdict(to_reload, TO_RELOAD), to_image,
                  verdict(to_image, TO_IMAGE, applies=opts.device == "cuda" or opts.full_size))
    add_notes(table, opts, len(every), times["load all"])
    table.show()
    return 0


def add_notes(table: Table, opts, count: int, load_all: float) -> None:
    """Say how each figure was measured, and why a target is not judged here."""
    table.notes += [
        f"switch = tools.models.loras.activate, as the product calls it per frame; reload = unload_lora_weights, read the "
        f"frame's files and load them again, then activate; both summed over the {FRAMES} frames (median of 3 "
        f"passes after one to warm up) and divided by {FRAMES}",
        f"loading all {count} LoRAs once, as the product does before the first frame: {load_all:.3g} s",
        "image = one render of 1 candidate (median of 3 after a warm-up); the two "
        f"{FRAMES}-frame columns render every frame, the product's way and the study's way (median of 3 passes)",
    ]
    if opts.device != "cuda" and not opts.full_size:
        table.notes.append("switch/image is not judged here: a tiny UNet has a quarter of SD 1.5's LoRA layers and "
                           "its 64x64 image on a CPU is no guide to a full-size one, so the target is judged on "
                           "full-size runs")
    if "compiled" in opts.modes():
        table.notes.append("no compiled row: switching adapters changes the UNet's LoRA layers between frames, "
                           "which makes torch.compile recompile, so this benchmark times the eager UNet only")


if __name__ == "__main__":
    sys.exit(main())
