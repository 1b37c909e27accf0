"""Region masks on a tiny real SAM: mask shapes, one encoder pass per image, one load, input checks, refine."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from PIL import Image
from segment_anything.modeling import ImageEncoderViT
from tiny_sam import TINY_SAM, write_tiny_sam

from tools.errors import LibraryError, SegmentError
from tools.models.hub import ModelHub
from tools.repair.masks import Mask, check_box, check_point, image_to_mask, mask_to_image, rect_mask, refine
from tools.repair.segment import SAM_PRESETS, Segmenter, guess_sam_type, load_sam, sam_config


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """The tiny SAM saved both ways: (pth path, safetensors path, sizes JSON path)."""
    folder = tmp_path_factory.mktemp("sam")
    pth, sizes = write_tiny_sam(folder, "pth")
    safetensors, _ = write_tiny_sam(folder, "safetensors")
    return pth, safetensors, sizes


@pytest.fixture(scope="module")
def segmenter(weights):
    return Segmenter(str(weights[0]), TINY_SAM, hub=ModelHub())


@pytest.fixture
def encoder_calls(monkeypatch):
    """Count passes through SAM's image encoder."""
    calls = []
    original = ImageEncoderViT.forward

    def counting(self, x):
        calls.append(x.shape)
        return original(self, x)

    monkeypatch.setattr(ImageEncoderViT, "forward", counting)
    return calls


def noise(width: int, height: int, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (height, width, 3)).astype(np.uint8))


@pytest.mark.parametrize("size", [(80, 48), (96, 96)])
def test_a_point_gives_three_masks_at_the_image_size(segmenter, size):
    masks = segmenter.point_masks(noise(*size), (20, 30))
    assert len(masks) == 3
    for mask in masks:
        assert isinstance(mask, Mask)
        assert mask.pixels.shape == (size[1], size[0]) and mask.pixels.dtype == bool
        assert isinstance(mask.score, float)


@pytest.mark.parametrize("size", [(80, 48), (96, 96)])
def test_a_box_gives_one_mask_at_the_image_size(segmenter, size):
    mask = segmenter.box_mask(noise(*size, seed=1), (10, 5, 40, 30))
    assert mask.pixels.shape == (size[1], size[0]) and mask.pixels.dtype == bool


def test_the_encoder_runs_once_per_image(weights, encoder_calls):
    segmenter = Segmenter(str(weights[0]), TINY_SAM, hub=ModelHub())
    first, second = noise(80, 48, seed=5), noise(80, 48, seed=6)
    before = segmenter.box_mask(first, (10, 5, 40, 30)).pixels
    segmenter.point_masks(first, (20, 20))
    segmenter.box_mask(first, (0, 0, 80, 48))
    segmenter.point_masks(first.copy(), (60, 40))
    assert len(encoder_calls) == 1
    segmenter.point_masks(second, (20, 20))
    assert len(encoder_calls) == 2
    # back to the first image: its features come from the cache and give the same mask as before
    assert np.array_equal(segmenter.box_mask(first, (10, 5, 40, 30)).pixels, before)
    assert len(encoder_calls) == 2


def test_the_model_loads_once_per_hub(weights):
    hub = ModelHub()
    image = noise(64, 64)
    Segmenter(str(weights[0]), TINY_SAM, hub=hub).point_masks(image, (5, 5))
    Segmenter(str(weights[0]), TINY_SAM, hub=hub).box_mask(image, (1, 1, 30, 30))
    assert hub.loads == 1


def test_sizes_from_a_json_file(weights):
    assert sam_config(str(weights[2])) == TINY_SAM
    hub = ModelHub()
    mask = Segmenter(str(weights[0]), sam_config(str(weights[2])), hub=hub).box_mask(noise(64, 64), (0, 0, 32, 32))
    assert mask.pixels.shape == (64, 64) and hub.loads == 1


def test_pth_and_safetensors_load_the_same_weights(weights):
    a, b = load_sam(str(weights[0]), TINY_SAM), load_sam(str(weights[1]), TINY_SAM)
    assert a.device == b.device
    for (name, x), (_, y) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
        assert np.array_equal(x.cpu().numpy(), y.cpu().numpy()), name
    assert not any(p.requires_grad for p in a.model.parameters())


@pytest.mark.parametrize("other", [replace(TINY_SAM, embed_dim=48), replace(TINY_SAM, depth=2)])
def test_a_checkpoint_for_other_sizes_is_refused(tmp_path, other):
    checkpoint, _ = write_tiny_sam(tmp_path, "pth", config=other)
    with pytest.raises(LibraryError) as caught:
        load_sam(str(checkpoint), TINY_SAM)
    message = str(caught.value)
    assert "\n" not in message and str(checkpoint) in message and "sam_type" in message


def test_a_missing_checkpoint_is_one_line(tmp_path):
    missing = tmp_path / "nope.pth"
    with pytest.raises(LibraryError) as caught:
        Segmenter(str(missing), TINY_SAM, hub=ModelHub()).point_masks(noise(64, 64), (1, 1))
    assert str(caught.value) == (f"model.sam: {missing} does not exist; "
                                 "expected a SAM checkpoint (.pth or .safetensors)")


