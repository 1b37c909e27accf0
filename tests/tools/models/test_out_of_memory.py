"""Running out of GPU memory, simulated on the tiny real SD pipeline: the UNet raises torch.OutOfMemoryError.

The renderer first draws fewer candidates per call, then switches on attention slicing, then stops
with one clear line; a storyboard session keeps the frames finished before and carries on later.
Every test loads its own hub, so switching on attention slicing never reaches other tests.
"""

from __future__ import annotations

from pathlib import Path

import diffusers
import numpy as np
import pytest
import torch
from diffusers.models.attention_processor import SlicedAttnProcessor
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from agent.cli.app import app
from agent.scenes.scene_file import load_scene
from agent.session import Session
from graphs.context import Context
from graphs.events import FrameDrawn
from graphs.frames.rendering import job_key
from graphs.planning.planner import RulesPlanner
from graphs.state import Settings
from tools.errors import Cancelled, MachineError, OutOfMemory
from tools.models.hub import GPU_LOCK, Loaded, ModelHub, ModelSpec
from tools.models.memory import SLICING, SPLIT, message
from tools.render.diffusion import DiffusionRenderer
from tools.render.job import RenderJob
from tools.repair.inpaint import Inpainter, InpaintJob

ROOT = Path(__file__).resolve().parents[3]
SCENE_FILE = ROOT / "examples" / "investigation.toml"


def job(**changes) -> RenderJob:
    values = dict(prompt="Close-up of kaitoyosuke man in a kitchen, soft daylight.", negative_prompt="blurry",
                  shot_type="close_up", seed=11, width=64, height=64, steps=2, candidates=1)
    return RenderJob(**{**values, **changes})


def pixels(result) -> list[np.ndarray]:
    return [np.asarray(image).astype(int) for image in result.images]


def sliced(pipe) -> bool:
    """Tell whether the UNet's attention really runs in slices."""
    return any(isinstance(p, SlicedAttnProcessor) for p in pipe.unet.attn_processors.values())


class Fault:
    """Makes a pipeline's UNet raise torch.OutOfMemoryError, as a full GPU would, while `full(batch, sliced)`."""

    def __init__(self, monkeypatch, pipe, full):
        self.pipe, self.full, self.raised = pipe, full, 0
        forward = pipe.unet.forward

        def fake(sample, *args, **kwargs):
            batch = sample.shape[0] // 2  # classifier-free guidance doubles the batch
            if self.full is not None and self.full(batch, sliced(pipe)):
                self.raised += 1
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
            return forward(sample, *args, **kwargs)
        monkeypatch.setattr(pipe.unet, "forward", fake)

    def clear(self) -> None:
        self.full = None


@pytest.fixture
def calls(monkeypatch):
    """Record the seeds of every pipeline call (text-to-image and inpainting)."""
    seen: list[list[int]] = []
    for cls in (diffusers.StableDiffusionPipeline, diffusers.StableDiffusionInpaintPipeline):
        def call(self, *args, _original=cls.__call__, **kwargs):
            seen.append([g.initial_seed() for g in kwargs["generator"]])
            return _original(self, *args, **kwargs)
        monkeypatch.setattr(cls, "__call__", call)
    return seen


@pytest.fixture(scope="module")
def shared_hub() -> ModelHub:
    """One hub for the tests that never switch slicing on, so the pipeline is loaded once for them."""
    return ModelHub()


@pytest.fixture
def renderer(tiny_sd, shared_hub):
    """A renderer whose pipeline must come out of the test without attention slicing."""
    return DiffusionRenderer(ModelSpec(base=str(tiny_sd)), hub=shared_hub)


@pytest.fixture
def own_renderer(tiny_sd):
    """A renderer with a hub of its own, for tests that switch attention slicing on."""
    return DiffusionRenderer(ModelSpec(base=str(tiny_sd)), hub=ModelHub())


def loaded(renderer):
    with GPU_LOCK:
        return renderer.hub.pipeline(renderer.model)


def test_a_batch_too_big_is_split_and_gives_the_same_candidates(renderer, calls, monkeypatch):
    whole = renderer.render(job(candidates=3))
    fault = Fault(monkeypatch, loaded(renderer).pipe, lambda batch, sliced: batch > 1)
    calls.clear()
    seen = []
    result = renderer.render(job(candidates=3), lambda step, steps: seen.append(step))
    assert calls == [[11, 12, 13], [11, 12], [11], [12], [13]]
    assert fault.raised == 2 and result.seeds == whole.seeds == [11, 12, 13]
    for split, batched in zip(pixels(result), pixels(whole), strict=True):
        assert np.abs(split - batched).max() <= 1  # batch-size rounding only, as for any candidate drawn alone
        assert np.abs(split - batched).mean() < 0.05
    assert result.info["memory_fallback"] == SPLIT and "3 candidates" in result.info["memory_notice"]
    assert {k: v for k, v in result.info.items() if not k.startswith("memory_")} == whole.info
    assert seen == [1, 2] * 3, "each smaller call reports its own steps"
    assert not loaded(renderer).slicing and not sliced(loaded(renderer).pipe)
    assert "memory_fallback" not in whole.info


