"""`shotsmith run --renderer diffusers` on tiny real models: LoRA policy, reproducibility, bad input."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import diffusers
import pytest
from peft.tuners.lora import LoraLayer
from tiny_models import write_lora, write_pickle_lora, write_sdxl_like_lora

SCENE = """\
title = "Kitchen talk"
description = "Kaito waits in the kitchen. Jiyeon comes in with a letter. He reads it while she watches. Mira knocks at the door."
shots = {shots}

[[characters]]
name = "kaitoyosuke"
class = "man"
aliases = ["Kaito"]

[[characters]]
name = "jiyeonmun"
class = "woman"
aliases = ["Jiyeon"]

[[characters]]
name = "miraholt"
class = "woman"
aliases = ["Mira"]
"""
SHOTS = [7, 4, 2, 9, 6, 2]
BANDS = {"close_up": 1.0, "medium_close_up": 1.0, "extreme_close_up": 1.0, "medium": 0.9, "american": 0.9,
         "full": 0.9, "long": 0.75, "extreme_long": 0.75, "detail": 0.8}
"""The default weight policy, written out independently of the code under test."""
FAST = ("--renderer", "diffusers", "--steps", "2", "--width", "64", "--height", "64")


def project(folder: Path, base: Path, shots: list[int] = SHOTS, extra: str = "", layouts: str = "dk") -> Path:
    """Write LoRAs, library.toml and scene.toml into `folder`; return the scene file."""
    loras = folder / "loras"
    for k, slug in enumerate(("close_up", "medium", "long", "full", "extreme_long")):
        write_lora(loras / f"{slug}.safetensors", 10 + k, layout="diffusers" if k % 2 else "kohya")
    for k, name in enumerate(("kaito", "jiyeon", "mira")):
        write_lora(loras / f"{name}.safetensors", 20 + k, layout={"d": "diffusers", "k": "kohya"}[layouts[k % 2]])
    (folder / "library.toml").write_text(textwrap.dedent(f"""\
        [model]
        base = "{base}"
        [shots]
        close_up = "loras/close_up.safetensors"
        medium = "loras/medium.safetensors"
        long = "loras/long.safetensors"
        full = "loras/full.safetensors"
        extreme_long = "loras/extreme_long.safetensors"
        [characters.kaitoyosuke]
        class = "man"
        lora = "loras/kaito.safetensors"
        [characters.jiyeonmun]
        class = "woman"
        lora = "loras/jiyeon.safetensors"
        [characters.miraholt]
        class = "woman"
        lora = "loras/mira.safetensors"
        """) + extra, encoding="utf-8")
    scene = folder / "scene.toml"
    scene.write_text(SCENE.format(shots=shots), encoding="utf-8")
    return scene


def expected_adapters(frame: dict) -> dict[str, float]:
    """The policy for one storyboard.json frame: shot LoRA at 1.0, characters by band, shared when several."""
    slug, names = frame["shot_type"], [c["name"] for c in frame["characters"]]
    chosen = {} if slug == "detail" else {f"shot_{slug}": 1.0}
    weight = BANDS[slug] * (0.85 if len(names) > 1 else 1.0)
    return chosen | {f"char_{name}": round(weight, 4) for name in names}


def pipeline_adapters(pipe) -> dict[str, float]:
    """Read the active adapters and weights from the UNet's LoRA layers."""
    layers = [m for m in pipe.unet.modules() if isinstance(m, LoraLayer)]
    if not layers or layers[0].disable_adapters:
        return {}
    m = layers[0]
    return {n: round(m.scaling[n] * m.r[n] / m.lora_alpha[n], 4) for n in m.active_adapters}


@pytest.fixture
def spy(monkeypatch):
    """Record, at every pipeline call, the adapters the UNet really has switched on."""
    seen: list[dict[str, float]] = []
    original = diffusers.StableDiffusionPipeline.__call__

    def call(self, *args, **kwargs):
        seen.append(pipeline_adapters(self))
        return original(self, *args, **kwargs)
    monkeypatch.setattr(diffusers.StableDiffusionPipeline, "__call__", call)
    return seen


def document(out: Path) -> dict:
    return json.loads((out / "storyboard.json").read_text(encoding="utf-8"))


def shots_bytes(out: Path) -> list[bytes]:
    return [p.read_bytes() for p in sorted((out / "frames").glob("shot_*.png"))]


