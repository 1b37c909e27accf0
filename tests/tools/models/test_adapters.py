"""The LoRA policy per frame: shot LoRA first, then characters in frame order, weights by shot distance,
one shared weight when several characters meet, and adapter names the pipeline can use."""

from __future__ import annotations

import pytest

from tools.models.adapters import adapter_name, adapters_for, character_weight
from tools.models.library import Library, Weights
from tools.render.job import Adapter

BANDS = {"extreme_close_up": "close", "close_up": "close", "medium_close_up": "close",
         "medium": "medium", "american": "medium", "full": "medium",
         "long": "long", "extreme_long": "long", "detail": "detail"}
SHOT_SLUGS = [s for s in BANDS if s != "detail"]
NAMES = ["kaitoyosuke", "jiyeonmun", "anamoreno"]


def library(weights: Weights = Weights(), shots: list[str] = SHOT_SLUGS, people: list[str] = NAMES) -> Library:
    return Library(base="owner/model", shots={s: f"/loras/shot/{s}.safetensors" for s in shots},
                   characters={n: f"/loras/char/{n}.safetensors" for n in people}, weights=weights)


# --- adapter_name -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind, key, expected", [
    ("shot", "close_up", "shot_close_up"),
    ("char", "kaitoyosuke", "char_kaitoyosuke"),
    ("char", "jean-luc", "char_jean-luc"),
    ("char", "ana moreno", "char_ana~moreno"),
    ("char", "zoë.x", "char_zo~~x"),
    ("char", "R2D2_", "char_R2D2_"),
])
def test_adapter_name(kind, key, expected):
    assert adapter_name(kind, key) == expected


def test_distinct_characters_get_distinct_adapter_names():
    lib = library(people=["jean-luc", "jean_luc"])
    names = [a.name for a in adapters_for(lib, "medium", ["jean-luc", "jean_luc"])]
    assert len(set(names)) == len(names)


# --- character_weight ---------------------------------------------------------------------------------


@pytest.mark.parametrize("slug", list(BANDS))
def test_single_character_weight_follows_band(slug):
    weights = Weights(close=1.3, medium=0.6, long=0.4, detail=0.2)
    assert character_weight(weights, slug, 1) == getattr(weights, BANDS[slug])


@pytest.mark.parametrize("slug", list(BANDS))
@pytest.mark.parametrize("count", [2, 3, 5])
def test_shared_weight_is_single_times_shared(slug, count):
    weights = Weights()
    single = character_weight(weights, slug, 1)
    assert character_weight(weights, slug, count) == pytest.approx(single * weights.shared, abs=1e-4)
    assert character_weight(weights, slug, count) < single


def test_default_weights_close_at_least_medium_at_least_long():
    weights = Weights()
    close = [character_weight(weights, s, 1) for s in SHOT_SLUGS if BANDS[s] == "close"]
    medium = [character_weight(weights, s, 1) for s in SHOT_SLUGS if BANDS[s] == "medium"]
    long = [character_weight(weights, s, 1) for s in SHOT_SLUGS if BANDS[s] == "long"]
    assert min(close) >= max(medium) >= max(long) and min(medium) >= max(long)
    assert close[0] > long[0]


def test_changed_weights_change_result():
    assert character_weight(Weights(), "close_up", 1) == 1.0
    assert character_weight(Weights(close=0.5), "close_up", 1) == 0.5
    assert character_weight(Weights(close=0.5, shared=0.5), "close_up", 2) == 0.25
    assert character_weight(Weights(close=0.5), "long", 1) == Weights().long


def test_unknown_shot_type_raises():
    with pytest.raises(ValueError):
        character_weight(Weights(), "wide", 1)


# --- adapters_for -------------------------------------------------------------------------------------


def test_shot_lora_first_then_characters_in_frame_order():
    lib = library()
    adapters = adapters_for(lib, "medium", ["jiyeonmun", "kaitoyosuke"])
    shared = round(Weights().medium * Weights().shared, 4)
    assert adapters == (
        Adapter("shot_medium", "/loras/shot/medium.safetensors", Weights().shot),
        Adapter("char_jiyeonmun", "/loras/char/jiyeonmun.safetensors", shared),
        Adapter("char_kaitoyosuke", "/loras/char/kaitoyosuke.safetensors", shared),
    )
    reverse = adapters_for(lib, "medium", ["kaitoyosuke", "jiyeonmun"])
    assert [a.name for a in reverse] == ["shot_medium", "char_kaitoyosuke", "char_jiyeonmun"]


@pytest.mark.parametrize("slug", SHOT_SLUGS)
def test_each_shot_type_gets_its_own_lora(slug):
    adapters = adapters_for(library(weights=Weights(shot=0.7)), slug, [])
    assert adapters == (Adapter(f"shot_{slug}", f"/loras/shot/{slug}.safetensors", 0.7),)


def test_detail_has_no_shot_lora():
    lib = library()
    adapters = adapters_for(lib, "detail", ["kaitoyosuke"])
    assert adapters == (Adapter("char_kaitoyosuke", "/loras/char/kaitoyosuke.safetensors", Weights().detail),)
    assert adapters_for(lib, "detail", []) == ()


def test_no_shot_lora_when_library_lacks_one():
    lib = library(shots=["close_up"])
    adapters = adapters_for(lib, "long", ["kaitoyosuke"])
    assert [a.name for a in adapters] == ["char_kaitoyosuke"]
    assert adapters[0].weight == Weights().long
    assert [a.name for a in adapters_for(lib, "close_up", [])] == ["shot_close_up"]


def test_empty_library_gives_nothing():
    assert adapters_for(Library(base="owner/model"), "close_up", NAMES) == ()


def test_characters_without_lora_skipped():
    lib = library(people=["kaitoyosuke"])
    adapters = adapters_for(lib, "close_up", ["stranger", "kaitoyosuke", "nobody"])
    assert [a.name for a in adapters] == ["shot_close_up", "char_kaitoyosuke"]


@pytest.mark.parametrize("slug", list(BANDS))
def test_several_characters_share_one_weight(slug):
    weights = Weights()
    lib = library(weights=weights)
    alone = [a for a in adapters_for(lib, slug, ["kaitoyosuke"]) if a.name.startswith("char_")]
    together = [a for a in adapters_for(lib, slug, NAMES) if a.name.startswith("char_")]
    assert len(alone) == 1 and len(together) == 3
    assert alone[0].weight == getattr(weights, BANDS[slug])
    assert {a.weight for a in together} == {round(alone[0].weight * weights.shared, 4)}


def test_shot_weight_unaffected_by_cast_size():
    lib = library(weights=Weights(shot=1.2))
    assert adapters_for(lib, "full", NAMES)[0] == Adapter("shot_full", "/loras/shot/full.safetensors", 1.2)


def test_repeated_names_count_once():
    lib = library()
    adapters = adapters_for(lib, "close_up", ["kaitoyosuke", "kaitoyosuke"])
    assert [a.name for a in adapters] == ["shot_close_up", "char_kaitoyosuke"]
    assert adapters[1].weight == Weights().close


def test_changed_weights_change_adapters():
    names = ["kaitoyosuke"]
    before = adapters_for(library(), "close_up", names)
    after = adapters_for(library(weights=Weights(close=0.5)), "close_up", names)
    assert before[1].weight == 1.0 and after[1].weight == 0.5
    assert before[0] == after[0]


def test_odd_character_token_is_sanitised():
    lib = library(people=["jean-luc"])
    adapters = adapters_for(lib, "long", ["jean-luc"])
    assert adapters[-1] == Adapter("char_jean-luc", "/loras/char/jean-luc.safetensors", Weights().long)
