"""SAM masks from a point or a box, for inpainting (plain rectangles and clean-up live in tools.repair.masks).

Usable on its own:

    segmenter = Segmenter("models/sam_vit_b_01ec64.pth", sam_config("vit_b"))
    masks = segmenter.point_masks(image, (240, 180))      # SAM's three guesses, in its order
    soft = refine(masks[0].pixels, blur=4, dilate=6)       # float 0..1, ready for an inpaint mask

Boxes are (x0, y0, x1, y1) in pixels with x1 and y1 exclusive; points are (x, y). Both are checked
against the image before any model work. SAM loads on first use through the model hub, runs under
the process's GPU lock, and encodes each image content only once.
"""

from __future__ import annotations

import json
import numbers
import re
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
from PIL import Image

from tools.errors import LibraryError
from tools.files.bounded import SMALL_LIMIT, read_text
from tools.models.hub import GPU_LOCK, HUB, ModelHub, first_line, pick_device
from tools.render.job import image_digest
from tools.repair.masks import Mask, check_box, check_point

_CACHE_LIMIT = 8
"""Images whose SAM features a segmenter keeps (a ViT-H image costs about 4 MB)."""
_KIND_HINT = "expected vit_b, vit_l, vit_h or a JSON file of SAM sizes"


@dataclass(frozen=True)
class SamConfig:
    """The sizes of a SAM model: its ViT image encoder, prompt encoder and mask decoder."""

    embed_dim: int
    depth: int
    num_heads: int
    global_attn_indexes: tuple[int, ...]
    """Encoder blocks that attend over the whole image instead of a window."""
    img_size: int = 1024
    patch_size: int = 16
    window_size: int = 14
    out_chans: int = 256
    """Width of the image embedding, shared by the prompt encoder and the mask decoder."""
    mlp_ratio: float = 4.0
    mask_in_chans: int = 16
    decoder_depth: int = 2
    decoder_mlp_dim: int = 2048
    decoder_heads: int = 8
    iou_head_depth: int = 3
    iou_head_hidden_dim: int = 256


SAM_PRESETS = {
    "vit_b": SamConfig(embed_dim=768, depth=12, num_heads=12, global_attn_indexes=(2, 5, 8, 11)),
    "vit_l": SamConfig(embed_dim=1024, depth=24, num_heads=16, global_attn_indexes=(5, 11, 17, 23)),
    "vit_h": SamConfig(embed_dim=1280, depth=32, num_heads=16, global_attn_indexes=(7, 15, 23, 31)),
}


@dataclass
class LoadedSam:
    """A resident SAM model with the predictor that prompts it."""

    model: object
    predictor: object
    """A segment_anything.SamPredictor over `model`."""
    device: str


def sam_config(kind: str) -> SamConfig:
    """Return the sizes for a preset name (vit_b, vit_l, vit_h) or read them from a JSON file."""
    if kind in SAM_PRESETS:
        return SAM_PRESETS[kind]
    path = Path(kind)
    if not path.is_file():
        raise LibraryError(f"model.sam_type: {kind!r} is neither a preset nor an existing file; {_KIND_HINT}")
    try:
        values = json.loads(read_text(path, SMALL_LIMIT, "SAM size file (JSON)"))
        if not isinstance(values, dict):
            raise ValueError("the file does not hold a JSON object")
        unknown = sorted(set(values) - {f.name for f in fields(SamConfig)})
        if unknown:
            raise ValueError(f"unknown field {unknown[0]}")
        if "global_attn_indexes" in values:
            values["global_attn_indexes"] = tuple(values["global_attn_indexes"])
        config = SamConfig(**values)
    except (OSError, ValueError, TypeError) as error:
        raise LibraryError(f"model.sam_type: {path} cannot be read ({first_line(error)}); {_KIND_HINT}") from None
    problem = _size_problem(config)
    if problem:
        raise LibraryError(f"model.sam_type: {path} has unusable sizes ({problem}); {_KIND_HINT}")
    return config


