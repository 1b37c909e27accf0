"""Inpainting on tiny real pipelines: a dedicated 9-channel checkpoint and the base model reused via from_pipe."""

from __future__ import annotations

import diffusers
import numpy as np
import pytest
from peft.tuners.lora import LoraLayer
from PIL import Image, ImageDraw, ImageFilter
from tiny_inpaint import write_inpaint_folder
from tiny_models import write_lora, write_sdxl_folder

from tools.errors import Cancelled, LibraryError
from tools.models.hub import ModelHub, ModelSpec
from tools.render.job import Adapter
from tools.repair.inpaint import Inpainter, InpaintJob

WIDTH, HEIGHT = 64, 48
MODES = ["dedicated", "from_base"]


def frame() -> Image.Image:
    """A noisy frame, so any change to a pixel shows."""
    values = np.random.default_rng(5).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    return Image.fromarray(values, "RGB")


def hard_mask() -> Image.Image:
    mask = Image.new("L", (WIDTH, HEIGHT), 0)
    ImageDraw.Draw(mask).rectangle([16, 8, 47, 39], fill=255)
    return mask


def soft_mask() -> Image.Image:
    return hard_mask().filter(ImageFilter.GaussianBlur(4))


def job(**changes) -> InpaintJob:
    values = dict(image=frame(), mask=hard_mask(), prompt="kaitoyosuke man at the window", negative_prompt="blurry",
                  seed=21, steps=2, candidates=1)
    return InpaintJob(**{**values, **changes})


def active_weights(pipe) -> dict[str, float]:
    """The adapters the UNet's LoRA layers have switched on, with each one's weight."""
    layers = [m for m in pipe.unet.modules() if isinstance(m, LoraLayer)]
    if not layers or layers[0].disable_adapters:
        return {}
    found = {tuple(sorted((n, round(m.scaling[n] * m.r[n] / m.lora_alpha[n], 4)) for n in m.active_adapters))
             for m in layers}
    assert len(found) == 1, "all LoRA layers should agree"
    return dict(found.pop())


@pytest.fixture(scope="module")
def inpaint_folder(tmp_path_factory):
    return write_inpaint_folder(tmp_path_factory.mktemp("tiny_inpaint") / "model")


@pytest.fixture(scope="module")
def loras(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("inpaint_loras")
    return {layout: str(write_lora(folder / f"{layout}.safetensors", seed=3, layout=layout))
            for layout in ("kohya", "diffusers")}


@pytest.fixture(scope="module")
def hub() -> ModelHub:
    """One hub for the module, so each pipeline is loaded once across these tests."""
    return ModelHub()


@pytest.fixture(scope="module", params=MODES)
def inpainter(request, tiny_sd, inpaint_folder, hub) -> Inpainter:
    checkpoint = str(inpaint_folder) if request.param == "dedicated" else None
    return Inpainter(ModelSpec(base=str(tiny_sd)), inpaint=checkpoint, hub=hub)


@pytest.fixture
def calls(monkeypatch):
    """Record each inpainting call's arguments and the LoRAs active in the UNet when it starts."""
    seen: list[dict] = []
    original = diffusers.StableDiffusionInpaintPipeline.__call__

    def call(self, *args, **kwargs):
        seen.append({**kwargs, "active": active_weights(self)})
        return original(self, *args, **kwargs)
    monkeypatch.setattr(diffusers.StableDiffusionInpaintPipeline, "__call__", call)
    return seen


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image).astype(int)


@pytest.mark.parametrize("make_mask", [hard_mask, soft_mask], ids=["hard", "soft"])
def test_only_masked_pixels_change_and_size_is_kept(inpainter, make_mask):
    mask = make_mask()
    result = inpainter.inpaint(job(mask=mask, candidates=2))
    kept, redrawn = np.asarray(mask) == 0, np.asarray(mask) == 255
    assert kept.any() and redrawn.any()
    if make_mask is soft_mask:
        assert ((np.asarray(mask) > 0) & (np.asarray(mask) < 255)).any(), "the soft mask should have grey edges"
    for image in result.images:
        assert image.size == (WIDTH, HEIGHT) and image.mode == "RGB"
        change = np.abs(pixels(image) - pixels(frame())).max(axis=2)
        assert change[kept].max() <= 1
        assert change[redrawn].mean() > 5


def test_candidates_come_from_one_call_with_their_own_seeds(inpainter, calls):
    result = inpainter.inpaint(job(candidates=3))
    assert len(calls) == 1
    call = calls[0]
    assert call["num_images_per_prompt"] == 3 and call["strength"] == 1.0
    assert (call["width"], call["height"]) == (WIDTH, HEIGHT)
    assert [g.initial_seed() for g in call["generator"]] == [21, 22, 23] == result.seeds
    assert len({image.tobytes() for image in result.images}) == 3
    assert result.renderer == "diffusers-inpaint"
    expected = str(inpainter.checkpoint) if inpainter.checkpoint else "from base"
    assert result.info == {"model": inpainter.model.base, "inpaint": expected, "adapters": {}, "steps": 2,
                           "guidance": 7.5, "scheduler": "dpm++"}


