"""LoRA training on a tiny random SD 1.5 (64x64 on CPU): what it writes, resuming, class images, refusals.

The GPU test trains the full-size SD 1.5 architecture (random weights) and records steps per second
in bench/RESULTS.md; it is skipped where no CUDA device is present.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import results_table
import torch
from PIL import Image
from safetensors.torch import load_file

from tools.train import class_images
from tools.models.loras import cross_width, read_lora
from tools.train.run import TrainError, TrainSettings, checkpoints, load_checkpoint, load_base, prepare, train
from tools.train.data import Example

COLOURS = [(200, 40, 40), (40, 200, 40), (40, 40, 200), (220, 200, 60)]
CAPTIONS = [f"picture of zqx man, {colour} coat" for colour in ("red", "green", "blue", "yellow")]
RESULTS = Path(__file__).resolve().parents[3] / "bench" / "RESULTS.md"
COLUMNS = ("date", "device", "torch", "diffusers", "resolution", "precision", "rank", "prior preservation",
           "text encoder", "gradient checkpointing", "steps", "steps/s")
KEY = COLUMNS[1:10]
NO_RUN = "_No GPU training run yet._"


def examples(prompts: list[str], size: int = 64) -> list[Example]:
    """Four plain-coloured pictures with a gradient, each under its own prompt."""
    made = []
    for index, (colour, prompt) in enumerate(zip(COLOURS, prompts)):
        ramp = np.linspace(0.5, 1.0, size)[None, :, None]
        pixels = (np.array(colour)[None, None, :] * ramp).repeat(size, axis=0).astype(np.uint8)
        made.append(Example(Path(f"picture{index}.png"), Image.fromarray(pixels), prompt))
    return made


def settings_for(model: Path, folder: Path, **changes) -> TrainSettings:
    fields = dict(kind="character", name="zqx", instance_prompt="picture of zqx man",
                  class_prompt="picture of a man", base=str(model), out=folder / "out", steps=4, lr=1e-2,
                  resolution=64, class_count=2, class_steps=2, checkpoint_every=2, validation_images=1,
                  cache=folder / "cache")
    return TrainSettings(**{**fields, **changes})


def render(model: Path, lora: Path | None = None) -> np.ndarray:
    """Draw the instance prompt with a freshly loaded pipeline (and the LoRA, when given), seed 5."""
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(str(model), local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    if lora is not None:
        pipe.load_lora_weights(str(lora), adapter_name="trained")
        assert pipe.get_list_adapters()["unet"] == ["trained"]
    return pipe("picture of zqx man", num_inference_steps=2, height=64, width=64, output_type="np",
                generator=torch.Generator("cpu").manual_seed(5)).images[0]


@pytest.fixture(scope="module")
def first_run(tiny_sd, tmp_path_factory):
    """A 4-step captioned run with prior preservation; returns its settings, result and on_step calls."""
    settings = settings_for(tiny_sd, tmp_path_factory.mktemp("train"))
    calls = []
    result = train(settings, examples(CAPTIONS), on_step=lambda step, loss: calls.append((step, loss)),
                   progress=True)
    return settings, result, calls


def test_trained_lora_loads_and_changes_the_image_for_the_same_seed(first_run, tiny_sd):
    settings, result, _ = first_run
    assert result.lora == settings.out / "zqx.safetensors" and result.lora.is_file()
    assert cross_width(read_lora(str(result.lora))) == 8  # the product's LoRA reader takes it as SD 1.5-shaped
    plain, again, trained = render(tiny_sd), render(tiny_sd), render(tiny_sd, result.lora)
    assert np.array_equal(plain, again)
    assert np.abs(trained - plain).max() > 1e-3


def test_every_loss_is_finite_and_the_captions_are_the_prompts(first_run):
    _, result, calls = first_run
    assert result.step == 4 and result.resumed_from == 0 and len(result.losses) == 4
    assert all(math.isfinite(loss) for loss in result.losses)
    assert calls == list(zip(range(1, 5), result.losses))
    assert sorted(result.prompts) == sorted(CAPTIONS)  # one pass over the four pictures, each under its caption


def test_settings_file_checkpoints_and_validation_images(first_run):
    settings, result, _ = first_run
    document = json.loads(result.settings_file.read_text(encoding="utf-8"))
    assert result.settings_file == settings.out / "zqx.json"
    assert document["step"] == 4 and document["final_loss"] == result.losses[-1]
    assert document["base"] == settings.base and document["class_dir"] == str(result.class_dir)
    assert set(document["versions"]) == {"torch", "diffusers", "peft"}
    assert [step for step, _ in checkpoints(settings.out)] == [2, 4]
    assert sorted(p.name for p in (settings.out / "validation").iterdir()) == ["step-2-0.png", "step-4-0.png"]
    with Image.open(settings.out / "validation" / "step-4-0.png") as image:
        assert image.size == (64, 64)


def test_resume_restores_step_and_optimizer_and_matches_an_unbroken_run(tiny_sd, tmp_path):
    settings = settings_for(tiny_sd, tmp_path, validation_images=0)
    first = train(settings, examples(CAPTIONS))
    last = checkpoints(settings.out)[-1][1]
    trainee = prepare(settings)
    state = load_checkpoint(trainee, last)
    saved = torch.load(last / "optimizer.pt", weights_only=True)["state"]
    held = trainee.optimizer.state_dict()["state"]
    assert state["step"] == 4 and set(held) == set(saved) and len(held) == len(trainee.params)
    for index in saved:
        assert float(held[index]["step"]) == float(saved[index]["step"]) == 4.0
        assert torch.equal(held[index]["exp_avg"], saved[index]["exp_avg"])
        assert torch.equal(held[index]["exp_avg_sq"], saved[index]["exp_avg_sq"])

    resumed = train(replace(settings, steps=6, resume=True), examples(CAPTIONS))
    assert (resumed.resumed_from, resumed.step, len(resumed.losses)) == (4, 6, 2)
    assert (resumed.class_generated, resumed.class_dir) == (0, first.class_dir)
    assert [step for step, _ in checkpoints(settings.out)] == [4, 6]  # only the last two are kept
    unbroken = train(replace(settings, steps=6, out=tmp_path / "unbroken"), examples(CAPTIONS))
    assert unbroken.losses[:4] == first.losses
    assert unbroken.losses[4:] == pytest.approx(resumed.losses, rel=1e-5)
    assert load_file(str(resumed.lora)).keys() == load_file(str(unbroken.lora)).keys()


def test_class_images_are_drawn_once_and_only_the_missing_ones_later(first_run, tiny_sd, tmp_path):
    settings, result, _ = first_run
    assert result.class_generated == 2
    assert sorted(p.name for p in result.class_dir.glob("*.png")) == ["0000.png", "0001.png"]
    again = train(replace(settings, out=tmp_path / "again", steps=1), examples(CAPTIONS))
    assert (again.class_generated, again.class_dir) == (0, result.class_dir)
    before = (result.class_dir / "0000.png").read_bytes()
    pipe = load_base(settings)[0]
    assert class_images.generate(pipe, result.class_dir, settings.class_prompt, 3, 64, 2) == 1
    assert (result.class_dir / "0000.png").read_bytes() == before
    other = class_images.class_folder(settings.cache, settings.base, "picture of a woman", 64, 2)
    assert other != result.class_dir


def test_text_encoder_lora_with_supplied_class_images_and_gradient_checkpointing(tiny_sd, tmp_path):
    supplied = tmp_path / "class"
    supplied.mkdir()
    for index, colour in enumerate(COLOURS[:2]):
        Image.new("RGB", (96, 64), colour).save(supplied / f"man{index}.png")
    settings = settings_for(tiny_sd, tmp_path, text_encoder=True, gradient_checkpointing=True, steps=2,
                            class_images=supplied, validation_images=0)
    result = train(settings, examples(["picture of zqx man"] * 4))
    assert (result.class_dir, result.class_generated) == (supplied, 0)
    assert not (tmp_path / "cache").exists()
    assert all(math.isfinite(loss) for loss in result.losses)
    layers = load_file(str(result.lora))
    assert any(k.startswith("text_encoder.") for k in layers) and any(k.startswith("unet.") for k in layers)
    # LoRA's up weights start at zero: only a trained part has moved them
    for part in ("text_encoder.", "unet."):
        ups = [v for k, v in layers.items() if k.startswith(part) and (".lora_B." in k or ".up." in k)]
        assert ups and any(float(v.abs().max()) > 0 for v in ups), part
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(str(tiny_sd), local_files_only=True)
    pipe.load_lora_weights(str(result.lora), adapter_name="trained")
    assert pipe.get_list_adapters() == {"unet": ["trained"], "text_encoder": ["trained"]}


def test_a_single_file_checkpoint_trains_like_its_folder(tiny_sd, tiny_sd_file, tmp_path):
    pictures = examples(CAPTIONS)
    common = dict(class_prompt=None, steps=2, validation_images=0)
    from_file = train(settings_for(tiny_sd_file, tmp_path / "file", config=str(tiny_sd), **common), pictures)
    from_folder = train(settings_for(tiny_sd, tmp_path / "folder", **common), pictures)
    assert from_file.losses == pytest.approx(from_folder.losses, rel=1e-4)
    assert from_file.class_dir is None and from_file.class_generated == 0


def _refusal(settings: TrainSettings, pictures: list[Example]) -> str:
    with pytest.raises(TrainError) as caught:
        train(settings, pictures)
    message = str(caught.value)
    assert message and "\n" not in message
    return message


def test_refusals_are_one_line(first_run, tiny_sd, tmp_path):
    done, _, _ = first_run
    pictures = examples(CAPTIONS)
    assert "--resume" in _refusal(replace(done, steps=8), pictures)
    assert "holds no checkpoint" in _refusal(settings_for(tiny_sd, tmp_path, resume=True), pictures)
    assert "does not exist" in _refusal(settings_for(tmp_path / "missing", tmp_path), pictures)
    (tmp_path / "model.ckpt").write_bytes(b"not read")
    assert "pickle" in _refusal(settings_for(tmp_path / "model.ckpt", tmp_path), pictures)
    assert "no training images" in _refusal(settings_for(tiny_sd, tmp_path), [])
    assert "--steps" in _refusal(settings_for(tiny_sd, tmp_path, steps=0), pictures)
    if not torch.cuda.is_available():
        assert "CUDA" in _refusal(settings_for(tiny_sd, tmp_path, precision="fp16"), pictures)
    wrong_rank = replace(done, rank=4, steps=6, resume=True)
    assert "does not fit" in _refusal(wrong_rank, pictures)


def test_a_damaged_checkpoint_falls_back_to_the_one_before_it(tiny_sd, tmp_path):
    settings = settings_for(tiny_sd, tmp_path, class_prompt=None, validation_images=0)
    first = train(settings, examples(CAPTIONS))  # checkpoints at steps 2 and 4
    optimizer = settings.out / "checkpoints" / "step-4" / "optimizer.pt"
    optimizer.write_bytes(optimizer.read_bytes()[:200])  # cut short, as a crash or a full disk leaves it
    resumed = train(replace(settings, steps=6, resume=True), examples(CAPTIONS))
    assert (resumed.resumed_from, resumed.step, len(resumed.losses)) == (2, 6, 4)
    [notice] = resumed.notices
    assert "step-4/optimizer.pt: damaged" in notice and "damaged-step-4" in notice and "\n" not in notice
    assert (settings.out / "checkpoints" / "damaged-step-4" / "optimizer.pt").is_file()
    assert [step for step, _ in checkpoints(settings.out)] == [4, 6]
    assert resumed.losses[:2] == pytest.approx(first.losses[2:], rel=1e-5)  # steps 3 and 4 again, exactly


def test_resuming_when_every_checkpoint_is_damaged_says_so(tiny_sd, tmp_path):
    settings = settings_for(tiny_sd, tmp_path, class_prompt=None, validation_images=0)
    train(settings, examples(CAPTIONS))
    for _, folder in checkpoints(settings.out):
        (folder / "lora.safetensors").write_bytes(b"\0" * 10)
    message = _refusal(replace(settings, steps=6, resume=True), examples(CAPTIONS))
    assert message.startswith("--resume: no checkpoint") and "lora.safetensors: damaged" in message
    assert "does not fit these settings" not in message


def test_trained_files_get_the_mode_of_a_plain_new_file(tiny_sd, tmp_path):
    old = os.umask(0o022)
    try:
        result = train(settings_for(tiny_sd, tmp_path, class_prompt=None, steps=2, validation_images=1),
                       examples(CAPTIONS))
    finally:
        os.umask(old)
    out = result.lora.parent
    written = [result.lora, result.settings_file, *(out / "validation").iterdir(),
               *checkpoints(out)[-1][1].iterdir()]
    modes = {path.name: oct(path.stat().st_mode & 0o777) for path in written}
    assert set(modes.values()) == {"0o644"}, modes


def test_a_loss_that_is_not_finite_stops_the_run(tiny_sd, tmp_path):
    settings = settings_for(tiny_sd, tmp_path, lr=1e30, steps=4, class_prompt=None, checkpoint_every=10)
    message = _refusal(settings, examples(CAPTIONS))
    assert message.startswith("loss became") and "--lr" in message


def test_results_file_holds_the_training_table():
    lines = RESULTS.read_text(encoding="utf-8").splitlines()
    assert "| " + " | ".join(COLUMNS) + " |" in lines


@pytest.mark.gpu
def test_full_size_sd15_training_speed_is_recorded(tmp_path):
    import diffusers
    from full_models import write_full_size_sd

    model, _ = write_full_size_sd(tmp_path)
    steps, warm_up = 30, 5
    settings = settings_for(model, tmp_path, resolution=512, steps=steps, lr=1e-4, rank=8, checkpoint_every=steps,
                            class_steps=25, validation_images=1)
    stamps = {}
    result = train(settings, examples(["picture of zqx man"] * 4, size=512),
                   on_step=lambda step, loss: stamps.setdefault(step, time.perf_counter()))
    assert result.step == steps and all(math.isfinite(loss) for loss in result.losses)
    document = json.loads(result.settings_file.read_text(encoding="utf-8"))
    assert document["device"] == "cuda" and document["dtype"] in ("float16", "bfloat16")
    rate = (steps - warm_up) / (stamps[steps] - stamps[warm_up])
    row = {"date": datetime.date.today().isoformat(), "device": torch.cuda.get_device_name(),
           "torch": torch.__version__, "diffusers": diffusers.__version__, "resolution": "512x512",
           "precision": document["dtype"], "rank": 8, "prior preservation": "yes", "text encoder": "no",
           "gradient checkpointing": "no", "steps": steps, "steps/s": f"{rate:.2f}"}
    text = results_table.record_row(RESULTS.read_text(encoding="utf-8"), COLUMNS, row, KEY, NO_RUN)
    RESULTS.write_text(text, encoding="utf-8")
    assert "| " + " | ".join(str(row[c]) for c in COLUMNS) + " |" in RESULTS.read_text(encoding="utf-8")


def test_the_class_term_adds_prior_weight_times_the_class_loss(tiny_sd, tmp_path):
    """One step from the same seed differs only in the prior weight, so the loss grows in equal steps."""
    losses = []
    for weight in (0.0, 1.0, 2.0):
        settings = settings_for(tiny_sd, tmp_path / f"w{weight}", prior_weight=weight, steps=1, checkpoint_every=1,
                                validation_images=0, cache=tmp_path / "cache")
        losses.append(train(settings, examples(["picture of zqx man"] * 4)).losses[0])
    class_loss = losses[1] - losses[0]
    assert class_loss > 0.01
    assert losses[2] - losses[1] == pytest.approx(class_loss, rel=1e-3)