def error_line(result, code: int = 2) -> str:
    assert result.exit_code == code, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_every_frame_gets_exactly_the_policys_adapters(cli, tmp_path, tiny_sd, spy):
    scene = project(tmp_path, tiny_sd)
    result = cli("run", scene, "--out", tmp_path / "out", *FAST, "--candidates", "2")
    assert result.exit_code == 0, result.output
    data = document(tmp_path / "out")
    assert data["renderer"] == "diffusers" and len(data["frames"]) == len(SHOTS) == len(spy)
    assert any(len(f["characters"]) > 1 for f in data["frames"])
    for frame, active in zip(data["frames"], spy):
        assert active == expected_adapters(frame), frame["shot_type"]
        for version in frame["versions"]:
            assert version["adapters"] == active and version["model"] == str(tiny_sd)
            assert version["steps"] == 2 and version["scheduler"] == "dpm++" and version["guidance"] == 7.5
    detail = next(f for f in data["frames"] if f["shot_type"] == "detail")
    assert not any(name.startswith("shot_") for name in detail["versions"][0]["adapters"])


def test_candidates_carry_distinct_recorded_seeds(cli, tmp_path, tiny_sd):
    scene = project(tmp_path, tiny_sd, shots=[2, 6])
    assert cli("run", scene, "--out", tmp_path / "out", *FAST, "--candidates", "3").exit_code == 0
    for frame in document(tmp_path / "out")["frames"]:
        seeds = [v["seed"] for v in frame["versions"]]
        assert seeds == [frame["seed"], frame["seed"] + 1, frame["seed"] + 2]
        files = [(tmp_path / "out" / v["path"]).read_bytes() for v in frame["versions"]]
        assert len(set(files)) == 3
        assert (tmp_path / "out" / frame["image"]).read_bytes() == files[0]


def test_same_scene_and_seeds_give_identical_images(cli, tmp_path, tiny_sd):
    scene = project(tmp_path, tiny_sd)
    for out in ("a", "b"):
        assert cli("run", scene, "--out", tmp_path / out, *FAST, "--seed", "5").exit_code == 0
    assert shots_bytes(tmp_path / "a") == shots_bytes(tmp_path / "b") and len(shots_bytes(tmp_path / "a")) == 6
    assert cli("run", scene, "--out", tmp_path / "c", *FAST, "--seed", "6").exit_code == 0
    assert shots_bytes(tmp_path / "c") != shots_bytes(tmp_path / "a")


def test_seed_option_keeps_a_scenes_frame_count(cli, tmp_path):
    scene = Path(__file__).resolve().parents[3] / "examples" / "dialogue.toml"
    for name, extra in (("plain", ()), ("seeded", ("--seed", "7"))):
        result = cli("run", scene, "--out", tmp_path / name, "--renderer", "sketch", *extra)
        assert result.exit_code == 0, result.output
    plain, seeded = document(tmp_path / "plain")["frames"], document(tmp_path / "seeded")["frames"]
    assert len(seeded) == len(plain) > 0 and seeded[0]["seed"] != plain[0]["seed"]


def test_a_different_lora_weight_changes_only_the_frames_it_touches(cli, tmp_path, tiny_sd):
    plain = project(tmp_path / "plain", tiny_sd, shots=[2, 9, 7])
    lighter = project(tmp_path / "light", tiny_sd, shots=[2, 9, 7], extra="[weights]\nclose = 0.4\n")
    for scene in (plain, lighter):
        assert cli("run", scene, "--out", scene.parent / "out", *FAST).exit_code == 0
    before, after = shots_bytes(plain.parent / "out"), shots_bytes(lighter.parent / "out")
    assert before[0] != after[0]  # the close-up follows the close weight
    assert before[1:] == after[1:]  # the detail insert and the long shot do not use it
    adapters = document(lighter.parent / "out")["frames"][0]["versions"][0]["adapters"]
    people = [weight for name, weight in adapters.items() if name.startswith("char_")]
    assert people == [0.4] and adapters["shot_close_up"] == 1.0


def test_single_file_checkpoint_renders_the_same_storyboard(cli, tmp_path, tiny_sd, tiny_sd_file):
    folder = project(tmp_path / "folder", tiny_sd, shots=[2, 9])
    single = project(tmp_path / "single", tiny_sd_file, shots=[2, 9])
    text = (single.parent / "library.toml").read_text().replace("[shots]", f'config = "{tiny_sd}"\n[shots]', 1)
    (single.parent / "library.toml").write_text(text)
    for scene in (folder, single):
        assert cli("run", scene, "--out", scene.parent / "out", *FAST).exit_code == 0
    assert shots_bytes(folder.parent / "out") == shots_bytes(single.parent / "out")


