"""Time `shotsmith run` end to end on tiny random models: 8 frames x 2 candidates at 64x64 on the CPU.

The acceptance line this checks: "with tiny models, an 8-frame x 2-candidate storyboard at 64x64
renders on this 2-core machine in under 60 s". Everything is built offline in a temporary folder:
a tiny SD 1.5 diffusers folder, one LoRA per shot type the scene uses (detail inserts take none),
one LoRA per character, and a library.toml naming them. The real command then runs in a child
process, as a person would type it, so each time covers interpreter start, imports, model and LoRA
loading, planning, rendering and writing the storyboard.

    .venv/bin/python bench/render_tiny.py [--scene examples/chase.toml] [--keep]

Two runs are timed: one leaving --steps out (the CLI default, 25) and one passing --steps 25.
The script prints one line per run and exits 1 if a storyboard is not 8 frames x 2 candidates
drawn by the diffusers renderer. It asserts nothing about time; bench/RESULTS.md keeps the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # tools.* and the tests' tiny_models

FRAMES, CANDIDATES, SIZE, BUDGET_S = 8, 2, 64, 60.0


def shotsmith() -> str:
    """Return the installed `shotsmith` command of this interpreter's environment."""
    beside = Path(sys.executable).parent / "shotsmith"
    found = str(beside) if beside.exists() else shutil.which("shotsmith")
    if not found:
        sys.exit("shotsmith command not found; install the project (pip install -e .) first")
    return found


def planned(scene: Path, env: dict) -> dict:
    """Return the scene's plan from `shotsmith plan` (not timed), to learn its shot types and cast."""
    text = subprocess.run([shotsmith(), "plan", str(scene)], env=env, check=True, capture_output=True,
                          text=True).stdout
    return json.loads(text)


def build_library(folder: Path, scene: Path, env: dict) -> Path:
    """Write the tiny model, its LoRAs and library.toml under `folder`; return the manifest path."""
    from tiny_models import write_lora, write_sd_folder

    from tools.models.hub import quiet_libraries

    quiet_libraries()  # no shard-writing progress bars in the benchmark's output
    plan = planned(scene, env)
    frames, cast = plan["frames"], plan["characters"]
    if len(frames) != FRAMES:
        sys.exit(f"{scene}: plans {len(frames)} frames; expected a scene of {FRAMES}")
    write_sd_folder(folder / "model")
    lines = ['[model]', 'base = "model"', '', '[shots]']
    shots = sorted({f["shot_type"] for f in frames} - {"detail"})
    for seed, slug in enumerate(shots, start=1):
        write_lora(folder / "loras" / f"{slug}.safetensors", seed)
        lines.append(f'{slug} = "loras/{slug}.safetensors"')
    for seed, person in enumerate(cast, start=100):
        path = write_lora(folder / "loras" / f"{person['name']}.safetensors", seed, layout="kohya")
        lines += ["", f"[characters.{person['name']}]", f'class = "{person["class"]}"',
                  f'lora = "loras/{path.name}"']
    manifest = folder / "library.toml"
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"library: {len(shots)} shot LoRAs ({', '.join(shots)}), {len(cast)} character LoRAs "
          f"({', '.join(p['name'] for p in cast)})")
    return manifest


def count(out: Path) -> dict:
    """Count what a finished run left: frames, candidates per frame, renderer, steps, images on disk."""
    document = json.loads((out / "storyboard.json").read_text(encoding="utf-8"))
    frames = document["frames"]
    renders = [[v for v in f["versions"] if v["kind"] == "render"] for f in frames]
    versions = [v for per_frame in renders for v in per_frame]
    images = [out / v["path"] for v in versions]
    sizes = set()
    for path in images:
        if path.is_file():
            with Image.open(path) as image:
                sizes.add(image.size)
    return {"frames": len(frames), "candidates": sorted({len(r) for r in renders}),
            "renderer": document["renderer"], "renderers": sorted({v["renderer"] for v in versions}),
            "steps": sorted({v["steps"] for v in versions if v["steps"] is not None}),
            "images": sum(p.is_file() for p in images), "expected_images": len(images), "sizes": sorted(sizes)}


def complete(facts: dict) -> bool:
    """Tell whether a run drew every frame's candidates with the diffusers renderer."""
    return (facts["frames"] == FRAMES and facts["candidates"] == [CANDIDATES] and facts["renderer"] == "diffusers"
            and facts["renderers"] == ["diffusers"] and facts["images"] == FRAMES * CANDIDATES
            and facts["expected_images"] == FRAMES * CANDIDATES and facts["sizes"] == [(SIZE, SIZE)])


def timed_run(label: str, scene: Path, manifest: Path, out: Path, extra: list[str], env: dict) -> bool:
    """Run the command once, wall clock from process start to exit; print the line; return completeness."""
    command = [shotsmith(), "run", str(scene), "--library", str(manifest), "--renderer", "diffusers",
               "--candidates", str(CANDIDATES), "--width", str(SIZE), "--height", str(SIZE), "--out", str(out),
               *extra]
    load = os.getloadavg()[0]  # other work on the machine inflates the time; the line says how busy it was
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        print(f"{label}: exit {done.returncode} after {seconds:.1f} s\n{done.stdout}{done.stderr}")
        return False
    facts = count(out)
    print(f"{label}: {seconds:.1f} s = {seconds / BUDGET_S:.2f} of {BUDGET_S:.0f} s budget "
          f"({facts['frames']} frames x {'/'.join(map(str, facts['candidates']))} candidates, "
          f"{facts['images']} images on disk sized {'/'.join(f'{w}x{h}' for w, h in facts['sizes'])}, "
          f"renderer {facts['renderer']}, steps {facts['steps']}; load average {load:.1f} at start)")
    return complete(facts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scene", type=Path, default=ROOT / "examples" / "chase.toml",
                        help="a scene of 8 frames (default: examples/chase.toml, 2 characters)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and print its path")
    args = parser.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")}
    folder = Path(tempfile.mkdtemp(prefix="shotsmith-bench-"))
    try:
        manifest = build_library(folder, args.scene.resolve(), env)
        print(f"scene: {args.scene}; {os.cpu_count()} CPU cores; {FRAMES} frames x {CANDIDATES} candidates "
              f"at {SIZE}x{SIZE}")
        runs = [("tiny 8x2 @64, default steps (25)", []), ("tiny 8x2 @64, --steps 25", ["--steps", "25"])]
        ok = [timed_run(label, args.scene.resolve(), manifest, folder / f"out{i}", extra, env)
              for i, (label, extra) in enumerate(runs)]
    finally:
        if args.keep:
            print(f"kept: {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    if not all(ok):
        print("incomplete storyboard: expected 8 frames x 2 candidates drawn by the diffusers renderer")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
