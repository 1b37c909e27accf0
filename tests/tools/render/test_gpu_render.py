"""Per-image time of a full-size SD 1.5 render on a GPU, recorded in bench/RESULTS.md.

The GPU test builds the real SD 1.5 architecture (UNet, VAE, CLIP text encoder) from configs with
random weights, so nothing is downloaded; speed depends on shapes, not on what the weights learned.
It renders through the product path (DiffusionRenderer on a saved diffusers folder, with a rank-8
LoRA switched on by the job), warms up once, times the next calls and writes one table row.
Where no CUDA device is present the conftest skips it; the table-writing test runs everywhere.
"""

from __future__ import annotations

import datetime
import os
import statistics
import time
from pathlib import Path

import pytest
import results_table

RESULTS = Path(__file__).resolve().parents[3] / "bench" / "RESULTS.md"
COLUMNS = ("date", "device", "torch", "diffusers", "resolution", "steps", "scheduler", "candidates per call",
           "s / image", "it/s")
KEY = COLUMNS[1:8]
"""Columns that name a configuration: a new row replaces an older one that matches on all of them."""
HEADER = "| " + " | ".join(COLUMNS) + " |"
NO_RUN = "_No GPU run yet._"


def record_row(text: str, row: dict[str, str]) -> str:
    """Return the RESULTS.md text with `row` in the GPU render table."""
    return results_table.record_row(text, COLUMNS, row, KEY, NO_RUN)


def measure(model: Path, lora: Path, size: int = 512, steps: int = 25, candidates: int = 4, repeats: int = 3):
    """Render one warm-up call, then `repeats` timed calls; return the last result and a RESULTS.md row."""
    import diffusers
    import torch

    from tools.render.diffusion import DiffusionRenderer
    from tools.models.hub import ModelHub, ModelSpec
    from tools.render.job import Adapter, RenderJob

    renderer = DiffusionRenderer(ModelSpec(base=str(model)), hub=ModelHub())  # own hub: freed after the test
    job = RenderJob(prompt="Close up of a man in a grey coat, rain, night", negative_prompt="blurry",
                    shot_type="close_up", seed=7, width=size, height=size, candidates=candidates, steps=steps,
                    scheduler="dpm++", adapters=(Adapter("shot_close_up", str(lora), 1.0),))
    renderer.render(job)  # loads the pipeline and the LoRA, and warms the kernels
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = renderer.render(job)  # PIL output: the call returns only after the GPU has finished
        seconds.append(time.perf_counter() - start)
    per_call = statistics.median(seconds)
    device = result.info["device"]
    name = torch.cuda.get_device_name() if device == "cuda" else f"{device} ({os.cpu_count()} cores)"
    row = {"date": datetime.date.today().isoformat(), "device": name, "torch": torch.__version__,
           "diffusers": diffusers.__version__, "resolution": f"{size}x{size}", "steps": steps,
           "scheduler": job.scheduler, "candidates per call": candidates,
           "s / image": f"{per_call / candidates:.3f}", "it/s": f"{steps / per_call:.2f}"}
    return result, row


@pytest.mark.gpu
def test_full_size_sd15_render_time_is_recorded(tmp_path):
    from full_models import write_full_size_sd

    model, lora = write_full_size_sd(tmp_path)
    result, row = measure(model, lora, size=512, steps=25, candidates=4)
    assert result.info["device"] == "cuda" and result.info["dtype"] == "float16"
    assert result.info["adapters"] == {"shot_close_up": 1.0}
    assert [image.size for image in result.images] == [(512, 512)] * 4
    RESULTS.write_text(record_row(RESULTS.read_text(encoding="utf-8"), row), encoding="utf-8")
    assert "| " + " | ".join(str(row[c]) for c in COLUMNS) + " |" in RESULTS.read_text(encoding="utf-8")


def _row(steps: int = 25, seconds: str = "0.200") -> dict[str, str]:
    return {"date": "2026-11-23", "device": "NVIDIA H100 80GB HBM3", "torch": "2.15.0", "diffusers": "0.42.1",
            "resolution": "512x512", "steps": str(steps), "scheduler": "dpm++", "candidates per call": "4",
            "s / image": seconds, "it/s": "31.25"}


def test_record_row_fills_replaces_and_appends_in_the_gpu_table_only():
    text = f"# Results\n\n## GPU\n\n{NO_RUN}\n\n{HEADER}\n|{'---|' * len(COLUMNS)}\n\n## CPU\n\n| a | b |\n|---|---|\n"
    first = record_row(text, _row())
    assert NO_RUN not in first and first.count("| 2026-11-23 |") == 1
    again = record_row(first, _row(seconds="0.150"))
    assert "0.150" in again and "0.200" not in again and again.count("| 2026-11-23 |") == 1
    more = record_row(again, _row(steps=50))
    assert more.count("| 2026-11-23 |") == 2
    assert more.split("## CPU")[1] == text.split("## CPU")[1]
    table = more.splitlines()[more.splitlines().index(HEADER):]
    assert [line.startswith("|") for line in table[:5]] == [True, True, True, True, False]


def test_results_file_holds_the_gpu_table():
    assert HEADER in RESULTS.read_text(encoding="utf-8").splitlines()