def test_each_lora_file_is_read_once_over_a_long_storyboard(cli, tmp_path, tiny_sd):
    """12 frames, 3 characters, 4 shot types and two corrections: every LoRA file is opened exactly once."""
    scene = project(tmp_path, tiny_sd, shots=[8, 4, 2, 6, 4, 2, 6, 2, 4, 8, 6, 2], layouts="kd")
    loras = {str(p.resolve()) for p in (tmp_path / "loras").glob("*.safetensors")}
    opened: list[str] = []
    watching = [True]

    def audit(event, args):
        if watching[0] and event == "open" and isinstance(args[0], (str, Path)):
            path = str(Path(args[0]).resolve())
            if path in loras:
                opened.append(path)
    sys.addaudithook(audit)
    try:
        result = cli("run", scene, "--out", tmp_path / "out", *FAST, "--then", "frame 3: close-up",
                     "--then", "regenerate 5")
    finally:
        watching[0] = False
    assert result.exit_code == 0, result.output
    data = document(tmp_path / "out")
    used = {v for f in data["frames"] for v in f["versions"][-1]["adapters"]}
    assert len({f["shot_type"] for f in data["frames"]}) == 4 and len(data["frames"]) == 12
    assert {"char_kaitoyosuke", "char_jiyeonmun", "char_miraholt"} <= used
    assert sorted(opened) == sorted(set(opened)) and len(opened) == len(used)


def test_auto_uses_diffusers_when_the_checkpoint_is_on_disk(cli, tmp_path, tiny_sd):
    scene = project(tmp_path, tiny_sd, shots=[2])
    result = cli("run", scene, "--out", tmp_path / "out", "--steps", "2", "--width", "64", "--height", "64")
    notices = [line for line in result.stdout.splitlines() if line.startswith("notice:")]
    assert result.exit_code == 0 and len(notices) == 1 and "CLIP model" in notices[0], result.output
    assert document(tmp_path / "out")["renderer"] == "diffusers"


def test_auto_falls_back_to_sketches_with_one_notice(cli, tmp_path, tiny_sd):
    scene = project(tmp_path, tiny_sd, shots=[2])
    text = (tmp_path / "library.toml").read_text().replace(str(tiny_sd), "someone/not-downloaded-model")
    (tmp_path / "library.toml").write_text(text)
    result = cli("run", scene, "--out", tmp_path / "out")
    assert result.exit_code == 0
    notices = [line for line in result.stdout.splitlines() if line.startswith("notice:")]
    assert len(notices) == 2 and "someone/not-downloaded-model" in notices[0] and "sketch" in notices[0]
    assert "openai/clip-vit-large-patch14" in notices[1] and "not scored" in notices[1]
    assert document(tmp_path / "out")["renderer"] == "sketch"


@pytest.mark.parametrize(("edit", "words"), [
    (("loras/close_up.safetensors", "loras/gone.safetensors"), ["shots.close_up", "gone.safetensors",
                                                               "does not exist"]),
    (("close_up = ", "closeup = "), ["shots.closeup", "unknown shot type", "close_up"]),
    (("[shots]", "[shots]\ndetail = \"loras/close_up.safetensors\""), ["shots.detail"]),
])
def test_bad_manifest_gives_one_line(cli, tmp_path, tiny_sd, edit, words):
    scene = project(tmp_path, tiny_sd)
    path = tmp_path / "library.toml"
    path.write_text(path.read_text().replace(*edit, 1))
    line = error_line(cli("run", scene, "--out", tmp_path / "out", *FAST))
    assert str(path) in line and all(word in line for word in words)


def test_missing_checkpoint_gives_one_line(cli, tmp_path, tiny_sd):
    scene = project(tmp_path, tmp_path / "models" / "nothing.safetensors")
    line = error_line(cli("run", scene, "--out", tmp_path / "out", *FAST))
    assert "model.base" in line and "nothing.safetensors" in line and "does not exist" in line


def test_a_hub_id_that_is_not_cached_offline_gives_one_line(cli, tmp_path):
    scene = project(tmp_path, "nobody-here/no-such-model", shots=[2])
    line = error_line(cli("run", scene, "--out", tmp_path / "out", *FAST))
    assert "nobody-here/no-such-model" in line and "not in the local Hugging Face cache" in line


def test_a_bad_lora_stops_the_run_keeps_finished_frames_and_resume_finishes(cli, tmp_path, tiny_sd):
    scene = project(tmp_path, tiny_sd, shots=[9, 7, 2])
    bad = tmp_path / "loras" / "close_up.safetensors"
    bad.write_bytes(b"not weights at all" * 20)
    line = error_line(cli("run", scene, "--out", tmp_path / "out", *FAST))
    assert str(bad) in line and "damaged" in line and "--resume" in line
    assert len(list((tmp_path / "out" / "frames" / "versions").glob("*.png"))) == 2
    write_lora(bad, 10)
    result = cli("run", scene, "--out", tmp_path / "out", *FAST, "--resume")
    assert result.exit_code == 0, result.output
    assert "1 rendered, 2 reused" in result.stdout
    assert len(shots_bytes(tmp_path / "out")) == 3


