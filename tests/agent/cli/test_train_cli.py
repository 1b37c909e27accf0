"""`shotsmith train character` and `shotsmith train shot`: bad input stops with one line and exit 2 before
any model loads, leaving library.toml alone; a real (tiny) training run records its LoRA in the library."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from agent.cli.app import app
from tools.models.library import FILE_NAME, load_library

HUB = "stable-diffusion-v1-5/stable-diffusion-v1-5"
LIBRARY = f'# the board\'s models\n[model]\nbase = "{HUB}"\n'


def invoke(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


def one_error_line(result, says_expected: bool = True) -> str:
    """Check the command failed with exit 2 and exactly one line on stderr (saying what was expected)."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert "expected" in lines[0] or not says_expected, lines[0]
    return lines[0]


def pictures(folder: Path, count: int, size: int = 64) -> Path:
    """Write `count` small distinct pictures into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        image = Image.new("RGB", (size, size), (40 * i % 256, 90, 200 - 30 * i % 200))
        image.paste((250, 220, 180), (size // 4, size // 8, 3 * size // 4, size // 2))
        image.save(folder / f"person{i}.png")
    return folder


@pytest.fixture
def library(tmp_path) -> Path:
    path = tmp_path / FILE_NAME
    path.write_text(LIBRARY, encoding="utf-8")
    return path


@pytest.fixture
def images(tmp_path) -> Path:
    return pictures(tmp_path / "kaito", 4)


def character(library: Path, *args: object):
    return invoke("train", "character", *args, "--library", library)


# --- bad input: one line, exit 2, nothing written -------------------------------------------------------


def test_an_empty_folder(library, tmp_path):
    (tmp_path / "empty").mkdir()
    line = one_error_line(character(library, "kaitoyosuke", "--class", "man", "--images", tmp_path / "empty"))
    assert "no images" in line
    assert library.read_text(encoding="utf-8") == LIBRARY


def test_two_usable_images(library, tmp_path):
    folder = pictures(tmp_path / "two", 2)
    (folder / "broken.png").write_text("not a picture", encoding="utf-8")
    line = one_error_line(character(library, "kaitoyosuke", "--class", "man", "--images", folder,
                                    "--resolution", 64))
    assert "expected at least 3 usable images; found 2 (1 skipped: broken.png: not an image Pillow can read)" in line
    assert library.read_text(encoding="utf-8") == LIBRARY


def test_a_token_with_a_space(library, images):
    line = one_error_line(character(library, "kaito yosuke", "--class", "man", "--images", images))
    assert line == ("error: TOKEN: expected one word with no spaces, such as kaitoyosuke (letters, digits, - and _); "
                    "got 'kaito yosuke'")


@pytest.mark.parametrize("words", [[], ["--class", ""], ["--class", "young man"]])
def test_a_missing_or_spaced_class_word(library, images, words):
    line = one_error_line(character(library, "kaitoyosuke", *words, "--images", images))
    assert line.startswith("error: --class: expected one class word such as man or woman")


@pytest.mark.parametrize("slug", ["wide", "10", "0", "close-up"])
def test_an_unknown_shot_slug(library, images, slug):
    line = one_error_line(invoke("train", "shot", slug, "--images", images, "--library", library))
    assert f"got {slug!r}" in line and "close_up" in line and "extreme_long" in line


@pytest.mark.parametrize("slug", ["detail", "9"])
def test_detail_has_no_shot_lora(library, images, slug):
    line = one_error_line(invoke("train", "shot", slug, "--images", images, "--library", library))
    assert "detail inserts use no shot-type LoRA" in line


@pytest.mark.parametrize("option, value, words", [
    ("--resolution", 500, "--resolution: expected a multiple of 8 from 64 to 2048, got 500"),
    ("--resolution", 4096, "--resolution: expected a multiple of 8"),
    ("--steps", 0, "--steps: expected a whole number of at least 1"),
    ("--rank", 0, "--rank: expected a whole number of at least 1"),
    ("--lr", 0, "--lr: expected a learning rate above 0"),
    ("--crop", "bottom", "--crop: expected centre or top"),
    ("--checkpoint-every", 0, "--checkpoint-every: expected"),
])
def test_numbers_out_of_range(library, images, option, value, words):
    line = one_error_line(character(library, "kaitoyosuke", "--class", "man", "--images", images, option, value))
    assert words in line
    assert library.read_text(encoding="utf-8") == LIBRARY


def test_a_missing_library(tmp_path, images):
    line = one_error_line(character(tmp_path / "nowhere.toml", "kaitoyosuke", "--class", "man", "--images", images))
    assert "nowhere.toml: no such file" in line


def test_missing_images_option(library):
    line = one_error_line(character(library, "kaitoyosuke", "--class", "man"))
    assert line.startswith("error: --images: expected the folder of training images")


def test_class_images_need_prior_preservation(library, images, tmp_path):
    line = one_error_line(invoke("train", "shot", "close_up", "--images", images, "--library", library,
                                 "--class-images", images))
    assert "--prior" in line
    line = one_error_line(character(library, "kaitoyosuke", "--class", "man", "--images", images,
                                    "--class-images", tmp_path / "nowhere"))
    assert "nowhere: no such folder" in line


def test_the_checks_come_in_order(library, tmp_path):
    """Token before class, class before numbers, numbers before the library, the library before images."""
    line = one_error_line(invoke("train", "character", "a b", "--resolution", 3, "--library", tmp_path / "x"))
    assert "TOKEN" in line
    line = one_error_line(invoke("train", "character", "ab", "--resolution", 3, "--library", tmp_path / "x"))
    assert "--class" in line
    line = one_error_line(invoke("train", "character", "ab", "--class", "man", "--resolution", 3,
                                 "--library", tmp_path / "x"))
    assert "--resolution" in line
    line = one_error_line(invoke("train", "character", "ab", "--class", "man", "--library", tmp_path / "x",
                                 "--images", tmp_path / "none"))
    assert "--library" in line


def test_help_lists_both_commands():
    result = invoke("train", "--help")
    assert result.exit_code == 0
    assert "character" in result.output and "shot" in result.output


# --- a real training run on the tiny model --------------------------------------------------------------


def test_training_a_character_adds_it_to_the_library(tmp_path, tiny_sd, images, monkeypatch):
    monkeypatch.setenv("SHOTSMITH_CACHE", str(tmp_path / "cache"))
    library = tmp_path / "models" / FILE_NAME
    library.parent.mkdir()
    library.write_text(f'# tiny\n[model]\nbase = "{tiny_sd}"\n', encoding="utf-8")
    (images / "notes.txt").write_text("not a caption", encoding="utf-8")
    Image.new("RGB", (10, 10)).save(images / "tiny.png")
    result = character(library, "kaitoyosuke", "--class", "man", "--images", images, "--steps", 2,
                       "--resolution", 64, "--checkpoint-every", 1, "--class-count", 2, "--class-steps", 2)
    assert result.exit_code == 0, (result.output, result.stderr)
    lora = library.parent / "loras" / "kaitoyosuke" / "kaitoyosuke.safetensors"
    assert lora.is_file() and lora.with_suffix(".json").is_file()
    assert "skipped tiny.png: too small: 10x10, expected at least 32 px on the shorter side" in result.output
    assert "step 1/2" in result.output and "step 2/2" in result.output
    added = '[characters.kaitoyosuke] class = "man", lora = "loras/kaitoyosuke/kaitoyosuke.safetensors"'
    assert added in result.output
    text = library.read_text(encoding="utf-8")
    assert text.startswith("# tiny\n")
    assert '[characters.kaitoyosuke]\nclass = "man"\nlora = "loras/kaitoyosuke/kaitoyosuke.safetensors"\n' in text
    loaded = load_library(library)
    assert loaded.characters == {"kaitoyosuke": str(lora.resolve())}
    assert loaded.classes == {"kaitoyosuke": "man"}
    assert list((tmp_path / "cache").rglob("*.png"))  # the class images were drawn into the cache

    again = character(library, "kaitoyosuke", "--class", "man", "--images", images, "--steps", 2,
                      "--resolution", 64, "--class-count", 2, "--class-steps", 2)
    assert "already holds a training run" in one_error_line(again, says_expected=False)
    assert library.read_text(encoding="utf-8") == text


def test_training_a_shot_by_number_adds_it_to_the_shots_table(tmp_path, tiny_sd, images, monkeypatch):
    import json

    monkeypatch.setenv("SHOTSMITH_CACHE", str(tmp_path / "cache"))
    library = tmp_path / FILE_NAME
    library.write_text(f'[model]\nbase = "{tiny_sd}"\n', encoding="utf-8")
    (images / "person0.txt").write_text("close up of a person, rain", encoding="utf-8")
    (images / "person1.txt").write_text("a face in the rain", encoding="utf-8")
    out = tmp_path / "close"
    result = invoke("train", "shot", "2", "--images", images, "--steps", 1, "--resolution", 64, "--class-steps", 2,
                    "--captions", "--crop", "top", "--out", out, "--library", library)
    assert result.exit_code == 0, (result.output, result.stderr)
    assert "notice: person1.png: its caption does not mention 'close up of a person'" in result.output
    assert "notice: person2.png: no caption file person2.txt" in result.output
    lora = out / "close_up.safetensors"
    settings = json.loads(lora.with_suffix(".json").read_text(encoding="utf-8"))
    assert settings["instance_prompt"] == "close up of a person" and settings["class_prompt"] is None
    assert '[shots] close_up = "close/close_up.safetensors"' in result.output
    assert load_library(library).shots == {"close_up": str(lora.resolve())}
    assert not (tmp_path / "cache").exists()  # no prior preservation, so no class images
