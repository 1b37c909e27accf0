"""The CLIP critic on a tiny real CLIP: scores, batching, one load, shot guesses, and the drift checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from prompts.shot_types import SHOT_TYPES, shot_by_slug
from tools.critique import ClipCritic, clip_score, likeness, outliers, repeats
from tools.errors import LibraryError
from tools.models.hub import ModelHub
from tools.models.library import CritiqueSettings, parse_library

PROMPT = "Close up of kaitoyosuke man reading a letter by the window, soft daylight"


def noise(seed: int, size: int = 64) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3)).astype(np.uint8)


def picture(pixels: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def halves() -> Image.Image:
    """Left half white, right half black: nothing like noise to CLIP."""
    pixels = np.zeros((64, 64, 3), np.uint8)
    pixels[:, :32] = 255
    return picture(pixels)


RED = Image.new("RGB", (64, 64), (200, 30, 30))


def near(pixels: np.ndarray, seed: int) -> Image.Image:
    """The same picture with a little noise: what two frames of one look have in common."""
    return picture(pixels.astype(int) + np.random.default_rng(seed).integers(-6, 7, pixels.shape))


@pytest.fixture
def critic(tiny_clip):
    return ClipCritic(str(tiny_clip), hub=ModelHub())


@pytest.fixture
def calls(critic, monkeypatch):
    """Count the model's image and text passes."""
    model = critic._clip().model
    counts = {"image": 0, "text": 0}
    for kind in counts:
        original = getattr(model, f"get_{kind}_features")

        def counted(*args, kind=kind, original=original, **kwargs):
            counts[kind] += 1
            return original(*args, **kwargs)
        monkeypatch.setattr(model, f"get_{kind}_features", counted)
    return counts


def test_score_matches_an_independent_computation(critic, tiny_clip):
    from transformers import CLIPModel, CLIPProcessor

    images = [picture(noise(k)) for k in range(3)] + [Image.new("RGB", (80, 48), (200, 30, 30))]
    model, processor = CLIPModel.from_pretrained(tiny_clip).eval(), CLIPProcessor.from_pretrained(tiny_clip)
    with torch.no_grad():
        out = model(**processor(text=[PROMPT] * len(images), images=images, return_tensors="pt", padding=True))
    expected = (100 * (out.image_embeds * out.text_embeds).sum(-1).clamp(min=0)).tolist()
    assert critic.scores(images, PROMPT) == pytest.approx(expected, abs=1e-4)


def test_the_score_is_clamped_per_pair_not_after_averaging():
    text = np.array([1.0, 0.0])
    assert clip_score(np.array([0.6, 0.8]), text) == pytest.approx(60.0)
    assert clip_score(np.array([-0.6, 0.8]), text) == 0.0


def test_candidates_are_embedded_in_one_batch_and_never_twice(critic, calls):
    images = [picture(noise(k)) for k in range(4)]
    first = critic.scores(images, PROMPT)
    assert calls == {"image": 1, "text": 1}
    assert critic.scores(images[::-1], PROMPT) == first[::-1]
    assert calls == {"image": 1, "text": 1}
    critic.image_embeddings(images + [picture(noise(9))])
    assert calls == {"image": 2, "text": 1}


def test_a_full_cache_starts_over_without_losing_the_rows_asked_for(critic, monkeypatch):
    import tools.critique

    monkeypatch.setattr(tools.critique, "_CACHE_LIMIT", 2)
    images = [picture(noise(k)) for k in range(4)]
    first = critic.image_embeddings(images[:3])
    again = critic.image_embeddings(images)
    assert np.allclose(again[:3], first) and len(critic._images) <= 3


def test_the_model_loads_once_for_every_critic_on_a_hub(tiny_clip):
    hub = ModelHub()
    for _ in range(3):
        ClipCritic(str(tiny_clip), hub=hub).scores([picture(noise(1))], PROMPT)
    assert hub.loads == 1