BAD_BOXES = [
    ((40, 5, 10, 30), "corners are swapped"),
    ((10, 30, 40, 5), "corners are swapped"),
    ((10, 5, 10, 30), "zero area"),
    ((10, 5, 40, 5), "zero area"),
    ((-1, 5, 40, 30), "outside"),
    ((10, 5, 81, 30), "outside"),
    ((10, 5, 40, 49), "outside"),
    ((10, 5, 40), "four whole pixel numbers"),
    ((10.5, 5, 40, 30), "four whole pixel numbers"),
    ("10,5,40,30", "four whole pixel numbers"),
]
BAD_POINTS = [((80, 10), "outside"), ((10, 48), "outside"), ((-1, 0), "outside"),
              ((1, 2, 3), "two whole pixel numbers"), ((1.5, 2), "two whole pixel numbers"),
              (7, "two whole pixel numbers")]


@pytest.mark.parametrize(("box", "words"), BAD_BOXES)
def test_bad_boxes_fail_before_the_model_loads(weights, box, words):
    hub = ModelHub()
    with pytest.raises(SegmentError) as caught:
        Segmenter(str(weights[0]), TINY_SAM, hub=hub).box_mask(noise(80, 48), box)
    message = str(caught.value)
    assert words in message and "expected" in message and "80x48" in message
    assert "\n" not in message and hub.loads == 0
    with pytest.raises(SegmentError):
        rect_mask((80, 48), box)


@pytest.mark.parametrize(("point", "words"), BAD_POINTS)
def test_bad_points_fail_before_the_model_loads(weights, point, words):
    hub = ModelHub()
    with pytest.raises(SegmentError) as caught:
        Segmenter(str(weights[0]), TINY_SAM, hub=hub).point_masks(noise(80, 48), point)
    message = str(caught.value)
    assert words in message and "expected" in message and "\n" not in message and "80x48" in message
    assert hub.loads == 0


def test_box_message_quotes_the_box_and_the_rule():
    with pytest.raises(SegmentError) as caught:
        check_box((120, 60, 380, 600), (512, 512))
    assert str(caught.value) == ("box 120,60,380,600 reaches outside the 512x512 image; "
                                 "expected 0 <= x0 < x1 <= 512 and 0 <= y0 < y1 <= 512")


def test_edges_that_fit_are_accepted():
    check_box((0, 0, 80, 48), (80, 48))
    check_point((79, 47), (80, 48))
    check_point((0, 0), (80, 48))


def test_rect_mask_is_exactly_the_box():
    mask = rect_mask((80, 48), (10, 5, 40, 30))
    expected = np.zeros((48, 80), bool)
    expected[5:30, 10:40] = True
    assert np.array_equal(mask.pixels, expected) and mask.score == 1.0


def square(size: int = 40, lo: int = 10, hi: int = 30) -> np.ndarray:
    pixels = np.zeros((size, size), bool)
    pixels[lo:hi, lo:hi] = True
    return pixels


def test_dilation_grows_the_mask_and_keeps_every_pixel():
    pixels = square()
    grown = refine(pixels, dilate=3)
    assert grown.dtype == np.float32 and grown.shape == pixels.shape
    assert (grown > 0.5).sum() > pixels.sum()
    assert (grown[pixels] > 0.5).all()
    assert np.array_equal(grown > 0.5, refine(square(lo=7, hi=33), 0) > 0.5)


def test_closing_fills_a_hole_and_a_gap():
    pixels = square()
    pixels[20, 20] = False  # a one-pixel hole
    pixels[10:30, 25] = False  # a one-pixel slit right through the square
    closed = refine(pixels, close=1)
    assert np.array_equal(closed > 0.5, square())


def test_blur_feathers_only_the_edge():
    soft = refine(square(60, 20, 40), blur=2)
    assert 0 < soft[30, 20] < 1 and 0 < soft[30, 19] < 1
    assert soft[0, 0] == 0 and soft[5, 30] == 0
    assert soft[30, 30] == pytest.approx(1.0, abs=1e-6)


def test_refine_refuses_negative_radii():
    for bad in ({"blur": -1}, {"dilate": -2}, {"close": -1}):
        with pytest.raises(SegmentError, match="expected"):
            refine(square(), **bad)


def test_masks_round_trip_through_images():
    image = mask_to_image(square())
    assert image.mode == "L" and set(np.unique(np.asarray(image))) == {0, 255}
    soft = refine(square(), blur=1.5)
    assert np.abs(image_to_mask(mask_to_image(soft)) - soft).max() <= 0.5 / 255 + 1e-6


def test_sam_type_names():
    assert sam_config("vit_b") == SAM_PRESETS["vit_b"]
    assert sam_config("vit_h").embed_dim == 1280 and sam_config("vit_l").global_attn_indexes == (5, 11, 17, 23)
    with pytest.raises(LibraryError) as caught:
        sam_config("vit_q")
    assert "expected vit_b, vit_l, vit_h or a JSON file of SAM sizes" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_bad_json_sizes_are_refused(tmp_path):
    (tmp_path / "odd.json").write_text('{"embed_dim": 32, "depth": 1, "num_heads": 2, '
                                       '"global_attn_indexes": [], "out_chans": 12}', encoding="utf-8")
    (tmp_path / "junk.json").write_text("{not json", encoding="utf-8")
    for name in ("odd.json", "junk.json"):
        with pytest.raises(LibraryError, match="model.sam_type: .*expected vit_b"):
            sam_config(str(tmp_path / name))


def test_guess_sam_type_from_official_names():
    assert guess_sam_type("sam_vit_b_01ec64.pth") == "vit_b"
    assert guess_sam_type("models/sam_vit_l_0b3195.pth") == "vit_l"
    assert guess_sam_type("/x/sam_vit_h_4b8939.pth") == "vit_h"
    assert guess_sam_type("my_sam.safetensors") is None
