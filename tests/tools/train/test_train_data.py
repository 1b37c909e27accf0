"""Training data for LoRAs (squared pictures, captions, files set aside with a reason) and the library.toml
edits that record a trained LoRA, on real files."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from tools.errors import LibraryError, TrainDataError
from tools.models.library import FILE_NAME, load_library
from tools.models.manifest import add_character, add_shot, lora_reference
from tools.train.data import IMAGE_SUFFIXES, MIN_IMAGES, Example, fit_image, read_examples

RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)
PROMPT = "picture of kaitoyosuke man"


def picture(path: Path, size: tuple[int, int] = (80, 80), colour=(120, 90, 60), mode: str = "RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour).save(path)
    return path


def near(pixel, colour, slack: int = 40) -> bool:
    return all(abs(a - b) <= slack for a, b in zip(pixel, colour))


# --- fit_image ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(300, 200), (200, 300), (64, 64), (40, 50), (1000, 37)])
@pytest.mark.parametrize("crop", ["centre", "top"])
def test_fit_image_makes_a_square_of_the_resolution(size, crop):
    fitted = fit_image(Image.new("RGB", size, RED), 64, crop)
    assert fitted.size == (64, 64)
    assert fitted.mode == "RGB"


def tall_with_red_top() -> Image.Image:
    image = Image.new("RGB", (100, 300), WHITE)
    image.paste(RED, (0, 0, 100, 10))
    return image


def test_top_crop_keeps_the_top_rows_and_centre_crop_cuts_them():
    top = fit_image(tall_with_red_top(), 64, "top")
    centre = fit_image(tall_with_red_top(), 64, "centre")
    assert near(top.getpixel((32, 1)), RED)
    assert all(near(centre.getpixel((x, y)), WHITE) for x in (5, 32, 60) for y in (0, 1, 32, 63))


def test_top_crop_still_centres_a_wide_picture():
    image = Image.new("RGB", (300, 100), WHITE)
    image.paste(BLUE, (140, 0, 160, 100))
    fitted = fit_image(image, 64, "top")
    assert near(fitted.getpixel((32, 32)), BLUE)
    assert fitted.tobytes() == fit_image(image, 64, "centre").tobytes()


def test_an_unknown_crop_is_refused():
    with pytest.raises(ValueError, match="centre, top"):
        fit_image(Image.new("RGB", (10, 10)), 8, "bottom")


# --- read_examples ------------------------------------------------------------------------------------


def good_folder(folder: Path, count: int = 3) -> Path:
    for i in range(count):
        picture(folder / f"good{i}.png")
    return folder


def test_examples_come_in_name_order_squared_with_the_prompt(tmp_path):
    for name in ("c.webp", "a.jpg", "B.PNG", "d.jpeg"):
        picture(tmp_path / name, (90, 70))
    examples, skipped = read_examples(tmp_path, 64, PROMPT)
    assert [e.path.name for e in examples] == ["B.PNG", "a.jpg", "c.webp", "d.jpeg"]
    assert skipped == []
    assert all(isinstance(e, Example) and e.image.size == (64, 64) and e.image.mode == "RGB" for e in examples)
    assert {e.prompt for e in examples} == {PROMPT}
    assert all(e.notice is None for e in examples)
    assert ".webp" in IMAGE_SUFFIXES


def test_exif_rotation_is_applied(tmp_path):
    stored = Image.new("RGB", (80, 40), RED)  # left half red, right half blue, as stored in the file
    stored.paste(BLUE, (40, 0, 80, 40))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display": the left side ends up on top
    for i in range(3):
        stored.save(tmp_path / f"photo{i}.jpg", exif=exif, quality=95)
    examples, _ = read_examples(tmp_path, 40, PROMPT)
    image = examples[0].image
    assert near(image.getpixel((20, 4)), RED) and near(image.getpixel((4, 4)), RED)
    assert near(image.getpixel((20, 36)), BLUE) and near(image.getpixel((36, 36)), BLUE)


def test_transparent_palette_and_grey_pictures_become_rgb(tmp_path):
    rgba = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    rgba.paste((255, 0, 0, 255), (0, 32, 64, 64))
    rgba.save(tmp_path / "a_rgba.png")
    Image.new("L", (64, 64), 128).save(tmp_path / "b_grey.png")
    Image.new("RGB", (64, 64), BLUE).convert("P").save(tmp_path / "c_palette.png")
    examples, skipped = read_examples(tmp_path, 64, PROMPT)
    assert skipped == []
    transparent, grey, palette = (e.image for e in examples)
    assert {e.image.mode for e in examples} == {"RGB"}
    assert transparent.getpixel((10, 5)) == WHITE and transparent.getpixel((10, 60)) == RED
    assert grey.getpixel((0, 0)) == (128, 128, 128)
    assert palette.getpixel((0, 0)) == BLUE


def test_unreadable_and_tiny_files_are_set_aside_with_a_reason(tmp_path):
    good_folder(tmp_path)
    (tmp_path / "fake.png").write_text("this is not a picture", encoding="utf-8")
    picture(tmp_path / "tiny.png", (10, 10))
    picture(tmp_path / "thin.jpg", (200, 20))
    (tmp_path / "notes.md").write_text("ignored", encoding="utf-8")
    (tmp_path / "good0.txt").write_text("a caption file, never reported", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    picture(tmp_path / "sub" / "nested.png")
    examples, skipped = read_examples(tmp_path, 64, PROMPT)
    assert [e.path.name for e in examples] == ["good0.png", "good1.png", "good2.png"]
    assert [(p.name, reason) for p, reason in skipped] == [
        ("fake.png", "not an image Pillow can read"),
        ("thin.jpg", "too small: 200x20, expected at least 32 px on the shorter side"),
        ("tiny.png", "too small: 10x10, expected at least 32 px on the shorter side"),
    ]


def test_a_truncated_picture_is_set_aside(tmp_path):
    good_folder(tmp_path)
    whole = picture(tmp_path / "whole.png", (200, 200), RED).read_bytes()
    (tmp_path / "whole.png").write_bytes(whole[: len(whole) // 2])
    _, skipped = read_examples(tmp_path, 64, PROMPT)
    assert [(p.name, reason) for p, reason in skipped] == [("whole.png", "not an image Pillow can read")]


def test_captions_are_used_and_a_missing_one_falls_back_with_a_notice(tmp_path):
    for name in ("a", "b", "c", "d"):
        picture(tmp_path / f"{name}.png")
    (tmp_path / "a.txt").write_text("  kaitoyosuke man\r\n  smiling\t at\x1b[31m the camera \n", encoding="utf-8")
    (tmp_path / "c.txt").write_text(" \n\t\n", encoding="utf-8")
    (tmp_path / "d.txt").write_text("kaitoyosuke man running", encoding="utf-8")
    examples, skipped = read_examples(tmp_path, 64, PROMPT, captions=True)
    by_name = {e.path.name: e for e in examples}
    assert by_name["a.png"].prompt == "kaitoyosuke man smiling at[31m the camera"
    assert by_name["b.png"].prompt == PROMPT
    assert "b.txt" in by_name["b.png"].notice
    assert by_name["d.png"].prompt == "kaitoyosuke man running" and by_name["d.png"].notice is None
    assert [(p.name, reason) for p, reason in skipped] == [("c.png", "caption file c.txt is empty")]


def test_captions_are_ignored_unless_asked_for(tmp_path):
    good_folder(tmp_path)
    (tmp_path / "good0.txt").write_text("something else", encoding="utf-8")
    examples, _ = read_examples(tmp_path, 64, PROMPT)
    assert {e.prompt for e in examples} == {PROMPT}


def test_fewer_than_three_usable_images_is_an_error_naming_the_skipped(tmp_path):
    good_folder(tmp_path, MIN_IMAGES - 1)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG nonsense")
    with pytest.raises(TrainDataError) as caught:
        read_examples(tmp_path, 64, PROMPT)
    message = str(caught.value)
    assert "\n" not in message
    assert message == (f"{tmp_path}: expected at least 3 usable images; found 2 "
                       "(1 skipped: broken.png: not an image Pillow can read)")
    assert isinstance(caught.value, LibraryError)


def test_an_empty_missing_or_file_folder_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no pictures here", encoding="utf-8")
    with pytest.raises(TrainDataError, match="empty: no images; expected at least 3"):
        read_examples(tmp_path / "empty", 64, PROMPT)
    with pytest.raises(TrainDataError, match="missing: no such folder"):
        read_examples(tmp_path / "missing", 64, PROMPT)
    picture(tmp_path / "file.png")
    with pytest.raises(TrainDataError, match="file.png: not a folder"):
        read_examples(tmp_path / "file.png", 64, PROMPT)


# --- the library manifest -----------------------------------------------------------------------------


MANIFEST = """\
# models for the investigation board
[model]
base = "stable-diffusion-v1-5/stable-diffusion-v1-5"  # the checkpoint