@pytest.mark.parametrize("layout", ["kohya", "diffusers"])
def test_a_character_lora_is_on_during_the_call_at_the_jobs_weight(inpainter, loras, calls, layout):
    name = f"char_{layout}"
    with_lora = inpainter.inpaint(job(adapters=(Adapter(name, loras[layout], 0.7),)))
    without = inpainter.inpaint(job())
    assert [c["active"] for c in calls] == [{name: 0.7}, {}]
    assert with_lora.info["adapters"] == {name: 0.7}
    assert with_lora.images[0].tobytes() != without.images[0].tobytes()


def test_same_seeds_give_identical_bytes(inpainter):
    first = inpainter.inpaint(job(candidates=2, mask=soft_mask()))
    second = inpainter.inpaint(job(candidates=2, mask=soft_mask()))
    assert [i.tobytes() for i in first.images] == [i.tobytes() for i in second.images]


def test_progress_is_reported_and_cancel_stops(inpainter):
    steps = []
    inpainter.inpaint(job(steps=3), on_progress=lambda done, total: steps.append((done, total)))
    assert steps == [(1, 3), (2, 3), (3, 3)]
    inpainter.cancel()
    with pytest.raises(Cancelled):
        inpainter.inpaint(job())
    assert inpainter.inpaint(job()).images  # the stop request does not outlive the cancelled call


def test_from_pipe_shares_the_base_pipeline_and_its_loras(tiny_sd, loras):
    hub = ModelHub()
    spec = ModelSpec(base=str(tiny_sd))
    inpainter = Inpainter(spec, hub=hub)
    inpainter.inpaint(job(adapters=(Adapter("char_x", loras["kohya"], 1.0),)))
    inpainter.inpaint(job())
    assert hub.loads == 2  # the base pipeline and the inpainting view of it
    base, inpaint = hub.pipeline(spec), inpainter.pipeline()
    assert hub.loads == 2
    assert inpaint.pipe.unet is base.pipe.unet and inpaint.pipe.vae is base.pipe.vae
    assert inpaint.adapters is base.adapters and "char_x" in base.adapters
    assert (inpaint.family, inpaint.device, inpaint.dtype) == (base.family, base.device, base.dtype)
    assert inpaint.pipe._progress_bar_config.get("disable") is True


def test_a_dedicated_checkpoint_loads_once(tiny_sd, inpaint_folder):
    hub = ModelHub()
    inpainter = Inpainter(ModelSpec(base=str(tiny_sd)), inpaint=str(inpaint_folder), hub=hub)
    inpainter.inpaint(job())
    inpainter.inpaint(job(seed=3))
    assert hub.loads == 1  # the base model is never read
    assert inpainter.pipeline().pipe.unet.config.in_channels == 9


def test_a_frame_not_in_multiples_of_8_is_refused(tiny_sd):
    hub = ModelHub()
    image, mask = frame().resize((60, 48)), hard_mask().resize((60, 48))
    with pytest.raises(ValueError) as error:
        Inpainter(ModelSpec(base=str(tiny_sd)), hub=hub).inpaint(job(image=image, mask=mask))
    message = str(error.value)
    assert "\n" not in message and "expected a frame whose width and height are multiples of 8" in message
    assert hub.loads == 0


def test_a_missing_inpaint_folder_is_a_one_line_error(tiny_sd, tmp_path):
    missing = tmp_path / "no-such-inpainting-model"
    with pytest.raises(LibraryError) as error:
        Inpainter(ModelSpec(base=str(tiny_sd)), inpaint=str(missing), hub=ModelHub()).inpaint(job())
    message = str(error.value)
    assert "\n" not in message and message.startswith("model.inpaint: ") and str(missing) in message


def test_an_sdxl_base_inpaints_through_from_pipe(tmp_path):
    hub = ModelHub()
    spec = ModelSpec(base=str(write_sdxl_folder(tmp_path / "sdxl")))
    inpainter = Inpainter(spec, hub=hub)
    result = inpainter.inpaint(job(candidates=2))
    mask = np.asarray(hard_mask())
    for image in result.images:
        change = np.abs(pixels(image) - pixels(frame())).max(axis=2)
        assert image.size == (WIDTH, HEIGHT) and change[mask == 0].max() <= 1 and change[mask == 255].mean() > 5
    assert isinstance(inpainter.pipeline().pipe, diffusers.StableDiffusionXLInpaintPipeline)
    assert inpainter.pipeline().pipe.unet is hub.pipeline(spec).pipe.unet and hub.loads == 2
