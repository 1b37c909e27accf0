"""What CLIP critique costs next to rendering: score 4 candidates, divide by the time to render them.

The acceptance line this checks: "scoring 4 candidates costs under 2 % of rendering them", with
full-size CLIP ViT-L/14 and SD 1.5 architectures on a GPU. Both are built from their configs with
random weights (tests/full_models.py), saved, and loaded through the product's own classes
(DiffusionRenderer, ClipCritic), so nothing is downloaded.

    .venv/bin/python bench/critique_cost.py                       # on a CUDA machine: 512x512, 25 steps
    .venv/bin/python bench/critique_cost.py --size 64 --steps 2   # a quick check of the code path anywhere

Each measurement is the median of three calls after one warm-up. Scoring starts from a critic with
an empty embedding cache each time (the model stays loaded), so every call embeds four new images
and one prompt. On CUDA the script writes a row into the scoring table in bench/RESULTS.md; elsewhere it
only prints.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # tools.* and the tests' model builders

RESULTS = ROOT / "bench" / "RESULTS.md"
COLUMNS = ("date", "device", "torch", "transformers", "resolution", "steps", "candidates", "render s", "score s",
           "ratio")
KEY = COLUMNS[1:7]
"""Columns that name a configuration: a new row replaces an older one that matches on all of them."""
NO_RUN = "_No GPU scoring run yet._"
PROMPT = "Close up of kaitoyosuke man in a grey coat reading a letter by the window, rain, night"


def timed(call, repeats: int = 3) -> float:
    import torch

    seconds = []
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        call()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def measure(args: argparse.Namespace) -> tuple[str, float, float]:
    """Build the full-size models, then time rendering the candidates and scoring them; return the device too."""
    from full_models import write_full_size_clip, write_full_size_sd

    from tools.critique import ClipCritic
    from tools.render.diffusion import DiffusionRenderer
    from tools.models.hub import ModelHub, ModelSpec, quiet_libraries
    from tools.render.job import Adapter, RenderJob

    quiet_libraries()
    hub = ModelHub()
    with tempfile.TemporaryDirectory() as tmp:
        model, lora = write_full_size_sd(Path(tmp))
        clip = write_full_size_clip(Path(tmp))
        renderer = DiffusionRenderer(ModelSpec(base=str(model)), hub=hub)
        job = RenderJob(prompt=PROMPT, negative_prompt="blurry", shot_type="close_up", seed=7, width=args.size,
                        height=args.size, candidates=args.candidates, steps=args.steps,
                        adapters=(Adapter("shot_close_up", str(lora), 1.0),))
        images = renderer.render(job).images  # warm-up: loads the pipeline and the LoRA
        ClipCritic(str(clip), hub=hub).scores(images, PROMPT)  # warm-up: loads CLIP
        render_s = timed(lambda: renderer.render(job))
        score_s = timed(lambda: ClipCritic(str(clip), hub=hub).scores(images, PROMPT))
    return renderer.device, render_s, score_s


def record(args: argparse.Namespace, render_s: float, score_s: float, ratio: float) -> None:
    """Write this configuration's row into the scoring table of bench/RESULTS.md."""
    import torch
    import transformers
    from results_table import record_row

    cells = [datetime.date.today().isoformat(), torch.cuda.get_device_name(), torch.__version__,
             transformers.__version__, f"{args.size}x{args.size}", args.steps, args.candidates,
             f"{render_s:.3f}", f"{score_s:.4f}", f"{ratio:.4f}"]
    text = record_row(RESULTS.read_text(encoding="utf-8"), COLUMNS, dict(zip(COLUMNS, cells)), KEY, NO_RUN)
    RESULTS.write_text(text, encoding="utf-8")
    print(f"row written to {RESULTS}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--candidates", type=int, default=4)
    args = parser.parse_args()
    device, render_s, score_s = measure(args)
    ratio = score_s / render_s
    print(f"device {device}: render {args.candidates} candidates at {args.size}x{args.size}, {args.steps} steps: "
          f"{render_s:.3f} s; score them with CLIP ViT-L/14: {score_s:.4f} s; ratio {ratio:.4f} "
          f"({ratio:.2%}; target under 2%)")
    if device == "cuda":
        record(args, render_s, score_s, ratio)


if __name__ == "__main__":
    main()
