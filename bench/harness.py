"""The benchmark harness: options, the models measured, a clock, and the table each benchmark prints.

CPU runs use the tests' tiny random models (64x64 frames); `--full-size` builds the real SD 1.5,
SD 1.5 inpainting, CLIP ViT-L/14 and SAM ViT-B architectures with random weights instead (speed
depends on shapes, not on what the weights learned), in float16 on a GPU. Everything is written
to a temporary folder and loaded through the product's own classes, so nothing is downloaded.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "tests") not in sys.path:
    sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # tools.* and the tests' model builders

RESULTS = ROOT / "bench" / "RESULTS.md"
NEWEST = "<!-- python -m bench NAME --record puts its table below this line -->"
NO_GPU = "_No GPU run exists yet: every table below was measured on a CPU with tiny models._"
SHOTS = ("close_up", "medium", "long", "extreme_close_up")
"""The four shot types the benchmarks draw, one LoRA each."""
CAST = (("kaitoyosuke", "man"), ("mirabelle", "woman"), ("oskarvane", "man"))
"""Three characters: token and class word, one LoRA each."""
PROMPT = "Close up of kaitoyosuke man in a grey coat reading a letter by the window, rain, night"


@dataclass(frozen=True)
class Options:
    """What the command line asked for, plus the sizes that follow from it."""

    device: str
    full_size: bool
    record: bool
    compile: bool
    """Also measure with the UNet and VAE under torch.compile (on by default for --full-size on CUDA)."""

    @property
    def size(self) -> int:
        return 512 if self.full_size else 64

    @property
    def steps(self) -> int:
        return 25 if self.full_size else 10

    @property
    def models(self) -> str:
        return "full-size, random weights" if self.full_size else "tiny, random weights"

    def modes(self) -> list[str]:
        """Return "eager", then "compiled" when torch.compile is to be measured too."""
        return ["eager", "compiled"] if self.compile else ["eager"]


def options(description: str, argv: list[str] | None = None,
            more: Callable[[argparse.ArgumentParser], None] | None = None) -> tuple[Options, argparse.Namespace]:
    """Read the common options (and any a script adds with `more`); pin the device before torch is imported."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=description)
    parser.add_argument("--device", choices=("cpu", "cuda"), default=None,
                        help="where the models run (default: cuda when a GPU is present, else cpu)")
    parser.add_argument("--full-size", action="store_true",
                        help="real SD 1.5 / CLIP ViT-L/14 / SAM ViT-B shapes with random weights (slow on a CPU)")
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                        help="also time torch.compile (default: on with --full-size on cuda)")
    parser.add_argument("--record", action="store_true", help="also put the table at the top of bench/RESULTS.md")
    if more is not None:
        more(parser)
    args = parser.parse_args(argv)
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # the product picks cuda whenever it sees one
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        parser.exit(2, "error: --device cuda: no CUDA GPU is visible to torch; expected a machine with one, "
                       "or --device cpu\n")
    compile_too = args.compile if args.compile is not None else (args.full_size and device == "cuda")
    return Options(device, args.full_size, args.record, compile_too), args


# ---------------------------------------------------------------- models

ALL = ("base", "inpaint", "clip", "sam")


@dataclass
class Models:
    """Paths of everything a benchmark may load, written once into one folder (None: not built)."""

    folder: Path
    base: Path | None = None
    inpaint: Path | None = None
    clip: Path | None = None
    sam: Path | None = None
    sam_type: str = ""
    """A SAM preset name ("vit_b") or the JSON file of the tiny SAM's sizes."""
    shots: dict[str, Path] = field(default_factory=dict)
    characters: dict[str, tuple[str, Path]] = field(default_factory=dict)
    """Token -> (class word, LoRA file)."""

    def library(self) -> Path:
        """Write library.toml naming every model built and every LoRA; return its path."""
        lines = ["[model]", f'base = "{self.base}"']
        lines += [f'{key} = "{getattr(self, key)}"' for key in ("inpaint", "clip", "sam") if getattr(self, key)]
        lines += [f'sam_type = "{self.sam_type}"'] if self.sam else []
        lines += ["", "[shots]"] + [f'{slug} = "{path}"' for slug, path in self.shots.items()]
        for token, (word, path) in self.characters.items():
            lines += ["", f"[characters.{token}]", f'class = "{word}"', f'lora = "{path}"']
        manifest = self.folder / "library.toml"
        manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return manifest


def build_models(folder: Path, full_size: bool, parts: tuple[str, ...] = ALL) -> Models:
    """Write the models named in `parts` under `folder`; with "base", also 4 shot and 3 character LoRAs.

    Full-size models take a minute or more each to build and gigabytes of disk, so each benchmark
    asks only for what it loads.
    """
    from tools.models.hub import quiet_libraries

    quiet_libraries()
    folder.mkdir(parents=True, exist_ok=True)
    models = Models(folder=folder)
    loras = (write_full_size if full_size else write_tiny)(models, parts)
    if loras:
        models.shots = dict(zip(SHOTS, loras))
        models.characters = {token: (word, path) for (token, word), path in zip(CAST, loras[len(SHOTS):])}
    return models


