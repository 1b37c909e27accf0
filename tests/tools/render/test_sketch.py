"""The sketch renderer, measured by its pixels: framing per shot type, positions, colours, determinism."""

from __future__ import annotations

import ast
import io
import itertools
import math
import random
from pathlib import Path

import numpy as np
import pytest

from prompts.shot_types import SHOT_TYPES
from tools.render.job import Figure, RenderJob
from tools.render.scenery import lighting_tints, paint_backdrop
from tools.render.sketch import LABEL_BG, PALETTE, PROP, SKIN, SketchRenderer, cast_colours, figure_colour

NAME = "kaitoyosuke"
RENDERER = SketchRenderer()
LIGHTINGS = ("soft daylight", "night, moonlight", "sunset light", "dawn", "candlelight",
             "neon signs", "overcast rain")
CROPPED_SPANS = {"close_up": (1.3, 1.9), "medium_close_up": (2.2, 2.9), "medium": (3.0, 3.8),
                 "american": (4.2, 5.2)}
SIZES = [(256, 256), (320, 192)]


def make_job(shot: str = "long", figures=(Figure(NAME, "man", "centre"),), **changes) -> RenderJob:
    fields = dict(prompt="Long shot of kaitoyosuke man", negative_prompt="", shot_type=shot, seed=11,
                  figures=tuple(figures), setting="a city street", lighting="soft daylight",
                  width=256, height=256)
    fields.update(changes)
    return RenderJob(**fields)


def picture(result, k: int = 0) -> np.ndarray:
    """The picture of candidate k."""
    return np.asarray(result.images[k])[: result.info["picture_height"]]


def rows_with(pixels: np.ndarray, colour) -> np.ndarray:
    return np.flatnonzero(np.all(pixels == np.array(colour, dtype=np.uint8), axis=-1).any(axis=1))


def measure(result, name: str = NAME) -> dict:
    """Head rows (SKIN), body rows (the figure's colour) and the spans derived from them."""
    pixels = picture(result)
    height = pixels.shape[0]
    head = rows_with(pixels, SKIN)
    body = rows_with(pixels, result.info["figure_colours"][name])
    facts = {"height": height, "head": head, "body": body, "units": None, "share": None}
    if head.size and body.size:
        span = body.max() - head.min() + 1
        facts["units"] = span / head.size
        facts["share"] = span / height
    return facts