def test_the_render_key_ignores_how_memory_was_saved(renderer, monkeypatch):
    before = job_key(job(candidates=2), renderer)
    Fault(monkeypatch, loaded(renderer).pipe, lambda batch, sliced: batch > 1)
    assert renderer.render(job(candidates=2)).info["memory_fallback"] == SPLIT
    assert job_key(job(candidates=2), renderer) == before


def test_cancel_during_a_split_stops_the_remaining_parts(renderer, calls, monkeypatch):
    Fault(monkeypatch, loaded(renderer).pipe, lambda batch, sliced: batch > 1)
    steps = []

    def progress(step, total):
        steps.append(step)
        if len(steps) == 3:  # first step of the second one-image call
            renderer.cancel()
    with pytest.raises(Cancelled):
        renderer.render(job(candidates=3), progress)
    assert calls == [[11, 12, 13], [11, 12], [11], [12]]
    calls.clear()
    assert len(renderer.render(job()).images) == 1 and calls == [[11]]


def test_one_image_that_does_not_fit_switches_on_slicing_for_good(own_renderer, calls, monkeypatch):
    renderer = own_renderer
    whole = renderer.render(job(candidates=2))
    fault = Fault(monkeypatch, loaded(renderer).pipe, lambda batch, sliced: not sliced)
    calls.clear()
    result = renderer.render(job(candidates=2))
    assert calls == [[11, 12], [11], [11], [12]]
    assert fault.raised == 2 and len(result.images) == 2
    assert result.info["memory_fallback"] == SLICING and "attention slicing" in result.info["memory_notice"]
    assert loaded(renderer).slicing and sliced(loaded(renderer).pipe)
    for with_slices, batched in zip(pixels(result), pixels(whole), strict=True):
        assert np.abs(with_slices - batched).max() <= 1
    calls.clear()
    again = renderer.render(job(candidates=2, seed=40))
    assert calls == [[40, 41]] and fault.raised == 2, "slicing stays on: the next frame fits in one call"
    assert "memory_fallback" not in again.info


def test_no_way_to_fit_gives_one_clear_line_and_the_renderer_still_works(own_renderer, calls, monkeypatch):
    renderer = own_renderer
    fault = Fault(monkeypatch, loaded(renderer).pipe, lambda batch, sliced: True)
    with pytest.raises(OutOfMemory) as caught:
        renderer.render(job(candidates=2))
    error = caught.value
    assert isinstance(error, MachineError) and error.__cause__ is None and error.__context__ is None
    assert "\n" not in str(error)
    assert str(error).startswith("the GPU ran out of memory drawing a 64x64 frame, even one image at a time with "
                                 "attention slicing; expected a smaller --width/--height, fewer --candidates")
    assert 'memory = "offload"' in str(error)
    assert calls == [[11, 12], [11], [11]] and fault.raised == 3
    fault.clear()
    result = renderer.render(job(candidates=2))
    assert len(result.images) == 2
    assert "memory_fallback" not in result.info


def test_offload_is_not_suggested_when_already_on():
    offloaded = Loaded(pipe=None, family="sd15", device="cuda", dtype="float16", memory="offload")
    assert message(offloaded, "drawing a 512x512 frame") == (
        "the GPU ran out of memory drawing a 512x512 frame, even one image at a time with attention slicing; "
        "expected a smaller --width/--height, fewer --candidates")


def test_memory_slicing_in_the_library_goes_straight_to_the_error(tiny_sd, calls, monkeypatch):
    renderer = DiffusionRenderer(ModelSpec(base=str(tiny_sd), memory="slicing"), hub=ModelHub())
    assert loaded(renderer).slicing and sliced(loaded(renderer).pipe)
    Fault(monkeypatch, loaded(renderer).pipe, lambda batch, sliced: True)
    with pytest.raises(OutOfMemory):
        renderer.render(job())
    assert calls == [[11]]


# --- inpainting ------------------------------------------------------------------------------------


def inpaint_job(**changes) -> InpaintJob:
    frame = Image.fromarray(np.random.default_rng(5).integers(0, 256, (48, 64, 3), dtype=np.uint8), "RGB")
    mask = Image.new("L", (64, 48), 0)
    ImageDraw.Draw(mask).rectangle([16, 8, 47, 39], fill=255)
    values = dict(image=frame, mask=mask, prompt="kaitoyosuke man at the window", negative_prompt="blurry",
                  seed=21, steps=2, candidates=2)
    return InpaintJob(**{**values, **changes})


