"""Repairing a region through `shotsmith run --then`: tiny SD, tiny SAM and a tiny 9-channel inpainting
model; masks, LoRAs during the inpaint, kept pixels, versions, undo, mask choice and every bad input."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import diffusers
import numpy as np
import pytest
from peft.tuners.lora import LoraLayer
from PIL import Image
from tiny_models import write_lora

SCENE = """\
title = "Kitchen talk"
description = "Kaito waits in the kitchen. Jiyeon comes in with a letter."
shots = [4, 2]

[[characters]]
name = "kaitoyosuke"
class = "man"
aliases = ["Kaito"]

[[characters]]
name = "jiyeonmun"
class = "woman"
aliases = ["Jiyeon"]
"""
FAST = ("--renderer", "diffusers", "--steps", "2", "--width", "64", "--height", "64")


def project(folder: Path, base: Path, sam: tuple[Path, Path] | None, inpaint: Path | None = None) -> Path:
    """Write LoRAs, library.toml and scene.toml into `folder`; return the scene file."""
    for k, name in enumerate(("kaito", "jiyeon", "mira", "medium", "close_up")):
        write_lora(folder / "loras" / f"{name}.safetensors", 30 + k, layout="kohya" if k % 2 else "diffusers")
    model = [f'base = "{base}"']
    if sam:
        model += [f'sam = "{sam[0]}"', f'sam_type = "{sam[1]}"']
    if inpaint:
        model.append(f'inpaint = "{inpaint}"')
    (folder / "library.toml").write_text("[model]\n" + "\n".join(model) + "\n" + textwrap.dedent("""
        [shots]
        medium = "loras/medium.safetensors"
        close_up = "loras/close_up.safetensors"
        [characters.kaitoyosuke]
        class = "man"
        lora = "loras/kaito.safetensors"
        [characters.jiyeonmun]
        class = "woman"
        lora = "loras/jiyeon.safetensors"
        [characters.miraholt]
        class = "woman"
        lora = "loras/mira.safetensors"
        """))
    scene = folder / "scene.toml"
    scene.write_text(SCENE)
    return scene


def document(out: Path) -> dict:
    return json.loads((out / "storyboard.json").read_text(encoding="utf-8"))


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB")).astype(int)


@pytest.fixture
def seen(monkeypatch):
    """Record the adapters switched on inside the UNet at every inpainting call."""
    calls: list[dict[str, float]] = []
    original = diffusers.StableDiffusionInpaintPipeline.__call__

    def call(self, *args, **kwargs):
        layers = [m for m in self.unet.modules() if isinstance(m, LoraLayer)]
        active = {} if not layers or layers[0].disable_adapters else {
            n: round(layers[0].scaling[n] * layers[0].r[n] / layers[0].lora_alpha[n], 4)
            for n in layers[0].active_adapters}
        calls.append(active)
        return original(self, *args, **kwargs)
    monkeypatch.setattr(diffusers.StableDiffusionInpaintPipeline, "__call__", call)
    return calls


@pytest.mark.parametrize("dedicated", [True, False], ids=["9-channel", "from-base"])
def test_a_box_inpaint_keeps_outside_pixels_uses_the_lora_and_records_a_version(
        cli, tmp_path, tiny_sd, tiny_sam, tiny_inpaint, seen, dedicated):
    scene = project(tmp_path, tiny_sd, tiny_sam, tiny_inpaint if dedicated else None)
    out = tmp_path / "out"
    result = cli("run", scene, "--out", out, *FAST, "--then", "frame 0: inpaint box 8,8,40,40 with kaitoyosuke man")
    assert result.exit_code == 0, result.output
    assert "frame 0: inpainted box 8,8,40,40" in result.stdout
    assert seen == [{"char_kaitoyosuke": 0.9}]  # a medium shot: the policy's medium weight, no shot LoRA
    frame = document(out)["frames"][0]
    version = frame["versions"][-1]
    assert version["kind"] == "inpaint" and version["prompt"] == "kaitoyosuke man" and frame["source"] == version["path"]
    assert version["source"] == frame["versions"][0]["path"] and isinstance(version["seed"], int)
    assert (out / version["mask"]).exists() and (out / version["source"]).exists()
    before, after = pixels(out / version["source"]), pixels(out / "frames" / "shot_0.png")
    with Image.open(out / version["mask"]) as mask:
        outside = np.asarray(mask) == 0
    assert outside.any() and np.abs(before - after)[outside].max() <= 1
    assert np.abs(before - after)[~outside].max() > 0
    assert frame["characters"] and document(out)["corrections"] == ["frame 0: inpaint box 8,8,40,40 with kaitoyosuke man"]


def test_undo_restores_the_image_before_the_repair(cli, tmp_path, tiny_sd, tiny_sam):
    scene = project(tmp_path, tiny_sd, tiny_sam)
    out = tmp_path / "out"
    first = cli("run", scene, "--out", out / "plain", *FAST)
    assert first.exit_code == 0, first.output
    original = (out / "plain" / "frames" / "shot_1.png").read_bytes()
    result = cli("run", scene, "--out", out / "fixed", *FAST,
                 "--then", "frame 1: inpaint rect 0,0,32,64 with jiyeonmun woman", "--then", "undo")
    assert result.exit_code == 0, result.output
    assert (out / "fixed" / "frames" / "shot_1.png").read_bytes() == original
    assert list((out / "fixed" / "frames" / "versions").glob("*-inpaint-*.png")), "the repair stays on disk"
    assert all(v["kind"] == "render" for v in document(out / "fixed")["frames"][1]["versions"])


def test_a_point_proposes_three_masks_and_the_chosen_one_is_used(cli, tmp_path, tiny_sd, tiny_sam):
    scene = project(tmp_path, tiny_sd, tiny_sam)
    out = tmp_path / "out"
    result = cli("run", scene, "--out", out, *FAST, "--then", "frame 1: inpaint point 30,30 dilate 0 blur 0 close 0 "
                 "with a red umbrella", "--then", "mask 2")
    assert result.exit_code == 0, result.output
    proposed = sorted((out / "frames" / "masks").glob("*-point-*.png"))
    assert len(proposed) == 3 and "say \"mask N\"" in result.stdout
    version = document(out)["frames"][1]["versions"][-1]
    with Image.open(proposed[2]) as chosen, Image.open(out / version["mask"]) as used:
        assert chosen.size == used.size == (64, 64)
        assert np.array_equal(np.asarray(chosen) > 127, np.asarray(used) > 127)


def test_pick_switches_between_repair_candidates(cli, tmp_path, tiny_sd, tiny_sam):
    scene = project(tmp_path, tiny_sd, tiny_sam)
    out = tmp_path / "out"
    result = cli("run", scene, "--out", out, *FAST, "--candidates", "2",
                 "--then", "frame 0: inpaint rect 8,8,40,40 with kaitoyosuke man", "--then", "frame 0: pick 3")
    assert result.exit_code == 0, result.output
    frame = document(out)["frames"][0]
    assert [v["kind"] for v in frame["versions"]] == ["render", "render", "inpaint", "inpaint"]
    assert frame["source"] == frame["versions"][3]["path"]


@pytest.mark.parametrize(("then", "words"), [
    ("frame 0: inpaint box 8,8,90,40 with kaitoyosuke man", ["outside", "64x64", "expected"]),
    ("frame 0: inpaint box 40,8,8,40 with kaitoyosuke man", ["swapped", "expected"]),
    ("frame 0: inpaint box 8,8,8,40 with kaitoyosuke man", ["area", "expected"]),
    ("frame 0: inpaint box -4,8,20,40 with kaitoyosuke man", ["outside", "expected"]),
    ("frame 0: inpaint point 64,10 with a hat", ["outside", "expected"]),
    ("frame 7: inpaint box 8,8,40,40 with kaitoyosuke man", ["no frame 7", "0 to 1"]),
    ("frame 0: inpaint box 8,8,40,40 with miraholt woman", ["miraholt", "not in this scene's cast"]),
    ("mask 1", ["no masks are waiting", "expected"]),
])
def test_bad_inpaint_input_is_one_line_and_changes_nothing(cli, tmp_path, tiny_sd, tiny_sam, then, words):
    scene = project(tmp_path, tiny_sd, tiny_sam)
    out = tmp_path / "out"
    result = cli("run", scene, "--out", out, *FAST, "--then", then)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and all(w in lines[0] for w in words), result.stderr
    assert all(len(f["versions"]) == 1 for f in document(out)["frames"])
    assert not (out / "frames" / "masks").exists()


def test_an_empty_mask_is_refused_and_changes_nothing(cli, tmp_path, tiny_sd, tiny_sam):
    scene = project(tmp_path, tiny_sd, tiny_sam)
    out = tmp_path / "out"
    first = cli("run", scene, "--out", out, *FAST, "--then", "frame 1: inpaint point 30,30 dilate 0 close 0 blur 0 "
                "with a red umbrella")
    assert first.exit_code == 0, first.output
    blank = sorted((out / "frames" / "masks").glob("*-point-0.png"))[0]
    Image.new("L", (64, 64), 0).save(blank)  # as if SAM had found nothing there
    result = cli("run", scene, "--out", out, *FAST, "--resume", "--then", "mask 0")
    assert result.exit_code == 1 and "covers nothing" in result.stderr and "expected" in result.stderr
    assert all(len(f["versions"]) == 1 for f in document(out)["frames"])


def test_masks_for_an_image_no_longer_shown_do_not_count_as_waiting(cli, tmp_path, tiny_sd, tiny_sam):
    scene = project(tmp_path, tiny_sd, tiny_sam)
    result = cli("run", scene, "--out", tmp_path / "out", *FAST, "--then", "frame 1: inpaint point 30,30 with a hat",
                 "--then", "regenerate 1", "--then", "frame 0: inpaint point 20,20 with a cup", "--then", "mask 1")
    assert result.exit_code == 0, result.output
    assert document(tmp_path / "out")["frames"][0]["versions"][-1]["kind"] == "inpaint"


def test_a_repair_that_failed_is_checked_again_on_resume(cli, tmp_path, tiny_sd, tiny_sam):
    scene = project(tmp_path, tiny_sd, tiny_sam)
    library = tmp_path / "library.toml"
    sizes = json.loads(Path(tiny_sam[1]).read_text())
    (tmp_path / "other.json").write_text(json.dumps({**sizes, "embed_dim": 48}))
    library.write_text(library.read_text().replace(str(tiny_sam[1]), str(tmp_path / "other.json")))
    out = tmp_path / "out"
    failed = cli("run", scene, "--out", out, *FAST, "--then", "frame 0: inpaint box 8,8,40,40 with a hat")
    assert failed.exit_code == 2 and "model.sam" in failed.stderr and "--resume" in failed.stderr
    library.write_text("\n".join(line for line in library.read_text().splitlines() if not line.startswith("sam")))
    resumed = cli("run", scene, "--out", out, *FAST, "--resume")
    assert resumed.exit_code == 1 and "needs SAM" in resumed.stderr and "Traceback" not in resumed.output
    assert all(len(f["versions"]) == 1 for f in document(out)["frames"])


def test_sam_prompts_need_a_sam_checkpoint_but_rectangles_do_not(cli, tmp_path, tiny_sd):
    scene = project(tmp_path, tiny_sd, None)
    result = cli("run", scene, "--out", tmp_path / "a", *FAST, "--then", "frame 0: inpaint box 8,8,40,40 with a hat")
    assert result.exit_code == 1 and "needs SAM" in result.stderr and "[model] sam" in result.stderr
    result = cli("run", scene, "--out", tmp_path / "b", *FAST, "--then", "frame 0: inpaint rect 8,8,40,40 with a hat")
    assert result.exit_code == 0, result.output


def test_the_sketch_renderer_cannot_inpaint(cli, tmp_path, tiny_sd, tiny_sam):
    scene = project(tmp_path, tiny_sd, tiny_sam)
    result = cli("run", scene, "--out", tmp_path / "out", "--renderer", "sketch",
                 "--then", "frame 0: inpaint rect 8,8,40,40 with a hat")
    assert result.exit_code == 1 and "sketch renderer cannot inpaint" in result.stderr