[shots]                       # shot LoRAs
# close_up = "loras/old.safetensors"
long = "loras/long.safetensors"  # trained in May

[characters.kaitoyosuke]      # the detective
class = "boy"  # to be retrained
lora = "loras/old.safetensors"

# how hard each LoRA pulls
[weights]
close = 1.0
"""


def lora_file(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"stand-in LoRA")
    return path


@pytest.fixture
def manifest(tmp_path) -> Path:
    for name in ("long", "old"):
        lora_file(tmp_path / "loras" / f"{name}.safetensors")
    path = tmp_path / FILE_NAME
    path.write_text(MANIFEST, encoding="utf-8")
    return path


def test_add_character_replaces_an_entry_and_keeps_every_comment(manifest, tmp_path):
    lora = lora_file(tmp_path / "loras" / "kaitoyosuke" / "kaitoyosuke.safetensors")
    add_character(manifest, "kaitoyosuke", "man", lora)
    text = manifest.read_text(encoding="utf-8")
    assert text == MANIFEST.replace('class = "boy"', 'class = "man"').replace(
        'lora = "loras/old.safetensors"', 'lora = "loras/kaitoyosuke/kaitoyosuke.safetensors"')
    library = load_library(manifest)
    assert library.characters == {"kaitoyosuke": str(lora.resolve())}
    assert library.classes == {"kaitoyosuke": "man"}
    assert library.source == str(manifest)


def test_add_character_adds_a_table_after_the_other_characters(manifest, tmp_path):
    lora = lora_file(tmp_path / "loras" / "jiyeonmun.safetensors")
    add_character(manifest, "jiyeonmun", "woman", lora)
    text = manifest.read_text(encoding="utf-8")
    assert ('lora = "loras/old.safetensors"\n\n[characters.jiyeonmun]\nclass = "woman"\n'
            'lora = "loras/jiyeonmun.safetensors"\n\n# how hard each LoRA pulls\n') in text
    assert text.startswith("# models for the investigation board\n")
    library = load_library(manifest)
    assert library.classes == {"kaitoyosuke": "boy", "jiyeonmun": "woman"}


def test_add_shot_replaces_a_line_or_adds_one(manifest, tmp_path):
    long = lora_file(tmp_path / "loras" / "long2.safetensors")
    close = lora_file(tmp_path / "loras" / "close_up" / "close_up.safetensors")
    add_shot(manifest, "long", long)
    add_shot(manifest, "close_up", close)
    text = manifest.read_text(encoding="utf-8")
    assert 'long = "loras/long2.safetensors"  # trained in May\nclose_up = "loras/close_up/close_up.safetensors"\n' \
        in text
    assert '# close_up = "loras/old.safetensors"\n' in text
    assert load_library(manifest).shots == {"long": str(long.resolve()), "close_up": str(close.resolve())}


def test_add_shot_creates_the_shots_table(tmp_path):
    path = tmp_path / FILE_NAME
    path.write_text('[model]\nbase = "stable-diffusion-v1-5/stable-diffusion-v1-5"', encoding="utf-8")  # no newline
    outside = lora_file(tmp_path.parent / f"{tmp_path.name}-elsewhere" / "medium.safetensors")
    add_shot(path, "medium", outside)
    text = path.read_text(encoding="utf-8")
    assert text == ('[model]\nbase = "stable-diffusion-v1-5/stable-diffusion-v1-5"\n\n[shots]\n'
                    f'medium = "{outside.resolve()}"\n')
    assert load_library(path).shots == {"medium": str(outside.resolve())}


def test_an_entry_goes_into_a_last_table_whose_last_line_has_no_newline(tmp_path):
    path = tmp_path / FILE_NAME
    close, long = lora_file(tmp_path / "close.safetensors"), lora_file(tmp_path / "long.safetensors")
    path.write_text('[model]\nbase = "stable-diffusion-v1-5/stable-diffusion-v1-5"\n\n[shots]\n'
                    'close_up = "close.safetensors"', encoding="utf-8")  # no newline at the end
    add_shot(path, "long", long)
    assert path.read_text(encoding="utf-8").endswith('[shots]\nclose_up = "close.safetensors"\n'
                                                     'long = "long.safetensors"\n')
    assert load_library(path).shots == {"close_up": str(close.resolve()), "long": str(long.resolve())}


def test_paths_are_relative_inside_the_manifest_folder_and_absolute_outside(tmp_path):
    manifest = tmp_path / "models" / FILE_NAME
    assert lora_reference(manifest, tmp_path / "models" / "loras" / "a.safetensors") == "loras/a.safetensors"
    assert lora_reference(manifest, tmp_path / "a.safetensors") == str((tmp_path / "a.safetensors").resolve())


def test_crlf_manifests_keep_their_line_endings(tmp_path):
    path = tmp_path / FILE_NAME
    path.write_bytes(b'[model]\r\nbase = "stable-diffusion-v1-5/stable-diffusion-v1-5"\r\n')
    add_character(path, "kaitoyosuke", "man", lora_file(tmp_path / "k.safetensors"))
    assert path.read_bytes() == (b'[model]\r\nbase = "stable-diffusion-v1-5/stable-diffusion-v1-5"\r\n\r\n'
                                 b'[characters.kaitoyosuke]\r\nclass = "man"\r\nlora = "k.safetensors"\r\n')


def test_a_missing_manifest_is_one_line(tmp_path):
    with pytest.raises(LibraryError, match="no such library file"):
        add_character(tmp_path / FILE_NAME, "kaitoyosuke", "man", lora_file(tmp_path / "k.safetensors"))
    assert not (tmp_path / FILE_NAME).exists()


def test_a_layout_the_editor_does_not_follow_is_left_alone(tmp_path):
    lora_file(tmp_path / "old.safetensors")
    path = tmp_path / FILE_NAME
    text = ('[model]\nbase = "stable-diffusion-v1-5/stable-diffusion-v1-5"\n[characters]\n'
            'kaitoyosuke = { class = "boy", lora = "old.safetensors" }\n')
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LibraryError) as caught:
        add_character(path, "kaitoyosuke", "man", lora_file(tmp_path / "k.safetensors"))
    assert "by hand" in str(caught.value) and "[characters.kaitoyosuke]" in str(caught.value)
    assert path.read_text(encoding="utf-8") == text


def test_an_entry_that_would_not_load_leaves_the_file_as_it_was(manifest, tmp_path):
    before = manifest.read_bytes()
    with pytest.raises(LibraryError, match="does not exist"):
        add_shot(manifest, "full", tmp_path / "loras" / "never-written.safetensors")
    assert manifest.read_bytes() == before