def test_inpainting_splits_then_stops_with_one_line(tiny_sd, calls, monkeypatch):
    inpainter = Inpainter(ModelSpec(base=str(tiny_sd)), hub=ModelHub())
    whole = inpainter.inpaint(inpaint_job())
    with GPU_LOCK:
        pipe = inpainter.pipeline().pipe
    fault = Fault(monkeypatch, pipe, lambda batch, sliced: batch > 1)
    calls.clear()
    result = inpainter.inpaint(inpaint_job())
    assert calls == [[21, 22], [21], [22]]
    assert len(result.images) == 2 and result.seeds == [21, 22]
    assert result.info["memory_fallback"] == SPLIT
    # the first candidate is the batch's own; later ones start their noise further along their seed
    assert np.abs(np.asarray(result.images[0], int) - np.asarray(whole.images[0], int)).max() <= 1
    kept = np.asarray(inpaint_job().mask) == 0
    for image in result.images:
        assert np.array_equal(np.asarray(image)[kept], np.asarray(inpaint_job().image)[kept])

    fault.full = lambda batch, sliced: True
    with pytest.raises(OutOfMemory, match="^the GPU ran out of memory inpainting a 64x48 frame, even one image"):
        inpainter.inpaint(inpaint_job())
    fault.clear()
    assert len(inpainter.inpaint(inpaint_job(candidates=1)).images) == 1


# --- a storyboard session ---------------------------------------------------------------------------


class ThirdFrameFault:
    """Makes the pipeline run out of memory on every call for the third prompt it is asked to draw."""

    def __init__(self, monkeypatch):
        self.prompts: list[str] = []
        self.on = True
        original = diffusers.StableDiffusionPipeline.__call__

        def call(pipe, *args, **kwargs):
            if kwargs["prompt"] not in self.prompts:
                self.prompts.append(kwargs["prompt"])
            if self.on and self.prompts.index(kwargs["prompt"]) == 2:
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
            return original(pipe, *args, **kwargs)
        monkeypatch.setattr(diffusers.StableDiffusionPipeline, "__call__", call)


def versions(out: Path) -> list[str]:
    return sorted(p.name for p in (out / "frames" / "versions").glob("*.png"))


def test_a_session_keeps_finished_frames_and_carries_on(tiny_sd, tmp_path, monkeypatch):
    out = tmp_path / "out"
    context = Context(planner=RulesPlanner(), renderer=DiffusionRenderer(ModelSpec(base=str(tiny_sd)), hub=ModelHub()))
    scene = load_scene(SCENE_FILE, {"frames": 4})
    fault = ThirdFrameFault(monkeypatch)
    session = Session.create(out, context)
    events = []
    with pytest.raises(OutOfMemory, match="^the GPU ran out of memory drawing a 64x64 frame"):
        events.extend(session.start(scene, Settings(width=64, height=64, steps=2)))
    assert [e.frame for e in events if isinstance(e, FrameDrawn)] == [0, 1]
    finished = {name: (out / "frames" / "versions" / name).read_bytes() for name in versions(out)}
    assert len(finished) == 2
    assert session.unfinished()
    session.close()

    fault.on = False
    again = Session.reopen(out, context)
    try:
        events = list(again.carry_on())
        assert [(e.frame, e.status) for e in events if isinstance(e, FrameDrawn)] == \
            [(0, "reused"), (1, "reused"), (2, "rendered"), (3, "rendered")]
        assert again.waiting() and not again.unfinished()
        assert len(versions(out)) == 4 and len(list((out / "frames").glob("shot_*.png"))) == 4
        assert all((out / "frames" / "versions" / n).read_bytes() == data for n, data in finished.items())
    finally:
        again.close()


def test_the_cli_says_it_in_one_line_and_resume_finishes(tiny_sd, tmp_path, monkeypatch):
    import agent.config

    hub = ModelHub()

    class OwnHub(DiffusionRenderer):  # keeps slicing, once switched on, away from the process's shared hub
        def __init__(self, model, base_negative=None):
            super().__init__(model, base_negative, hub=hub)
    monkeypatch.setattr(agent.config, "DiffusionRenderer", OwnHub)
    (tmp_path / "library.toml").write_text(f'[model]\nbase = "{tiny_sd}"\n', encoding="utf-8")
    scene = tmp_path / "scene.toml"
    scene.write_text(SCENE_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    fault = ThirdFrameFault(monkeypatch)
    runner = CliRunner()
    fast = ["--renderer", "diffusers", "--steps", "2", "--width", "64", "--height", "64", "--frames", "3"]
    result = runner.invoke(app, ["run", str(scene), "--out", str(tmp_path / "out"), *fast])
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: the GPU ran out of memory drawing a 64x64 frame"), lines
    assert lines[0].endswith("(frames finished before this stay on disk; fix it and run again with --resume)")
    assert len(versions(tmp_path / "out")) == 2
    fault.on = False
    result = runner.invoke(app, ["run", str(scene), "--out", str(tmp_path / "out"), *fast, "--resume"])
    assert result.exit_code == 0, result.output
    assert "1 rendered, 2 reused" in result.stdout
