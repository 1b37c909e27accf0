"""Every benchmark runs on the tiny models and prints its table; no time is asserted anywhere.

Each script runs as a person would start it (`python -m bench NAME --device cpu`) in a child
process, so the device is pinned before torch starts and nothing it loads stays in the test process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import NAMES
from bench.harness import NEWEST, NO_GPU, newest_first

ROOT = Path(__file__).resolve().parents[2]


def bench(*argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "bench", *argv], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)


SHORT = {"checkpoint": ["--corrections", "12", "--long-board", "20"]}
"""Smaller sizes for benchmarks whose full run takes minutes; the table is the same shape."""


@pytest.mark.long
@pytest.mark.parametrize("name", list(NAMES))
def test_each_benchmark_prints_its_table(name: str) -> None:
    done = bench(name, "--device", "cpu", *SHORT.get(name, []))
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    heading = next(i for i, line in enumerate(lines) if line.startswith(f"### {name}: "))
    facts = lines[heading + 2]
    assert "(cpu)" in facts and "tiny, random weights" in facts and "torch " in facts and "diffusers " in facts
    header, rule, *rows = [line for line in lines[heading + 3:] if line.startswith("|")]
    assert set(rule) <= {"|", "-"}
    width = header.count("|")
    assert rows and all(row.count("|") == width for row in rows)
    cells = [cell.strip() for row in rows for cell in row.strip("|").split("|")]
    assert not any(cell in ("nan", "inf") for cell in cells), done.stdout


def test_an_unknown_benchmark_is_one_line_and_exit_2() -> None:
    done = bench("speed")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: unknown benchmark 'speed'; expected one of " + ", ".join(NAMES) + " or all"]


def test_cuda_without_a_gpu_is_refused_in_one_line() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present here")
    done = bench("sam", "--device", "cuda")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("error: --device cuda: no CUDA GPU")


def test_recorded_tables_go_newest_first_and_a_gpu_table_ends_the_no_gpu_note() -> None:
    text = f"# Results\n\n{NO_GPU}\n\n{NEWEST}\n\n### old: table\n"
    once = newest_first(text, "### cpu run: table\n", "cpu")
    assert NO_GPU in once
    assert once.index("### cpu run") < once.index("### old")
    twice = newest_first(once, "### gpu run: table\n", "cuda")
    assert NO_GPU not in twice
    assert twice.index("### gpu run") < twice.index("### cpu run") < twice.index("### old")
