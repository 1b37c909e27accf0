"""Memory: the peak with the base model, the inpainting model, CLIP and SAM all resident and each used once.

The four are loaded one after another through the product's own classes (DiffusionRenderer,
Inpainter with a dedicated inpainting checkpoint, ClipCritic, Segmenter) into one hub, as a bot
holds them, and each is then used once: a frame of 4 candidates with a shot and a character LoRA,
a repair of 2 candidates, the CLIP scores of the 4 candidates, and a SAM box mask. On CUDA the
figures are torch's allocated bytes (resident after each load, then the peak); on a CPU they are
the process's resident set (VmRSS, then the high-water mark VmHWM). Target: at most 8 GB of GPU
memory in float16 for SD 1.5 + its inpainting model + CLIP ViT-L/14 + SAM ViT-B.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from bench.harness import PROMPT, Table, build_models, options, verdict

GB = 1024 ** 3
TARGET_GB = 8.0


def used(device: str) -> float:
    """Return the memory in use now, in bytes: allocated on the GPU, else the process's resident set."""
    import torch

    if device == "cuda":
        torch.cuda.synchronize()
        return float(torch.cuda.memory_allocated())
    return _status("VmRSS")


def peak(device: str) -> float:
    """Return the most memory used so far, in bytes."""
    import torch

    if device == "cuda":
        torch.cuda.synchronize()
        return float(torch.cuda.max_memory_allocated())
    return _status("VmHWM")


def _status(field: str) -> float:
    """Read one kB figure from /proc/self/status (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return float(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field}; the CPU memory benchmark needs Linux")


class Steps:
    """Adds a table row per step: memory in use and added since the step before, and the peak so far."""

    def __init__(self, table: Table, device: str):
        self.table, self.device = table, device
        self.start = self.before = used(device)

    def __call__(self, name: str) -> None:
        now = used(self.device)
        self.table.add(name, (now - self.start) / GB, (now - self.before) / GB, peak(self.device) / GB, "", "")
        self.before = now


def load_each(step: Steps, hub, spec, inpainter, critic, segmenter, size: int):
    """Load the four models one after another, a row after each; return the frame SAM was shown."""
    from PIL import Image

    from tools.models.hub import GPU_LOCK

    with GPU_LOCK:
        hub.pipeline(spec)
    step("base SD pipeline loaded")
    with GPU_LOCK:
        inpainter.pipeline()
    step("inpainting pipeline loaded")
    critic.text_embeddings(["warm"])
    step("CLIP loaded")
    frame = Image.new("RGB", (size, size), (90, 110, 140))
    segmenter.box_mask(frame, (4, 4, size // 2, size // 2))
    step("SAM loaded (one box)")
    return frame


def use_each(step: Steps, models, renderer, inpainter, critic, frame, opts) -> None:
    """Render 4 candidates with two LoRAs, inpaint 2 repairs of one and score the 4, a row after each."""
    from PIL import Image

    from tools.repair.inpaint import InpaintJob
    from tools.render.job import Adapter, RenderJob

    size = opts.size
    token, (word, character) = next(iter(models.characters.items()))
    adapters = (Adapter("shot_close_up", str(models.shots["close_up"]), 1.0),
                Adapter(f"char_{token}", str(character), 1.0))
    images = renderer.render(RenderJob(prompt=PROMPT, negative_prompt="blurry", shot_type="close_up", seed=7,
                                       width=size, height=size, candidates=4, steps=opts.steps,
                                       adapters=adapters)).images
    step("4 candidates rendered")
    mask = Image.new("L", frame.size, 0)
    mask.paste(255, (size // 4, size // 4, size * 3 // 4, size * 3 // 4))
    inpainter.inpaint(InpaintJob(image=images[0], mask=mask, prompt=PROMPT, negative_prompt="blurry", seed=9,
                                 candidates=2, steps=opts.steps, adapters=adapters))
    step("2 repair candidates inpainted")
    critic.scores(images, PROMPT)
    step("4 candidates scored by CLIP")


def main(argv: list[str] | None = None) -> int:
    opts, _ = options(__doc__.splitlines()[0], argv)
    from tools.critique import ClipCritic
    from tools.render.diffusion import DiffusionRenderer
    from tools.models.hub import ModelHub, ModelSpec
    from tools.repair.inpaint import Inpainter
    from tools.repair.segment import Segmenter, sam_config

    table = Table("memory", "base + inpainting + CLIP + SAM resident, then each used once", opts,
                  ("step", "in use GB", "added GB", "peak so far GB", "target GB", "verdict"))
    on_gpu = opts.device == "cuda"
    with tempfile.TemporaryDirectory(prefix="shotsmith-bench-") as tmp:
        models = build_models(Path(tmp), opts.full_size)
        hub = ModelHub()
        spec = ModelSpec(base=str(models.base))
        renderer = DiffusionRenderer(spec, hub=hub)
        inpainter = Inpainter(spec, str(models.inpaint), hub=hub)
        critic = ClipCritic(str(models.clip), hub=hub)
        segmenter = Segmenter(str(models.sam), sam_config(models.sam_type), hub=hub)
        step = Steps(table, opts.device)
        frame = load_each(step, hub, spec, inpainter, critic, segmenter, opts.size)
        use_each(step, models, renderer, inpainter, critic, frame, opts)
        top = peak(opts.device)
    baseline = 0.0 if on_gpu else step.start  # the CPU figures include the interpreter and libraries
    table.add("**peak, all four resident**", (top - baseline) / GB, "", top / GB, TARGET_GB,
              verdict((top - baseline) / GB, TARGET_GB, applies=on_gpu and opts.full_size))
    table.notes.append("in use / added: against the moment before the first load; peak so far: "
                       + ("torch.cuda.max_memory_allocated" if on_gpu else "the process's VmHWM, which also counts "
                          "Python, torch and the libraries (about the first row's 'peak so far')"))
    if not (on_gpu and opts.full_size):
        table.notes.append("the 8 GB target is for the full-size models in float16 on a GPU (--full-size on cuda)")
    table.show()
    return 0


if __name__ == "__main__":
    sys.exit(main())