def write_full_size(models: Models, parts: tuple[str, ...]) -> list[Path]:
    """Write the full-size models named in `parts` into models.folder; return the LoRA files (with "base")."""
    from full_models import (full_size_loras, write_full_size_clip, write_full_size_inpaint, write_full_size_sam,
                             write_full_size_sd)

    folder, loras = models.folder, []
    if "base" in parts:
        models.base, _ = write_full_size_sd(folder, loras=len(SHOTS) + len(CAST))
        loras = full_size_loras(folder)
    models.inpaint = write_full_size_inpaint(folder) if "inpaint" in parts else None
    models.clip = write_full_size_clip(folder) if "clip" in parts else None
    if "sam" in parts:
        models.sam, models.sam_type = write_full_size_sam(folder), "vit_b"
    return loras


def write_tiny(models: Models, parts: tuple[str, ...]) -> list[Path]:
    """Write the tests' tiny models named in `parts` into models.folder; return the LoRA files (with "base")."""
    from tiny_inpaint import write_inpaint_folder
    from tiny_models import write_clip_folder, write_lora, write_sd_folder
    from tiny_sam import write_tiny_sam

    folder, loras = models.folder, []
    if "base" in parts:
        models.base = write_sd_folder(folder / "sd")
        loras = [write_lora(folder / "loras" / f"lora-{seed}.safetensors", seed)
                 for seed in range(1, len(SHOTS) + len(CAST) + 1)]
    models.inpaint = write_inpaint_folder(folder / "inpaint") if "inpaint" in parts else None
    models.clip = write_clip_folder(folder / "clip") if "clip" in parts else None
    if "sam" in parts:
        models.sam, sizes = write_tiny_sam(folder / "sam", "safetensors")
        models.sam_type = str(sizes)
    return loras


def compiled(loaded) -> None:
    """Put a resident pipeline's UNet and VAE decoder under torch.compile (the first calls then compile).

    Inductor's default mode, without fullgraph: peft's LoRA layers may break the graph, and
    max-autotune's search would take most of a benchmark's time budget.
    """
    import torch

    pipe = loaded.pipe
    pipe.unet.to(memory_format=torch.channels_last)
    pipe.unet = torch.compile(pipe.unet)
    pipe.vae.decode = torch.compile(pipe.vae.decode)


# ---------------------------------------------------------------- time

def sync() -> None:
    """Wait for queued GPU work, so a clock read after it counts that work."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def seconds(call: Callable[[], object]) -> float:
    """Return the wall time of one call, GPU work included."""
    sync()
    start = time.perf_counter()
    call()
    sync()
    return time.perf_counter() - start


def median(call: Callable[[], object], repeats: int = 3) -> float:
    """Return the median wall time of `repeats` calls (warm the call up first)."""
    return statistics.median(seconds(call) for _ in range(repeats))


# ---------------------------------------------------------------- tables

def device_name(device: str) -> str:
    """Return a readable name for the device: the GPU's name, or the CPU's with its core count."""
    import torch

    if device == "cuda":
        return torch.cuda.get_device_name()
    return f"CPU {platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def versions() -> str:
    import diffusers
    import torch
    import transformers

    return (f"python {platform.python_version()}, torch {torch.__version__}, diffusers {diffusers.__version__}, "
            f"transformers {transformers.__version__}")


@dataclass
class Table:
    """One benchmark's result: a title, the facts it ran under, and rows of measured cells."""

    name: str
    title: str
    options: Options
    columns: tuple[str, ...]
    rows: list[tuple] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        self.rows.append(tuple(cells))

    def markdown(self) -> str:
        """Return the table as Markdown: a heading with date and device, a facts line, the rows, the notes."""
        today = datetime.date.today().isoformat()
        lines = [f"### {self.name}: {self.title}", "",
                 f"{today} · {device_name(self.options.device)} ({self.options.device}) · {self.options.models} · "
                 f"{self.options.size}x{self.options.size}, {self.options.steps} steps · {versions()}", "",
                 "| " + " | ".join(self.columns) + " |", "|" + "---|" * len(self.columns)]
        lines += ["| " + " | ".join(cell_text(c) for c in row) + " |" for row in self.rows]
        if self.notes:
            lines += [""] + [f"- {note}" for note in self.notes]
        return "\n".join(lines) + "\n"

    def show(self) -> None:
        """Print the table; with --record, also put it at the top of bench/RESULTS.md."""
        text = self.markdown()
        print(text)
        if self.options.record:
            RESULTS.write_text(newest_first(RESULTS.read_text(encoding="utf-8"), text, self.options.device),
                               encoding="utf-8")
            print(f"recorded in {RESULTS}")


def cell_text(cell: object) -> str:
    if isinstance(cell, float):
        return f"{cell:.3g}" if abs(cell) < 1000 else f"{cell:.0f}"
    return str(cell)


def newest_first(results: str, table: str, device: str) -> str:
    """Return RESULTS.md's text with `table` right under the marker line; a GPU table drops the no-GPU note."""
    lines = results.splitlines()
    if NEWEST not in lines:
        lines += ["", NEWEST]
    at = lines.index(NEWEST) + 1
    lines[at:at] = [""] + table.rstrip("\n").splitlines()
    if device == "cuda" and NO_GPU in lines:
        gone = lines.index(NO_GPU)
        del lines[gone:gone + 2 if gone + 1 < len(lines) and not lines[gone + 1] else gone + 1]
    return "\n".join(lines) + "\n"


def ratio(part: float, whole: float) -> float:
    return part / whole if whole else float("inf")


def verdict(value: float, target: float, at_most: bool = True, applies: bool = True) -> str:
    """Return "met" or "missed" for a ratio against its target, or "GPU target" where it does not apply."""
    if not applies:
        return "GPU target"
    met = value <= target if at_most else value >= target
    return "met" if met else "missed"
