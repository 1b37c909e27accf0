"""Candidates: a frame's 4 candidates drawn in one batched call against 4 calls of one image each.

Both ways go through the product's DiffusionRenderer with one shot LoRA and one character LoRA
switched on; the sequential way renders candidate k as its own one-image job from seed k, which is
the image the batched call makes for that slot. Target: the batched call makes images at least
1.3x as fast as the sequential calls, on a GPU.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from bench.harness import PROMPT, Table, build_models, compiled, median, options, verdict

COUNT = 4
TARGET = 1.3


def main(argv: list[str] | None = None) -> int:
    opts, _ = options(__doc__.splitlines()[0], argv)
    from tools.render.diffusion import DiffusionRenderer
    from tools.models.hub import ModelHub, ModelSpec
    from tools.render.job import Adapter, RenderJob

    table = Table("candidates", f"{COUNT} candidates in one batched call against {COUNT} one-image calls", opts,
                  ("mode", "batched s", "sequential s", "batched images/s", "sequential images/s",
                   "speed-up", "target", "verdict"))
    with tempfile.TemporaryDirectory(prefix="shotsmith-bench-") as tmp:
        models = build_models(Path(tmp), opts.full_size, ("base",))
        token, (word, character) = next(iter(models.characters.items()))
        adapters = (Adapter("shot_close_up", str(models.shots["close_up"]), 1.0),
                    Adapter(f"char_{token}", str(character), 1.0))
        job = RenderJob(prompt=PROMPT, negative_prompt="blurry", shot_type="close_up", seed=7, width=opts.size,
                        height=opts.size, candidates=COUNT, steps=opts.steps, adapters=adapters)
        singles = [RenderJob(prompt=PROMPT, negative_prompt="blurry", shot_type="close_up", seed=seed,
                             width=opts.size, height=opts.size, candidates=1, steps=opts.steps, adapters=adapters)
                   for seed in job.seeds()]
        for mode in opts.modes():
            renderer = DiffusionRenderer(ModelSpec(base=str(models.base)), hub=ModelHub())
            if mode == "compiled":
                from tools.models.hub import GPU_LOCK

                with GPU_LOCK:
                    compiled(renderer.hub.pipeline(renderer.model))
            renderer.render(job)  # warm-up: loads the pipeline and both LoRAs, compiles the batch-4 shapes
            renderer.render(singles[0])  # and the one-image shapes
            batched = median(lambda: renderer.render(job))
            sequential = median(lambda: [renderer.render(single) for single in singles])
            speed_up = sequential / batched
            table.add(mode, batched, sequential, COUNT / batched, COUNT / sequential, speed_up,
                      f">= {TARGET}", verdict(speed_up, TARGET, at_most=False, applies=opts.device == "cuda"))
    table.notes.append("speed-up = batched images per second / sequential images per second; each time is the "
                       "median of 3 after a warm-up")
    if opts.device != "cuda":
        table.notes.append("the target is set for a GPU, where one call keeps the device busier; tiny models on a "
                           "CPU show the cost of the calls themselves")
    table.show()
    return 0


if __name__ == "__main__":
    sys.exit(main())