def _size_problem(config: SamConfig) -> str:
    """Return what makes the sizes unbuildable, or "" when SAM can be built from them."""
    for f in fields(SamConfig):
        value = getattr(config, f.name)
        if f.name == "global_attn_indexes":
            if not all(isinstance(i, int) and 0 <= i < config.depth for i in value):
                return "global_attn_indexes must be block numbers below depth"
        elif f.name == "mlp_ratio":
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or value <= 0:
                return "mlp_ratio must be a positive number"
        else:
            least = 0 if f.name == "window_size" else 1  # a window of 0 means global attention everywhere
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                return f"{f.name} must be a whole number of at least {least}"
    if config.img_size % config.patch_size or config.embed_dim % config.num_heads:
        return "img_size must be a multiple of patch_size and embed_dim a multiple of num_heads"
    if config.out_chans % 8 or (config.out_chans // 2) % config.decoder_heads or config.mask_in_chans < 4:
        return "out_chans must be a multiple of 8 and of 2 x decoder_heads, and mask_in_chans at least 4"
    return ""


def guess_sam_type(checkpoint: str) -> str | None:
    """Return the preset a checkpoint's file name points to ("sam_vit_b_01ec64.pth" -> "vit_b"), else None."""
    found = re.search(r"vit[_-]?([bhl])(?![a-z])", Path(checkpoint).name.lower())
    return f"vit_{found.group(1)}" if found else None


def build_sam(config: SamConfig):
    """Return an untrained SAM of the given sizes, in eval mode, built as segment_anything builds its own."""
    from functools import partial

    import torch
    from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

    grid = config.img_size // config.patch_size
    encoder = ImageEncoderViT(
        depth=config.depth, embed_dim=config.embed_dim, img_size=config.img_size, mlp_ratio=config.mlp_ratio,
        norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), num_heads=config.num_heads,
        patch_size=config.patch_size, qkv_bias=True, use_rel_pos=True,
        global_attn_indexes=config.global_attn_indexes, window_size=config.window_size,
        out_chans=config.out_chans)
    prompts = PromptEncoder(embed_dim=config.out_chans, image_embedding_size=(grid, grid),
                            input_image_size=(config.img_size, config.img_size), mask_in_chans=config.mask_in_chans)
    decoder = MaskDecoder(
        num_multimask_outputs=3,
        transformer=TwoWayTransformer(depth=config.decoder_depth, embedding_dim=config.out_chans,
                                      mlp_dim=config.decoder_mlp_dim, num_heads=config.decoder_heads),
        transformer_dim=config.out_chans, iou_head_depth=config.iou_head_depth,
        iou_head_hidden_dim=config.iou_head_hidden_dim)
    sam = Sam(image_encoder=encoder, prompt_encoder=prompts, mask_decoder=decoder,
              pixel_mean=[123.675, 116.28, 103.53], pixel_std=[58.395, 57.12, 57.375])
    return sam.eval()


def load_sam(checkpoint: str, config: SamConfig) -> LoadedSam:
    """Build SAM with the given sizes, fill it from a .pth/.pt or .safetensors file and move it to the render device."""
    from segment_anything import SamPredictor

    state = _read_weights(Path(checkpoint))
    model = build_sam(config)
    mismatch = _mismatch(model.state_dict(), state)
    if mismatch:
        raise LibraryError(f"model.sam: {checkpoint} does not fit the sam_type sizes ({mismatch}); "
                           "expected a checkpoint made for them (check model.sam_type)")
    model.load_state_dict(state, strict=True)
    device = pick_device()
    model.to(device).requires_grad_(False)
    return LoadedSam(model=model, predictor=SamPredictor(model), device=device)