def png_bytes(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("shot", [shot.slug for shot in SHOT_TYPES if shot.slug != "detail"])
def test_figure_framing_follows_shot_type(shot, size):
    result = RENDERER.render(make_job(shot, width=size[0], height=size[1]))
    assert result.info["figure_colours"][NAME] == list(figure_colour(NAME))
    m = measure(result)
    height, head, body = m["height"], m["head"], m["body"]
    assert head.size, "the head must be visible"
    if shot == "extreme_close_up":
        assert head.size >= 0.8 * height
        assert body.size <= 0.1 * height
    elif shot in CROPPED_SPANS:
        low, high = CROPPED_SPANS[shot]
        assert low <= m["units"] <= high, m["units"]
        assert 0 < head.min() < 0.2 * height
        assert body.max() == height - 1, "the body runs off the bottom of the picture"
    elif shot == "full":
        assert m["share"] > 2 / 3
        assert body.max() < height - 1, "the feet stay above the bottom"
        assert head.min() > 0
    elif shot == "long":
        assert 1 / 3 < m["share"] < 2 / 3
    else:
        assert 0 < m["share"] < 1 / 3


def sky_colours(lighting: str) -> set:
    empty = RENDERER.render(make_job("extreme_long", figures=(), lighting=lighting))
    top = picture(empty)[: empty.info["horizon_y"] // 3]
    return {tuple(colour) for colour in top.reshape(-1, 3)}


def test_detail_with_subject_shows_the_object_not_a_person():
    for subject, wide in (("the brass key", True), ("a red apple", False)):
        result = RENDERER.render(make_job("detail", subject=subject))
        pixels = picture(result)
        assert rows_with(pixels, SKIN).size == 0
        prop = np.all(pixels == np.array(PROP, dtype=np.uint8), axis=-1)
        columns = np.flatnonzero(prop.any(axis=0))
        assert columns.max() - columns.min() > 0.5 * pixels.shape[1]
        if not wide:
            assert prop.mean() > 0.2
        sky = sky_colours("soft daylight")
        share_sky = np.mean([tuple(colour) in sky for colour in pixels.reshape(-1, 3)])
        assert share_sky < 0.5


def test_detail_without_subject_shows_a_hand_in_the_characters_sleeve():
    result = RENDERER.render(make_job("detail"))
    pixels = picture(result)
    skin = np.all(pixels == np.array(SKIN, dtype=np.uint8), axis=-1)
    sleeve = rows_with(pixels, figure_colour(NAME))
    assert skin.mean() > 0.1, "a large hand"
    assert sleeve.max() == pixels.shape[0] - 1, "the sleeve comes in from the bottom edge"
    assert sleeve.min() > np.flatnonzero(skin.any(axis=1)).min(), "the hand is above its sleeve"
    assert "figures" not in result.info


def test_neighbouring_shot_types_look_different():
    by_rank = sorted(SHOT_TYPES, key=lambda shot: shot.rank)
    results = {shot.slug: RENDERER.render(make_job(shot.slug)) for shot in by_rank}
    for near, far in itertools.pairwise(by_rank):
        a, b = measure(results[near.slug]), measure(results[far.slug])
        units_differ = a["units"] and b["units"] and abs(a["units"] - b["units"]) >= 0.5
        share_differs = a["share"] and b["share"] and abs(a["share"] - b["share"]) >= 0.15
        pixel_gap = np.abs(picture(results[near.slug]).astype(int) - picture(results[far.slug])).mean()
        assert units_differ or share_differs or pixel_gap > 25, (near.slug, far.slug)


def column_centre(result, name: str) -> float:
    pixels = picture(result)
    colour = np.array(result.info["figure_colours"][name], dtype=np.uint8)
    return float(np.median(np.nonzero(np.all(pixels == colour, axis=-1))[1]) / pixels.shape[1])


def test_positions_put_figures_at_quarters():
    cast = (Figure("kaitoyosuke", "man", "left"), Figure("jiyeonmun", "woman", "centre"),
            Figure("marcus", "man", "right"))
    together = RENDERER.render(make_job("long", figures=cast, width=320, height=256))
    centres = [column_centre(together, figure.name) for figure in cast]
    # close shots overlap neighbours, so measure each position there on its own
    alone = [column_centre(RENDERER.render(make_job("medium", figures=(figure,), width=320)), figure.name)
             for figure in cast]
    for measured in (centres, alone):
        assert measured == sorted(measured)
        for centre, expected in zip(measured, (0.25, 0.5, 0.75)):
            assert abs(centre - expected) < 0.04, measured


def test_same_job_gives_identical_bytes_and_seed_changes_only_scenery():
    job = make_job("long")
    first, second = SketchRenderer().render(job), SketchRenderer().render(job)
    assert png_bytes(first.images[0]) == png_bytes(second.images[0])
    other = RENDERER.render(make_job("long", seed=12))
    assert not np.array_equal(picture(first), picture(other))
    colour = np.array(figure_colour(NAME), dtype=np.uint8)
    assert np.array_equal(np.all(picture(first) == colour, axis=-1), np.all(picture(other) == colour, axis=-1))


def test_candidates_use_consecutive_seeds_and_report_progress():
    calls = []
    result = RENDERER.render(make_job("full", seed=40, candidates=3), on_progress=lambda *a: calls.append(a))
    assert result.renderer == "sketch" == SketchRenderer.name
    assert result.seeds == [40, 41, 42]
    assert len(result.images) == 3
    assert calls == [(1, 3), (2, 3), (3, 3)]
    assert len({png_bytes(image) for image in result.images}) == 3
    single = RENDERER.render(make_job("full", seed=41))
    assert png_bytes(single.images[0]) == png_bytes(result.images[1])


def test_size_is_honoured_and_the_picture_fills_the_image():
    result = RENDERER.render(make_job("medium", width=320, height=192))
    assert result.images[0].size == (320, 192)
    assert result.info["picture_height"] == 192


def test_no_caption_is_drawn_a_frame_without_figures_is_its_backdrop():
    """A frame's number and caption are the sheet's to print: the sketch holds only the picture."""
    job = make_job("long", figures=(), seed=5, width=160, height=96)
    backdrop, _ = paint_backdrop(job, 160, 96, random.Random(5), {SKIN, *PALETTE})
    assert np.array_equal(np.asarray(RENDERER.render(job).images[0]), np.asarray(backdrop))
    assert "caption" not in RENDERER.key_parts(job)


@pytest.mark.parametrize("shot", [shot.slug for shot in SHOT_TYPES])
def test_tiny_and_large_sizes_render(shot):
    result = RENDERER.render(make_job(shot, width=64, height=64, subject="a subject far too long for the picture"))
    assert result.images[0].size == (64, 64)
    if shot == "medium":
        big = RENDERER.render(make_job(shot, width=2048, height=1152))
        assert big.images[0].size == (2048, 1152)


def mean_sky_brightness(lighting: str) -> float:
    result = RENDERER.render(make_job("long", figures=(), lighting=lighting))
    return float(picture(result)[: result.info["horizon_y"] // 2].mean())


def test_cast_slot_fixes_a_characters_colour_in_every_frame():
    for slot in range(len(PALETTE)):
        job = make_job("full", figures=(Figure(NAME, "man", "centre", slot=slot),))
        assert RENDERER.render(job).info["figure_colours"][NAME] == list(PALETTE[slot])


def test_lighting_tints_the_sky():
    assert mean_sky_brightness("night, moonlight") < mean_sky_brightness("soft daylight") - 60
    assert len({str(lighting_tints(lighting)) for lighting in LIGHTINGS}) == len(LIGHTINGS)


@pytest.mark.parametrize("lighting", LIGHTINGS)
def test_backdrops_never_use_reserved_colours(lighting):
    for shot in ("long", "close_up", "detail"):
        result = RENDERER.render(make_job(shot, figures=(), lighting=lighting, subject="a lamp"))
        pixels = np.asarray(result.images[0])
        for colour in (SKIN, *PALETTE):
            assert not np.all(pixels == np.array(colour, dtype=np.uint8), axis=-1).any(), (shot, colour)


def test_palette_is_distinct_from_skin_backdrops_and_itself():
    tints = []
    for lighting in LIGHTINGS:
        tint = lighting_tints(lighting)
        tints += [*tint["sky"], *tint["ground"], tint["scenery"], tint["accent"]]
    for a, b in itertools.combinations(PALETTE, 2):
        assert math.dist(a, b) > 80
    for colour in PALETTE:
        assert math.dist(colour, SKIN) > 100
        assert min(math.dist(colour, tint) for tint in tints) > 60


def test_characters_get_different_colours_even_when_their_hashes_clash():
    assert figure_colour(NAME) == figure_colour(NAME) in PALETTE
    six = ["kaitoyosuke", "jiyeonmun", "marcus", "amaraobi", "leifholm", "rosaperez"]
    assert len(set(cast_colours(six).values())) == 6
    clash = next(f"extra{i}" for i in range(100) if figure_colour(f"extra{i}") == figure_colour(NAME))
    cast = (Figure(NAME, "man", "left"), Figure(clash, "woman", "right"))
    result = RENDERER.render(make_job("medium", figures=cast))
    colours = result.info["figure_colours"]
    assert colours[NAME] != colours[clash]
    for name in (NAME, clash):
        assert rows_with(picture(result), colours[name]).size > 0


def test_name_label_sits_above_the_head_in_the_figures_colour():
    cast = (Figure(NAME, "man", "left"), Figure("jiyeonmun", "woman", "right"))
    result = RENDERER.render(make_job("long", figures=cast))
    pixels = picture(result)
    head_top = rows_with(pixels, SKIN).min()
    for entry in result.info["figures"]:
        x0, y0, x1, y1 = entry["label_box"]
        inside = pixels[y0:y1 + 1, x0:x1 + 1]
        assert np.all(inside == np.array(entry["colour"], dtype=np.uint8), axis=-1).sum() >= 5
        assert not np.all(inside == np.array(SKIN, dtype=np.uint8), axis=-1).any()
        assert y1 < head_top


@pytest.mark.parametrize("module", ["sketch.py", "scenery.py"])
def test_module_imports_only_render_contract_shot_types_and_libraries(module):
    source = Path(__file__).resolve().parents[3] / "tools" / "render" / module
    allowed = {"__future__", "random", "re", "zlib", "dataclasses", "functools", "numpy", "PIL", "prompts", "tools"}
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.ImportFrom):
            assert node.module.split(".")[0] in allowed
            assert node.module in {"prompts.shot_types", "tools.render.job", "tools.render.scenery", "tools.fonts"} or \
                node.module.split(".")[0] not in {"prompts", "tools"}
        elif isinstance(node, ast.Import):
            assert all(alias.name.split(".")[0] in allowed for alias in node.names)


@pytest.mark.parametrize("first, second", [("ケンタ", "ユウキ"), ("ليلى", "سمير"), ("Алёна", "Борис")])
def test_names_in_any_script_are_drawn_as_letters_not_boxes(first, second):
    """Missing glyphs all draw the same box, so two different names would leave the same shape of ink."""
    labels = []
    for name in (first, second):
        result = RENDERER.render(make_job("long", figures=(Figure(name, "man", "centre"),)))
        x0, y0, x1, y1 = result.info["figures"][0]["label_box"]
        box = picture(result)[y0:y1 + 1, x0:x1 + 1]
        labels.append(np.any(box != np.array(LABEL_BG, dtype=np.uint8), axis=-1))  # where ink is, whatever its colour
    assert labels[0].shape != labels[1].shape or not np.array_equal(labels[0], labels[1])
