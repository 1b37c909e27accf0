"""The diffusers renderer on a tiny real SDXL pipeline: family detection, batching, seeds, SDXL LoRAs, refusals."""

from __future__ import annotations

import numpy as np
import pytest
from peft.tuners.lora import LoraLayer
from tiny_models import write_lora, write_sdxl_folder, write_sdxl_lora

from tools.errors import LoraError
from tools.models.hub import GPU_LOCK, ModelHub, ModelSpec
from tools.render.diffusion import DiffusionRenderer
from tools.render.job import Adapter, RenderJob


@pytest.fixture(scope="session")
def tiny_sdxl(tmp_path_factory):
    """A tiny random SDXL pipeline saved as a diffusers folder (built once per test run)."""
    return write_sdxl_folder(tmp_path_factory.mktemp("tiny_sdxl") / "model")


@pytest.fixture
def renderer(tiny_sdxl):
    return DiffusionRenderer(ModelSpec(base=str(tiny_sdxl)), hub=ModelHub())


def job(**changes) -> RenderJob:
    values = dict(prompt="Close-up of kaitoyosuke man in a kitchen, soft daylight.", negative_prompt="blurry",
                  shot_type="close_up", seed=11, width=64, height=64, steps=2, candidates=2)
    return RenderJob(**{**values, **changes})


def pixels(result) -> list[np.ndarray]:
    return [np.asarray(image) for image in result.images]


def same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def active_weights(model) -> dict[str, float]:
    """Read the adapters switched on, and their weights, from the LoRA layers inside a model (those it holds)."""
    layers = [m for m in model.modules() if isinstance(m, LoraLayer)]
    if not layers or layers[0].disable_adapters:
        return {}
    seen = {tuple(sorted((n, round(m.scaling[n] * m.r[n] / m.lora_alpha[n], 4)) for n in m.active_adapters if n in m.r))
            for m in layers}
    assert len(seen) == 1, "every LoRA layer should agree"
    return dict(seen.pop())


def loaded(renderer):
    with GPU_LOCK:
        return renderer.hub.pipeline(renderer.model)


def test_an_sdxl_folder_renders_its_candidates_as_sdxl(renderer):
    result = renderer.render(job())
    images = pixels(result)
    assert [image.shape for image in images] == [(64, 64, 3)] * 2 and not np.array_equal(*images)
    assert result.seeds == [11, 12] and result.info["family"] == "sdxl"
    assert loaded(renderer).family == "sdxl" and type(loaded(renderer).pipe).__name__ == "StableDiffusionXLPipeline"
    assert same(pixels(renderer.render(job())), images)
    assert same(pixels(DiffusionRenderer(renderer.model, hub=ModelHub()).render(job())), images)


def test_sdxl_loras_in_both_layouts_load_and_follow_the_job(renderer, tmp_path):
    kohya = write_sdxl_lora(tmp_path / "kohya.safetensors", 1, layout="kohya")
    diffusers = write_sdxl_lora(tmp_path / "diffusers.safetensors", 1, layout="diffusers")
    other = write_sdxl_lora(tmp_path / "other.safetensors", 2, text_encoder_2=False)
    plain = pixels(renderer.render(job()))
    from_kohya = pixels(renderer.render(job(adapters=(Adapter("char_k", str(kohya), 1.0),))))
    pipe = loaded(renderer).pipe
    assert active_weights(pipe.unet) == {"char_k": 1.0} == active_weights(pipe.text_encoder_2)
    from_diffusers = pixels(renderer.render(job(adapters=(Adapter("char_d", str(diffusers), 1.0),))))
    assert not same(from_kohya, plain) and same(from_kohya, from_diffusers)  # the same weights, two layouts
    both = (Adapter("char_d", str(diffusers), 0.4), Adapter("shot_o", str(other), 0.9))
    mixed = pixels(renderer.render(job(adapters=both)))
    assert active_weights(pipe.unet) == {"char_d": 0.4, "shot_o": 0.9}
    assert active_weights(pipe.text_encoder_2) == {"char_d": 0.4}
    assert not same(mixed, from_diffusers) and same(pixels(renderer.render(job(adapters=both))), mixed)
    renderer.render(job())
    assert active_weights(pipe.unet) == {} == active_weights(pipe.text_encoder_2)
    assert set(loaded(renderer).adapters) == {"char_k", "char_d", "shot_o"}


@pytest.mark.parametrize("layout", ["diffusers", "kohya"])
def test_an_sd15_lora_is_refused_by_name(renderer, tmp_path, layout):
    path = write_lora(tmp_path / "sd15.safetensors", 3, layout=layout, cross_attention_dim=8)
    with pytest.raises(LoraError) as caught:
        renderer.render(job(adapters=(Adapter("char_old", str(path), 1.0),)))
    message = str(caught.value)
    assert str(path) in message and "the base model is SDXL" in message and "\n" not in message
    assert "char_old" not in loaded(renderer).adapters
    assert len(renderer.render(job()).images) == 2


def test_switching_a_lora_off_restores_the_base_model_exactly(renderer, tmp_path):
    pipe = loaded(renderer).pipe
    trainable = {n: p.requires_grad for n, p in pipe.unet.named_parameters()}
    before = pixels(renderer.render(job()))
    lora = write_sdxl_lora(tmp_path / "kohya.safetensors", 1, layout="kohya")
    renderer.render(job(adapters=(Adapter("char_k", str(lora), 1.0),)))
    after = pixels(renderer.render(job()))
    base = {n: p.requires_grad for n, p in pipe.unet.named_parameters() if n in trainable}  # not LoRA-wrapped
    assert base == {n: trainable[n] for n in base} and same(after, before)
