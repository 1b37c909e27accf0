"""Switching LoRAs per frame calls peft only when the frame wants something other than what is set."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tools.render.diffusion import DiffusionRenderer
from tools.models.hub import GPU_LOCK, ModelHub, ModelSpec
from tools.repair.inpaint import Inpainter, InpaintJob
from tools.render.job import Adapter, RenderJob


@pytest.fixture
def loras(tmp_path):
    from tiny_models import write_lora

    return [write_lora(tmp_path / f"lora{seed}.safetensors", seed) for seed in (1, 2)]


def job(adapters: tuple[Adapter, ...]) -> RenderJob:
    return RenderJob(prompt="close up of a person", negative_prompt="blurry", shot_type="close_up", seed=3,
                     width=64, height=64, candidates=1, steps=2, adapters=adapters)


def pixels(result) -> np.ndarray:
    return np.asarray(result.images[0], dtype=np.int16)


def spy(pipe, names: tuple[str, ...]) -> list[str]:
    """Record every call of the pipeline's named methods (the real methods still run)."""
    calls: list[str] = []
    for name in names:
        real = getattr(pipe, name)

        def counted(*args, _real=real, _name=name, **kwargs):
            calls.append(_name)
            return _real(*args, **kwargs)
        setattr(pipe, name, counted)
    return calls


def test_peft_is_called_only_when_the_wanted_adapters_change(tiny_sd, loras):
    renderer = DiffusionRenderer(ModelSpec(base=str(tiny_sd)), hub=ModelHub())
    a = (Adapter("shot_close_up", str(loras[0]), 1.0),)
    b = (Adapter("shot_close_up", str(loras[0]), 0.5), Adapter("char_x", str(loras[1]), 0.8))
    renderer.render(job(b))  # loads both files
    first = pixels(renderer.render(job(a)))
    with GPU_LOCK:
        calls = spy(renderer.hub.pipeline(renderer.model).pipe, ("enable_lora", "disable_lora", "set_adapters"))
    assert (pixels(renderer.render(job(a))) == first).all()
    assert calls == []  # the same adapters at the same weights: nothing to switch
    renderer.render(job(b))
    assert calls == ["set_adapters"]  # LoRAs were on: no enable_lora
    renderer.render(job(()))
    renderer.render(job(()))
    assert calls == ["set_adapters", "disable_lora"]
    again = pixels(renderer.render(job(a)))
    assert calls == ["set_adapters", "disable_lora", "enable_lora", "set_adapters"]
    assert (again == first).all()


def test_a_repair_on_the_base_modules_does_not_leave_its_adapters_on_for_the_next_frame(tiny_sd, loras):
    hub = ModelHub()
    spec = ModelSpec(base=str(tiny_sd))
    renderer = DiffusionRenderer(spec, hub=hub)
    inpainter = Inpainter(spec, hub=hub)  # no inpainting checkpoint: it shares the base UNet and its LoRAs
    a = (Adapter("shot_close_up", str(loras[0]), 1.0),)
    b = (Adapter("char_x", str(loras[1]), 1.0),)
    first = renderer.render(job(a))
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    inpainter.inpaint(InpaintJob(image=first.images[0], mask=mask, prompt="close up of a person",
                                 negative_prompt="blurry", seed=5, steps=2, adapters=b))
    assert (pixels(renderer.render(job(a))) == pixels(first)).all()
    without_b_loaded = DiffusionRenderer(spec, hub=ModelHub())
    assert (pixels(without_b_loaded.render(job(a))) == pixels(first)).all()