def test_an_sdxl_lora_is_named_and_refused(cli, tmp_path, tiny_sd):
    scene = project(tmp_path, tiny_sd, shots=[2])
    write_sdxl_like_lora(tmp_path / "loras" / "kaito.safetensors", 3)
    line = error_line(cli("run", scene, "--out", tmp_path / "out", *FAST))
    assert "kaito.safetensors" in line and "SDXL" in line and "SD 1.5" in line


def test_pickle_lora_needs_the_explicit_flag(cli, tmp_path, tiny_sd):
    scene = project(tmp_path, tiny_sd, shots=[2])
    write_pickle_lora(tmp_path / "loras" / "kaito.bin", 3)
    path = tmp_path / "library.toml"
    path.write_text(path.read_text().replace("loras/kaito.safetensors", "loras/kaito.bin"))
    line = error_line(cli("run", scene, "--out", tmp_path / "out", *FAST))
    assert "kaito.bin" in line and "--allow-pickle" in line
    result = cli("run", scene, "--out", tmp_path / "out2", *FAST, "--allow-pickle")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(("option", "value"), [("--steps", "0"), ("--guidance", "-1"), ("--scheduler", "plms"),
                                               ("--candidates", "9")])
def test_bad_render_options(cli, tmp_path, option, value):
    scene = project(tmp_path, tmp_path, shots=[2])
    line = error_line(cli("run", scene, "--out", tmp_path / "out", option, value))
    assert option in line and "expected" in line


def test_a_class_word_that_differs_from_the_librarys_is_refused(cli, tmp_path, tiny_sd):
    scene = project(tmp_path, tiny_sd, shots=[2])
    scene.write_text(scene.read_text().replace('class = "man"', 'class = "boy"'))
    line = error_line(cli("run", scene, "--out", tmp_path / "out", *FAST))
    assert "characters.kaitoyosuke.class" in line and "'man'" in line and "'boy'" in line


def test_clip_critique_runs_with_the_diffusers_renderer(cli, tmp_path, tiny_sd, tiny_clip):
    scene = project(tmp_path, tiny_sd, shots=[2, 6, 2], extra="[critique]\nthreshold = 0\n")
    path = tmp_path / "library.toml"
    path.write_text(path.read_text().replace("[model]\n", f'[model]\nclip = "{tiny_clip}"\n'))
    result = cli("run", scene, "--out", tmp_path / "out", *FAST, "--candidates", "2")
    assert result.exit_code == 0 and "notice" not in result.output, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith("frame ") and "CLIP" in line]
    assert [line.split(" · ")[0] for line in lines] == ["frame 0", "frame 1", "frame 2"]
    for frame in document(tmp_path / "out")["frames"]:
        critique = frame["critique"]
        assert critique["scorer"] == str(tiny_clip) and set(critique["shot_check"]) == {"predicted", "probability", "ok"}
        assert critique["clip_score"] == max(v["clip_score"] for v in frame["versions"])


def test_a_folder_that_is_not_clip_stops_the_run_before_drawing_with_one_line(cli, tmp_path, tiny_sd, tiny_clip):
    scene = project(tmp_path, tiny_sd, shots=[2, 6], extra="[critique]\nthreshold = 0\n")
    (tmp_path / "not-clip").mkdir()
    path = tmp_path / "library.toml"
    path.write_text(path.read_text().replace("[model]\n", '[model]\nclip = "not-clip"\n'))
    line = error_line(cli("run", scene, "--out", tmp_path / "out", *FAST))
    assert "model.clip" in line and "not-clip" in line and "config.json" in line
    assert not list((tmp_path / "out").glob("frames/versions/*.png"))  # refused before an hour of drawing, not after
    path.write_text(path.read_text().replace('clip = "not-clip"', f'clip = "{tiny_clip}"'))
    result = cli("run", scene, "--out", tmp_path / "out", *FAST)
    assert result.exit_code == 0, result.output
    assert all(f["critique"]["clip_score"] is not None for f in document(tmp_path / "out")["frames"])


def test_the_example_library_reads(tmp_path):
    from tools.models.library import load_library

    library = load_library(Path(__file__).resolve().parents[3] / "examples" / "models" / "library.toml")
    assert library.base == "stable-diffusion-v1-5/stable-diffusion-v1-5" and library.weights.close == 1.0
