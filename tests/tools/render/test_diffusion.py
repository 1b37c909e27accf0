"""The diffusers renderer on a tiny real SD 1.5 pipeline: batching, seeds, LoRAs, progress, cancel, bad files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from peft.tuners.lora import LoraLayer
from tiny_models import write_lora, write_pickle_lora, write_sdxl_like_lora

from tools.errors import Cancelled, LibraryError, LoraError
from tools.models.hub import GPU_LOCK, HUB, ModelHub, ModelSpec
from tools.models.loras import read_lora
from tools.render.diffusion import DiffusionRenderer
from tools.render.job import Adapter, Figure, RenderJob


def job(**changes) -> RenderJob:
    values = dict(prompt="Close-up of kaitoyosuke man in a kitchen, soft daylight.", negative_prompt="blurry",
                  shot_type="close_up", seed=11, width=64, height=64, steps=2, candidates=1)
    return RenderJob(**{**values, **changes})


def pixels(result) -> list[np.ndarray]:
    return [np.asarray(image) for image in result.images]


def active_weights(pipe) -> dict[str, float]:
    """Read the adapters switched on, and their weights, from the LoRA layers inside the UNet."""
    layers = [m for m in pipe.unet.modules() if isinstance(m, LoraLayer)]
    if not layers or layers[0].disable_adapters:
        return {}
    seen = {tuple(sorted((n, round(m.scaling[n] * m.r[n] / m.lora_alpha[n], 4)) for n in m.active_adapters))
            for m in layers}
    assert len(seen) == 1, "every LoRA layer should agree"
    return dict(seen.pop())


@pytest.fixture
def renderer(tiny_sd):
    return DiffusionRenderer(ModelSpec(base=str(tiny_sd)))


def test_candidates_come_from_one_batched_call_with_their_own_seeds(renderer, monkeypatch):
    pipe = HUB.pipeline(renderer.model).pipe
    calls = []
    original = type(pipe).__call__
    monkeypatch.setattr(type(pipe), "__call__", lambda self, *a, **k: calls.append(k) or original(self, *a, **k))
    result = renderer.render(job(candidates=3))
    assert len(calls) == 1 and calls[0]["num_images_per_prompt"] == 3
    assert [g.initial_seed() for g in calls[0]["generator"]] == [11, 12, 13] == result.seeds
    images = pixels(result)
    assert len(images) == 3 and images[0].shape == (64, 64, 3)
    assert not np.array_equal(images[0], images[1]) and not np.array_equal(images[1], images[2])


def test_a_candidate_is_reproduced_from_its_seed(renderer):
    """The same batch gives the same bytes; alone, a candidate differs only by batch rounding (one level)."""
    batch = pixels(renderer.render(job(candidates=3)))
    assert all(np.array_equal(a, b) for a, b in zip(batch, pixels(renderer.render(job(candidates=3)))))
    alone = pixels(renderer.render(job(seed=12, candidates=1)))[0]
    assert np.abs(batch[1].astype(int) - alone.astype(int)).max() <= 1
    assert np.abs(batch[0].astype(int) - alone.astype(int)).mean() > 10


def test_the_hub_loads_a_checkpoint_once(tiny_sd):
    hub = ModelHub()
    first = DiffusionRenderer(ModelSpec(base=str(tiny_sd)), hub=hub)
    second = DiffusionRenderer(ModelSpec(base=str(tiny_sd)), hub=hub)
    first.render(job())
    second.render(job(seed=3))
    assert hub.loads == 1
    with GPU_LOCK:
        assert hub.pipeline(ModelSpec(base=str(tiny_sd))).device == "cpu"
        assert hub.pipeline(ModelSpec(base=str(tiny_sd))).dtype == "float32"


def test_single_file_checkpoint_draws_what_the_folder_draws(tiny_sd, tiny_sd_file, renderer):
    single = DiffusionRenderer(ModelSpec(base=str(tiny_sd_file), config=str(tiny_sd)), hub=ModelHub())
    assert np.array_equal(pixels(single.render(job()))[0], pixels(renderer.render(job()))[0])


def test_each_scheduler_name_gives_its_own_images(renderer):
    images = {name: pixels(renderer.render(job(scheduler=name, steps=3)))[0] for name in ("dpm++", "ddim", "euler_a")}
    assert not np.array_equal(images["dpm++"], images["ddim"])
    assert not np.array_equal(images["ddim"], images["euler_a"])
    assert np.array_equal(images["ddim"], pixels(renderer.render(job(scheduler="ddim", steps=3)))[0])
    with pytest.raises(ValueError, match="dpm\\+\\+, ddim, euler_a"):
        renderer.render(job(scheduler="plms"))


def test_adapters_are_switched_to_the_jobs_weights_and_off_again(renderer, tmp_path):
    shot = write_lora(tmp_path / "close_up.safetensors", 1)
    person = write_lora(tmp_path / "kaito.safetensors", 2, layout="kohya")
    adapters = (Adapter("shot_close_up", str(shot), 1.0), Adapter("char_kaitoyosuke", str(person), 0.85))
    plain = pixels(renderer.render(job()))[0]
    with_loras = pixels(renderer.render(job(adapters=adapters)))[0]
    pipe = HUB.pipeline(renderer.model).pipe
    assert active_weights(pipe) == {"shot_close_up": 1.0, "char_kaitoyosuke": 0.85}
    lighter = pixels(renderer.render(job(adapters=(adapters[0], Adapter("char_kaitoyosuke", str(person), 0.3)))))[0]
    assert active_weights(pipe) == {"shot_close_up": 1.0, "char_kaitoyosuke": 0.3}
    assert not np.array_equal(with_loras, plain) and not np.array_equal(with_loras, lighter)
    assert np.array_equal(pixels(renderer.render(job()))[0], plain)
    assert active_weights(pipe) == {}


def test_base_negative_replaces_the_jobs_base_and_keeps_the_shot_terms(tiny_sd):
    renderer = DiffusionRenderer(ModelSpec(base=str(tiny_sd)), base_negative="lowres, jpeg artifacts")
    negative = renderer.negative_for(job(shot_type="full"))
    assert negative.startswith("lowres, jpeg artifacts, ") and "missing feet" in negative
    assert DiffusionRenderer(ModelSpec(base=str(tiny_sd))).negative_for(job()) == "blurry"


def test_progress_reaches_the_caller_every_step(renderer):
    seen = []
    renderer.render(job(steps=4, candidates=2), lambda step, steps: seen.append((step, steps)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_cancel_stops_between_steps_and_the_next_render_runs(renderer):
    seen = []

    def progress(step, steps):
        seen.append(step)
        if step == 2:
            renderer.cancel()
    with pytest.raises(Cancelled):
        renderer.render(job(steps=6), progress)
    assert seen == [1, 2]
    assert len(renderer.render(job(steps=2)).images) == 1


def test_the_key_ignores_the_caption_and_follows_model_and_files(renderer, tiny_sd, tmp_path):
    lora = write_lora(tmp_path / "a.safetensors", 1)
    adapters = (Adapter("shot_close_up", str(lora), 1.0),)
    parts = renderer.key_parts(job(adapters=adapters))
    assert "caption" not in parts and not hasattr(job(adapters=adapters), "caption")  # a job holds no caption
    assert parts["model"]["base"] == str(tiny_sd)
    figures_only = job(adapters=adapters, figures=(Figure(name="kaitoyosuke", class_word="man", position="left"),), subject="the key")
    assert renderer.key_parts(figures_only) == parts  # the pipeline never sees them; the prompt carries them
    write_lora(lora, 2)
    assert renderer.key_parts(job(adapters=adapters))["adapters"] != parts["adapters"]


def test_a_lora_file_replaced_on_disk_is_read_again(renderer, tmp_path):
    lora = write_lora(tmp_path / "kaito.safetensors", 1)
    adapters = (Adapter("char_kaito", str(lora), 1.0),)
    first = pixels(renderer.render(job(adapters=adapters)))[0]
    write_lora(lora, 2)
    second = pixels(renderer.render(job(adapters=adapters)))[0]
    fresh = DiffusionRenderer(renderer.model, hub=ModelHub())
    assert not np.array_equal(first, second)
    assert np.array_equal(second, pixels(fresh.render(job(adapters=adapters)))[0])


@pytest.mark.parametrize("layout", ["kohya", "diffusers"])
def test_an_sdxl_lora_is_refused_by_name(renderer, tmp_path, layout):
    path = write_sdxl_like_lora(tmp_path / "xl.safetensors", 4, layout=layout)
    with pytest.raises(LoraError) as caught:
        renderer.render(job(adapters=(Adapter("char_xl", str(path), 1.0),)))
    message = str(caught.value)
    assert str(path) in message and "SDXL" in message and "SD 1.5" in message and "\n" not in message
    assert "char_xl" not in HUB.pipeline(renderer.model).adapters


def test_a_lora_for_another_text_width_is_refused(renderer, tmp_path):
    path = write_lora(tmp_path / "wide.safetensors", 4, cross_attention_dim=16)
    with pytest.raises(LoraError, match="text width 16"):
        renderer.render(job(adapters=(Adapter("char_wide", str(path), 1.0),)))


def test_damaged_missing_and_empty_lora_files(tmp_path):
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(b"\x00\x01 this is not a weights file" * 10)
    with pytest.raises(LoraError, match="damaged.safetensors: damaged or not a weights file"):
        read_lora(str(damaged))
    with pytest.raises(LoraError, match="gone.safetensors: LoRA file not found"):
        read_lora(str(tmp_path / "gone.safetensors"))
    import torch
    from safetensors.torch import save_file
    save_file({"weight": torch.zeros(2)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(LoraError, match="holds no LoRA weights"):
        read_lora(str(tmp_path / "plain.safetensors"))


def test_pickle_loras_load_only_when_allowed(renderer, tmp_path, tiny_sd):
    path = write_pickle_lora(tmp_path / "old.bin", 7)
    with pytest.raises(LoraError, match="--allow-pickle"):
        read_lora(str(path))
    safe = write_lora(tmp_path / "new.safetensors", 7)
    allowed = DiffusionRenderer(ModelSpec(base=str(tiny_sd), allow_pickle=True), hub=ModelHub())
    from_pickle = pixels(allowed.render(job(adapters=(Adapter("char_old", str(path), 1.0),))))[0]
    from_safe = pixels(renderer.render(job(adapters=(Adapter("char_new", str(safe), 1.0),))))[0]
    assert np.array_equal(from_pickle, from_safe)


def test_missing_checkpoint_and_pickle_checkpoint_are_refused(tmp_path):
    with pytest.raises(LibraryError, match="does not exist"):
        DiffusionRenderer(ModelSpec(base=str(tmp_path / "nowhere")), hub=ModelHub()).render(job())
    (tmp_path / "model.ckpt").write_bytes(b"x")
    with pytest.raises(LibraryError, match="--allow-pickle"):
        DiffusionRenderer(ModelSpec(base=str(tmp_path / "model.ckpt")), hub=ModelHub()).render(job())


def test_a_damaged_single_file_checkpoint_gives_one_line(tmp_path):
    damaged = tmp_path / "model.safetensors"
    damaged.write_bytes(b"\xff" * 64)
    with pytest.raises(LibraryError) as caught:
        DiffusionRenderer(ModelSpec(base=str(damaged)), hub=ModelHub()).render(job())
    message = str(caught.value)
    assert str(damaged) in message and "damaged" in message and "\n" not in message


def test_attention_slicing_is_a_config_choice(tiny_sd, renderer):
    sliced = DiffusionRenderer(ModelSpec(base=str(tiny_sd), memory="slicing"), hub=ModelHub())
    images = pixels(sliced.render(job()))
    assert images[0].shape == (64, 64, 3)
    assert np.abs(images[0].astype(int) - pixels(renderer.render(job()))[0].astype(int)).max() <= 1


def test_importing_the_renderer_loads_no_model_library():
    code = ("import sys, agent.cli.app, tools.render.diffusion, tools.models.hub, tools.models.loras; "
            "print(sorted(m for m in ('torch', 'diffusers', 'transformers', 'peft') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[3])
    assert done.stdout.strip() == "[]"