def _read_weights(path: Path) -> dict:
    """Return the state dict in a checkpoint file, on the CPU."""
    import torch

    hint = "expected a SAM checkpoint (.pth or .safetensors)"
    if not path.is_file():
        raise LibraryError(f"model.sam: {path} does not exist; {hint}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        elif path.suffix in (".pth", ".pt"):
            state = torch.load(path, map_location="cpu", weights_only=True)
        else:
            raise LibraryError(f"model.sam: {path} is not a .pth, .pt or .safetensors file; {hint}")
    except LibraryError:
        raise
    except Exception as error:  # pickle and safetensors each raise their own error types for damaged files
        raise LibraryError(f"model.sam: {path} cannot be read ({first_line(error)}); {hint}") from None
    for wrapper in ("model", "state_dict"):  # some fine-tuning scripts nest the weights one level down
        if isinstance(state, dict) and set(state) == {wrapper}:
            state = state[wrapper]
    if not isinstance(state, dict):
        raise LibraryError(f"model.sam: {path} holds no state dict; {hint}")
    return state


def _mismatch(expected: dict, found: dict) -> str:
    """Describe the first way the file's tensors differ from the model's, or return "" when they match."""
    missing = [key for key in expected if key not in found]
    extra = [key for key in found if key not in expected]
    if missing or extra:
        first = f"{missing[0]} is missing" if missing else f"{extra[0]} is unexpected"
        return f"{len(missing)} tensors missing and {len(extra)} unexpected, e.g. {first}"
    for key, tensor in expected.items():
        shape = tuple(getattr(found[key], "shape", ()))
        if shape != tuple(tensor.shape):
            return f"{key} is {list(shape)} in the file but {list(tensor.shape)} for these sizes"
    return ""


class Segmenter:
    """Prompts one SAM checkpoint with points and boxes, remembering the images it has encoded."""

    def __init__(self, checkpoint: str, config: SamConfig, hub: ModelHub = HUB):
        self.checkpoint = str(checkpoint)
        self.config = config
        self.hub = hub
        self._features: dict[str, tuple] = {}

    def point_masks(self, image: Image.Image, point: tuple[int, int]) -> list[Mask]:
        """Return SAM's three masks for the object under a point, in SAM's order, at the image's size."""
        check_point(point, image.size)
        masks, scores = self._predict(image, point_coords=np.array([point], np.float32),
                                      point_labels=np.array([1]), multimask_output=True)
        return [Mask(pixels=m, score=float(s)) for m, s in zip(masks, scores)]

    def box_mask(self, image: Image.Image, box) -> Mask:
        """Return SAM's single mask for the object inside a box, at the image's size."""
        check_box(box, image.size)
        masks, scores = self._predict(image, box=np.array(box, np.float32), multimask_output=False)
        return Mask(pixels=masks[0], score=float(scores[0]))

    def _sam(self) -> LoadedSam:
        return self.hub.resident(("sam", self.checkpoint, self.config), lambda: load_sam(self.checkpoint, self.config))

    def _predict(self, image: Image.Image, **prompt) -> tuple[np.ndarray, np.ndarray]:
        key = image_digest(image)
        with GPU_LOCK:
            predictor = self._sam().predictor
            self._show(predictor, key, image)
            masks, scores, _ = predictor.predict(**prompt)
        return np.asarray(masks, bool), np.asarray(scores)

    def _show(self, predictor, key: str, image: Image.Image) -> None:
        """Put the image's features into the predictor, running the encoder only for an unseen image."""
        if key in self._features:
            predictor.features, predictor.original_size, predictor.input_size = self._features.pop(key)
            predictor.is_image_set = True
        else:
            predictor.set_image(np.asarray(image.convert("RGB")))
            if len(self._features) >= _CACHE_LIMIT:
                self._features.pop(next(iter(self._features)))
        # reinserting keeps the most recently used image last, so the oldest is the one dropped
        self._features[key] = (predictor.features, predictor.original_size, predictor.input_size)