def test_shot_guesses_cover_the_nine_types_and_judge_by_distance(critic):
    embeddings = critic.image_embeddings([picture(noise(k)) for k in range(3)])
    for shot in SHOT_TYPES:
        for guess in critic.shot_guesses(embeddings, [shot.slug] * 3):
            assert guess.predicted in {s.slug for s in SHOT_TYPES} and 1 / 9 <= guess.probability <= 1
            assert guess.ok == (abs(shot_by_slug(guess.predicted).rank - shot.rank) < 2)


def test_an_unreadable_clip_folder_is_one_line(tmp_path):
    (tmp_path / "clip").mkdir()
    with pytest.raises(LibraryError) as caught:
        ClipCritic(str(tmp_path / "clip"), hub=ModelHub()).scores([picture(noise(1))], PROMPT)
    assert "model.clip" in str(caught.value) and "\n" not in str(caught.value)


# --- drift checks on constructed images --------------------------------------------------------------


def test_the_frame_that_looks_different_is_flagged_inconsistent(critic):
    look = noise(3)
    frames = [near(look, 1), near(look, 2), RED, near(look, 4)]
    embeddings = critic.image_embeddings(frames)
    similarity = likeness(embeddings, {"kaitoyosuke": [0, 1, 2, 3]})
    assert outliers(similarity, CritiqueSettings().consistency) == {2: ["kaitoyosuke"]}


def test_frames_that_all_look_alike_are_not_flagged(critic):
    look = noise(3)
    embeddings = critic.image_embeddings([near(look, k) for k in range(4)])
    similarity = likeness(embeddings, {"kaitoyosuke": [0, 1, 2, 3]})
    assert set(similarity) == {0, 1, 2, 3} and outliers(similarity, CritiqueSettings().consistency) == {}


def test_likeness_is_per_character_and_needs_three_frames_to_flag(critic):
    look, other = noise(3), noise(5)
    embeddings = critic.image_embeddings([near(look, 1), picture(other), near(look, 2)])
    similarity = likeness(embeddings, {"kaitoyosuke": [0, 1], "miraholt": [2]})
    assert set(similarity) == {0, 1} and "miraholt" not in similarity.get(2, {})
    assert outliers(similarity, 0.0) == {}


def test_two_identical_consecutive_frames_are_repetitive(critic):
    a, b = picture(noise(1)), halves()
    embeddings = critic.image_embeddings([a, a.copy(), b])
    threshold = CritiqueSettings().repeat
    assert repeats(embeddings, ["medium", "medium", "medium"], threshold) == [1]
    assert repeats(embeddings, ["medium", "close_up", "medium"], threshold) == []


def test_different_consecutive_frames_are_not_repetitive(critic):
    embeddings = critic.image_embeddings([picture(noise(1)), RED, halves()])
    assert repeats(embeddings, ["long"] * 3, CritiqueSettings().repeat) == []


# --- the [critique] table ------------------------------------------------------------------------------


def library(critique: dict):
    return parse_library({"model": {"base": "someone/model"}, "critique": critique}, folder=Path("."))


def test_critique_settings_default_and_read():
    assert library({}).critique == CritiqueSettings()
    settings = library({"threshold": 25, "retries": 3, "shot_retry": True, "repeat": 0.9}).critique
    assert (settings.threshold, settings.retries, settings.shot_retry, settings.repeat) == (25.0, 3, True, 0.9)


@pytest.mark.parametrize(("table", "words"), [
    ({"threshold": 120}, ["critique.threshold", "0 to 100"]),
    ({"retries": 1.5}, ["critique.retries", "whole number"]),
    ({"retries": 9}, ["critique.retries", "0 to 5"]),
    ({"shot_retry": "yes"}, ["critique.shot_retry", "true or false"]),
    ({"strict": 1}, ["critique.strict", "unknown key"]),
])
def test_bad_critique_settings_name_the_key(table, words):
    with pytest.raises(LibraryError) as caught:
        library(table)
    assert all(word in str(caught.value) for word in words)
