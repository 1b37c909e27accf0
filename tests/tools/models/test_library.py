"""The model library manifest: paths against the manifest's folder, hub ids, LoRA files that must exist,
the weight policy, the scene's own cast, and one-line errors that name the manifest and the key."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tools.errors import LibraryError
from tools.models.library import (FILE_NAME, MEMORY_MODES, Library, Weights, find_library, is_hub_id, load_library,
                                  parse_library)

HUB = "stable-diffusion-v1-5/stable-diffusion-v1-5"
SLUGS = ["extreme_close_up", "close_up", "medium_close_up", "medium", "american", "full", "long", "extreme_long"]
"""Every shot type that may have a LoRA (all but detail)."""


def lora(path: Path) -> Path:
    """Write a stand-in LoRA file (the manifest only checks it exists) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not really a lora")
    return path


def write_manifest(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FILE_NAME
    path.write_text(text, encoding="utf-8")
    return path


def parse(data: dict, folder: Path) -> Library:
    return parse_library(data, folder)


def error_of(data: dict, folder: Path) -> str:
    with pytest.raises(LibraryError) as caught:
        parse_library(data, folder)
    return str(caught.value)


# --- model references ---------------------------------------------------------------------------------


def test_hub_id_stays_a_hub_id(tmp_path):
    library = parse({"model": {"base": HUB}}, tmp_path)
    assert library.base == HUB
    assert not library.is_local()
    assert library.memory == "normal"
    assert library.shots == {} and library.characters == {} and library.classes == {}
    assert library.weights == Weights()


def test_relative_base_resolves_against_manifest_folder_not_cwd(tmp_path, monkeypatch):
    folder = tmp_path / "lib"
    checkpoint = lora(folder / "models" / "model.safetensors")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    library = parse({"model": {"base": "models/model.safetensors"}}, folder)
    assert Path(library.base) == checkpoint.resolve()
    assert Path(library.base).is_absolute()
    assert library.is_local()


def test_relative_base_in_cwd_only_is_not_found(tmp_path, monkeypatch):
    """A file beside the cwd does not count when the manifest's folder lacks it."""
    lora(tmp_path / "models" / "model.safetensors")
    folder = tmp_path / "lib"
    folder.mkdir()
    monkeypatch.chdir(tmp_path)
    message = error_of({"model": {"base": "models/model.safetensors"}}, folder)
    assert message.startswith("model.base: ")
    assert str(folder / "models" / "model.safetensors") in message


def test_local_folder_named_like_a_hub_id_is_local(tmp_path):
    (tmp_path / "owner" / "name").mkdir(parents=True)
    library = parse({"model": {"base": "owner/name"}}, tmp_path)
    assert library.base == str((tmp_path / "owner" / "name").resolve())
    assert library.is_local()


def test_hub_id_does_not_depend_on_cwd(tmp_path, monkeypatch):
    """A folder "owner/name" under the cwd must not turn the manifest's hub id into a missing path."""
    (tmp_path / "owner" / "name").mkdir(parents=True)
    folder = tmp_path / "lib"
    folder.mkdir()
    monkeypatch.chdir(tmp_path)
    assert parse({"model": {"base": "owner/name"}}, folder).base == "owner/name"


def test_config_inpaint_clip_and_negative(tmp_path):
    (tmp_path / "configs").mkdir()
    library = parse({"model": {"base": HUB, "config": "configs",
                               "inpaint": "owner/inpaint", "clip": "openai/clip-vit-base-patch32",
                               "negative": "  ugly, blurry  "}}, tmp_path)
    assert library.config == str((tmp_path / "configs").resolve())
    assert library.inpaint == "owner/inpaint"
    assert library.clip == "openai/clip-vit-base-patch32"
    assert library.negative == "ugly, blurry"


@pytest.mark.parametrize("name", [HUB, "owner/name", "a1/b.c-d_e"])
def test_is_hub_id_accepts_owner_slash_name(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert is_hub_id(name)


@pytest.mark.parametrize("name", ["models/x.safetensors", "owner/name.ckpt", "./nowhere", "/abs/path",
                                  "a/b/c", "justaname", "-x/y", "owner/"])
def test_is_hub_id_rejects_paths(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert not is_hub_id(name)


@pytest.mark.parametrize("model", [{}, {"config": "x/y"}, "not a table"])
def test_missing_base(model, tmp_path):
    message = error_of({"model": model}, tmp_path)
    assert message.startswith("model.base: expected")


def test_no_model_section(tmp_path):
    assert error_of({}, tmp_path).startswith("model.base: ")


@pytest.mark.parametrize("base", ["models/x.safetensors", "./nowhere", "a/b/c"])
def test_missing_local_base_names_it(base, tmp_path):
    message = error_of({"model": {"base": base}}, tmp_path)
    assert message.startswith("model.base: ")
    assert str(tmp_path / base) in message
    assert "does not exist" in message


@pytest.mark.parametrize("key", ["config", "inpaint", "clip"])
def test_missing_local_model_ref_names_key(key, tmp_path):
    message = error_of({"model": {"base": HUB, key: "./gone"}}, tmp_path)
    assert message.startswith(f"model.{key}: ")
    assert "gone" in message


@pytest.mark.parametrize("value", ["", "   ", 3, ["x"]])
def test_base_must_be_text(value, tmp_path):
    assert error_of({"model": {"base": value}}, tmp_path).startswith("model.base: expected a non-empty text")


def test_unknown_top_level_section(tmp_path):
    message = error_of({"model": {"base": HUB}, "loras": {}}, tmp_path)
    assert "'loras'" in message
    for section in ("characters", "model", "shots", "weights"):
        assert section in message


def test_unknown_model_key(tmp_path):
    message = error_of({"model": {"base": HUB, "vae": "x/y"}}, tmp_path)
    assert message.startswith("model.vae: unknown key")
    assert "base" in message and "memory" in message


@pytest.mark.parametrize("mode", MEMORY_MODES)
def test_memory_modes(mode, tmp_path):
    assert parse({"model": {"base": HUB, "memory": mode}}, tmp_path).memory == mode


def test_memory_modes_are_the_three_documented():
    assert set(MEMORY_MODES) == {"normal", "slicing", "offload"}


@pytest.mark.parametrize("mode", ["fast", "Offload", 1])
def test_bad_memory_mode(mode, tmp_path):
    message = error_of({"model": {"base": HUB, "memory": mode}}, tmp_path)
    assert message.startswith("model.memory: expected")


# --- shot LoRAs ---------------------------------------------------------------------------------------


def test_every_shot_slug_takes_a_lora(tmp_path):
    shots = {slug: f"loras/{slug}.safetensors" for slug in SLUGS}
    for path in shots.values():
        lora(tmp_path / path)
    library = parse({"model": {"base": HUB}, "shots": shots}, tmp_path)
    assert library.shots == {slug: str((tmp_path / path).resolve()) for slug, path in shots.items()}


def test_unknown_shot_slug_lists_the_eight(tmp_path):
    lora(tmp_path / "x.safetensors")
    message = error_of({"model": {"base": HUB}, "shots": {"closeup": "x.safetensors"}}, tmp_path)
    assert message.startswith("shots.closeup: unknown shot type")
    assert message.endswith(", ".join(SLUGS))
    assert "detail" not in message


def test_detail_shot_has_its_own_message(tmp_path):
    lora(tmp_path / "x.safetensors")
    message = error_of({"model": {"base": HUB}, "shots": {"detail": "x.safetensors"}}, tmp_path)
    assert message.startswith("shots.detail: ")
    assert "no shot-type LoRA" in message
    assert "unknown" not in message


def test_missing_shot_lora_names_key_and_path(tmp_path):
    message = error_of({"model": {"base": HUB}, "shots": {"close_up": "loras/cu.safetensors"}}, tmp_path)
    assert message.startswith("shots.close_up: ")
    assert str(tmp_path / "loras" / "cu.safetensors") in message
    assert "does not exist" in message


def test_shot_lora_that_is_a_folder(tmp_path):
    (tmp_path / "loras" / "cu.safetensors").mkdir(parents=True)
    message = error_of({"model": {"base": HUB}, "shots": {"close_up": "loras/cu.safetensors"}}, tmp_path)
    assert message.startswith("shots.close_up: ")
    assert "is not a file" in message


@pytest.mark.parametrize("value", ["", 4])
def test_shot_lora_must_be_text(value, tmp_path):
    message = error_of({"model": {"base": HUB}, "shots": {"long": value}}, tmp_path)
    assert message.startswith("shots.long: expected")


def test_shots_must_be_a_table(tmp_path):
    assert error_of({"model": {"base": HUB}, "shots": ["a"]}, tmp_path).startswith("shots: expected")


# --- characters ---------------------------------------------------------------------------------------


def test_characters_with_and_without_lora(tmp_path):
    lora(tmp_path / "loras" / "kaito.safetensors")
    library = parse({"model": {"base": HUB}, "characters": {
        "kaitoyosuke": {"class": "man", "lora": "loras/kaito.safetensors"},
        "jiyeonmun": {"class": "woman"},
    }}, tmp_path)
    assert library.characters == {"kaitoyosuke": str((tmp_path / "loras" / "kaito.safetensors").resolve())}
    assert library.classes == {"kaitoyosuke": "man", "jiyeonmun": "woman"}


def test_missing_character_lora_names_key_and_path(tmp_path):
    message = error_of({"model": {"base": HUB},
                        "characters": {"kaitoyosuke": {"lora": "loras/kaito.safetensors"}}}, tmp_path)
    assert message.startswith("characters.kaitoyosuke.lora: ")
    assert str(tmp_path / "loras" / "kaito.safetensors") in message


def test_character_lora_that_is_a_folder(tmp_path):
    (tmp_path / "kaito").mkdir()
    message = error_of({"model": {"base": HUB}, "characters": {"kaitoyosuke": {"lora": "kaito"}}}, tmp_path)
    assert message.startswith("characters.kaitoyosuke.lora: ")
    assert "is not a file" in message


@pytest.mark.parametrize("characters, where", [
    (["kaitoyosuke"], "characters: expected"),
    ({"kaitoyosuke": "loras/k.safetensors"}, "characters.kaitoyosuke: expected"),
    ({"kaitoyosuke": {"class": "man", "hat": "red"}}, "characters.kaitoyosuke: expected"),
    ({"kaitoyosuke": {"class": ""}}, "characters.kaitoyosuke.class: expected"),
    ({"kaitoyosuke": {"lora": 5}}, "characters.kaitoyosuke.lora: expected"),
])
def test_characters_table_shape(characters, where, tmp_path):
    assert error_of({"model": {"base": HUB}, "characters": characters}, tmp_path).startswith(where)


# --- weights ------------------------------------------------------------------------------------------


def test_weight_defaults():
    weights = Weights()
    assert (weights.shot, weights.close, weights.medium, weights.long, weights.detail, weights.shared) == \
        (1.0, 1.0, 0.9, 0.75, 0.8, 0.85)


def test_weight_overrides_keep_other_defaults(tmp_path):
    library = parse({"model": {"base": HUB}, "weights": {"close": 1, "long": 0.5, "shared": 0}}, tmp_path)
    assert library.weights == Weights(close=1.0, long=0.5, shared=0.0)
    assert library.weights.medium == Weights().medium
    assert isinstance(library.weights.close, float)


def test_weight_bounds_inclusive(tmp_path):
    assert parse({"model": {"base": HUB}, "weights": {"shot": 2, "detail": 0}}, tmp_path).weights == \
        Weights(shot=2.0, detail=0.0)


def test_unknown_weight_key(tmp_path):
    message = error_of({"model": {"base": HUB}, "weights": {"face": 1.0}}, tmp_path)
    assert message.startswith("weights.face: unknown key")
    assert "close" in message and "shared" in message


@pytest.mark.parametrize("value", [-0.1, 2.01, 5, "1.0", True, math.nan, math.inf])
def test_bad_weight_values(value, tmp_path):
    message = error_of({"model": {"base": HUB}, "weights": {"medium": value}}, tmp_path)
    assert message.startswith("weights.medium: expected a number from 0 to 2")


def test_weights_must_be_a_table(tmp_path):
    assert error_of({"model": {"base": HUB}, "weights": 1.0}, tmp_path).startswith("weights: expected")


# --- the scene's own cast -----------------------------------------------------------------------------


def test_with_cast_adds_scene_loras_and_scene_wins(tmp_path):
    lora(tmp_path / "lib" / "kaito.safetensors")
    lora(tmp_path / "lib" / "ji.safetensors")
    library = parse({"model": {"base": HUB}, "characters": {
        "kaitoyosuke": {"lora": "kaito.safetensors"}, "jiyeonmun": {"lora": "ji.safetensors"}}}, tmp_path / "lib")
    mine = str(lora(tmp_path / "scene" / "kaito.safetensors"))
    extra = str(lora(tmp_path / "scene" / "ana.safetensors"))
    cast = library.with_cast({"kaitoyosuke": mine, "anamoreno": extra})
    assert cast.characters == {"kaitoyosuke": mine, "jiyeonmun": library.characters["jiyeonmun"],
                               "anamoreno": extra}
    assert cast.base == library.base and cast.weights == library.weights
    # The original is left as it was.
    assert library.characters["kaitoyosuke"] == str((tmp_path / "lib" / "kaito.safetensors").resolve())


def test_with_cast_missing_lora_raises(tmp_path):
    library = parse({"model": {"base": HUB}}, tmp_path)
    gone = tmp_path / "gone.safetensors"
    with pytest.raises(LibraryError) as caught:
        library.with_cast({"anamoreno": str(gone)})
    assert str(caught.value).startswith("characters.anamoreno.lora: ")
    assert str(gone) in str(caught.value)


def test_with_cast_empty_is_same(tmp_path):
    library = parse({"model": {"base": HUB}}, tmp_path)
    assert library.with_cast({}) == library


# --- load_library and find_library --------------------------------------------------------------------


def test_load_library_reads_the_file(tmp_path, monkeypatch):
    folder = tmp_path / "lib"
    lora(folder / "loras" / "cu.safetensors")
    path = write_manifest(folder, f'[model]\nbase = "{HUB}"\nmemory = "slicing"\n'
                                  '[shots]\nclose_up = "loras/cu.safetensors"\n[weights]\nlong = 0.6\n')
    monkeypatch.chdir(tmp_path)
    library = load_library(path)
    assert library.source == str(path)
    assert library.memory == "slicing"
    assert library.shots == {"close_up": str((folder / "loras" / "cu.safetensors").resolve())}
    assert library.weights.long == 0.6


BAD_MANIFESTS = {
    "bad_toml": ('[model\nbase = "x/y"\n', "not valid TOML"),
    "missing_base": ('[model]\nmemory = "normal"\n', "model.base"),
    "missing_local_base": ('[model]\nbase = "./nowhere"\n', "nowhere"),
    "unknown_section": ('[model]\nbase = "x/y"\n[extras]\na = 1\n', "extras"),
    "unknown_model_key": ('[model]\nbase = "x/y"\nvae = "a/b"\n', "model.vae"),
    "bad_memory": ('[model]\nbase = "x/y"\nmemory = "turbo"\n', "model.memory"),
    "unknown_slug": ('[model]\nbase = "x/y"\n[shots]\nwide = "w.safetensors"\n', "shots.wide"),
    "detail_slug": ('[model]\nbase = "x/y"\n[shots]\ndetail = "w.safetensors"\n', "shots.detail"),
    "missing_shot_lora": ('[model]\nbase = "x/y"\n[shots]\nlong = "l.safetensors"\n', "l.safetensors"),
    "missing_character_lora": ('[model]\nbase = "x/y"\n[characters.ana]\nlora = "a.safetensors"\n',
                               "characters.ana.lora"),
    "bad_weight": ('[model]\nbase = "x/y"\n[weights]\nclose = 3\n', "weights.close"),
    "weight_text": ('[model]\nbase = "x/y"\n[weights]\nclose = "high"\n', "weights.close"),
}


@pytest.mark.parametrize("case", sorted(BAD_MANIFESTS))
def test_load_library_errors_are_one_line_naming_the_file(case, tmp_path):
    text, word = BAD_MANIFESTS[case]
    path = write_manifest(tmp_path, text)
    with pytest.raises(LibraryError) as caught:
        load_library(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert len(message.splitlines()) == 1
    assert word in message


def test_load_library_missing_file(tmp_path):
    path = tmp_path / "nope" / FILE_NAME
    with pytest.raises(LibraryError) as caught:
        load_library(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert "no such" in message
    assert len(message.splitlines()) == 1


def test_load_library_on_a_folder(tmp_path):
    (tmp_path / FILE_NAME).mkdir()
    with pytest.raises(LibraryError) as caught:
        load_library(tmp_path / FILE_NAME)
    assert str(caught.value).startswith(f"{tmp_path / FILE_NAME}: ")
    assert len(str(caught.value).splitlines()) == 1


def test_load_library_not_utf8(tmp_path):
    path = tmp_path / FILE_NAME
    path.write_bytes(b'[model]\nbase = "\xff\xfe"\n')
    with pytest.raises(LibraryError) as caught:
        load_library(path)
    assert str(caught.value).startswith(f"{path}: ")


def test_find_library_beside_the_scene(tmp_path):
    scene = tmp_path / "scene.toml"
    scene.write_text("", encoding="utf-8")
    assert find_library(scene) is None
    (tmp_path / FILE_NAME).mkdir()
    assert find_library(scene) is None
    (tmp_path / FILE_NAME).rmdir()
    manifest = write_manifest(tmp_path, f'[model]\nbase = "{HUB}"\n')
    assert find_library(scene) == manifest
    assert find_library(tmp_path / "sub" / "scene.toml") is None
