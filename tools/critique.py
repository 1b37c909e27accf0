"""The CLIP critic: scores images against their prompts, guesses their shot type, compares frames.

Usable on its own:

    critic = ClipCritic("openai/clip-vit-large-patch14")
    scores = critic.scores([image_a, image_b], "Close up of kaitoyosuke man reading a letter")

The CLIP score of an image and a text is 100 x max(cosine of their embeddings, 0), taken per pair.
Embeddings are kept per image content, so scoring, shot checks and comparisons never embed an image
twice. The model loads on first use through the model hub and runs under the process's GPU lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from prompts.shot_types import SHOT_TYPES, shot_by_slug, shot_description
from tools.errors import LibraryError
from tools.models.hub import GPU_LOCK, HUB, ModelHub, dtype_name, first_line, offline, pick_device, quiet_libraries
from tools.models.library import is_hub_id
from tools.render.job import image_digest

DEFAULT_CLIP = "openai/clip-vit-large-patch14"
_CACHE_LIMIT = 4096


@dataclass
class LoadedClip:
    """A resident CLIP model with its processor."""

    model: object
    processor: object
    device: str
    scale: float
    """CLIP's learned temperature (logit scale), for zero-shot probabilities."""


@dataclass(frozen=True)
class ShotGuess:
    """CLIP's reading of an image's framing against the one planned."""

    predicted: str
    """Slug of the most likely shot type."""
    probability: float
    ok: bool
    """False when the prediction is two or more steps of camera distance from the plan."""


def load_clip(name: str) -> LoadedClip:
    """Load a CLIP model and its processor (hub id or folder) on the render device."""
    import torch
    from transformers import CLIPModel, CLIPProcessor

    check_clip_folder(name)
    quiet_libraries()
    device = pick_device()
    try:
        model = CLIPModel.from_pretrained(name, dtype=getattr(torch, dtype_name(device)),
                                          local_files_only=offline(), use_safetensors=True)
        processor = CLIPProcessor.from_pretrained(name, local_files_only=offline())
    except torch.OutOfMemoryError:
        raise
    except (OSError, ValueError, RuntimeError, KeyError, TypeError) as error:  # weights that do not fit the config
        why = first_line(error)
        if "ignore_mismatched_sizes" in why:  # its own words point at a report that is not shown
            why = "the weights are not the sizes config.json gives"
        raise LibraryError(f"model.clip: cannot load {name} ({why}); expected a CLIP model "
                           f"as a hub id or {_FOLDER}") from None
    model.to(device).eval().requires_grad_(False)
    return LoadedClip(model=model, processor=processor, device=device, scale=float(model.logit_scale.exp()))


_FOLDER = "a folder with config.json and model.safetensors that belong together (as save_pretrained writes them)"


def check_clip_folder(name: str) -> None:
    """Refuse a local CLIP folder that cannot load before transformers reads it, in one line naming model.clip.

    Without config.json transformers falls back to the default CLIP sizes and fails on the first weight that
    does not fit, with a report hundreds of lines long.
    """
    if is_hub_id(name):
        return
    path = Path(name)
    if not path.exists():
        raise LibraryError(f"model.clip: {path} does not exist; expected a CLIP model as a hub id or {_FOLDER}")
    if not path.is_dir():
        raise LibraryError(f"model.clip: {path} is not a folder; expected {_FOLDER}")
    if not (path / "config.json").is_file():
        raise LibraryError(f"model.clip: {path} has no config.json; expected {_FOLDER}")
    if not any((path / weights).is_file() for weights in ("model.safetensors", "model.safetensors.index.json")):
        raise LibraryError(f"model.clip: {path} has no model.safetensors; expected {_FOLDER}")


def clip_score(image: np.ndarray, text: np.ndarray) -> float:
    """Return 100 x max(cosine, 0) for one unit image embedding and one unit text embedding."""
    return 100.0 * max(float(np.dot(image, text)), 0.0)


class ClipCritic:
    """Embeds images and texts with one CLIP model, remembering what it has embedded."""

    def __init__(self, model: str = DEFAULT_CLIP, hub: ModelHub = HUB):
        self.model = model
        self.hub = hub
        self._images: dict[str, np.ndarray] = {}
        self._texts: dict[str, np.ndarray] = {}

    @property
    def name(self) -> str:
        """The scorer named in critiques: the CLIP model."""
        return self.model

    def _clip(self) -> LoadedClip:
        return self.hub.resident(("clip", self.model), lambda: load_clip(self.model))

    def image_embeddings(self, images: list[Image.Image]) -> np.ndarray:
        """Return unit embeddings, one row per image; images not seen before go through CLIP in one batch."""
        keys = [image_digest(image) for image in images]
        return _lookup(self._images, keys, dict(zip(keys, images)),
                       lambda fresh: self._encode(images=[image.convert("RGB") for image in fresh]))

    def text_embeddings(self, texts: list[str]) -> np.ndarray:
        """Return unit embeddings, one row per text (texts past CLIP's 77 tokens are cut)."""
        return _lookup(self._texts, texts, dict(zip(texts, texts)), lambda fresh: self._encode(text=fresh))

    def scores(self, images: list[Image.Image], text: str) -> list[float]:
        """Return the CLIP score of every image against one text, from one batched pass."""
        words = self.text_embeddings([text])[0]
        return [clip_score(row, words) for row in self.image_embeddings(images)]

    def shot_guesses(self, embeddings: np.ndarray, planned: list[str]) -> list[ShotGuess]:
        """Classify each embedded image among the nine shot types and compare with its planned slug."""
        texts = self.text_embeddings([shot_description(shot) for shot in SHOT_TYPES])
        with GPU_LOCK:
            scale = self._clip().scale
        logits = scale * embeddings @ texts.T
        probabilities = np.exp(logits - logits.max(axis=-1, keepdims=True))
        probabilities /= probabilities.sum(axis=-1, keepdims=True)
        guesses = []
        for row, slug in zip(probabilities, planned):
            best = SHOT_TYPES[int(row.argmax())]
            ok = abs(best.rank - shot_by_slug(slug).rank) < 2
            guesses.append(ShotGuess(predicted=best.slug, probability=round(float(row.max()), 4), ok=ok))
        return guesses

    def _encode(self, images: list[Image.Image] | None = None, text: list[str] | None = None) -> np.ndarray:
        import torch

        with GPU_LOCK:
            clip = self._clip()
            with torch.no_grad():
                if images is not None:
                    inputs = clip.processor(images=images, return_tensors="pt")
                    pixels = inputs["pixel_values"].to(clip.device, clip.model.dtype)
                    out = clip.model.get_image_features(pixel_values=pixels)
                else:
                    inputs = clip.processor(text=text, return_tensors="pt", padding=True, truncation=True,
                                            max_length=77).to(clip.device)
                    out = clip.model.get_text_features(**inputs)
        vectors = getattr(out, "pooler_output", out).float().cpu().numpy()  # transformers 5 returns an output object
        return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def _lookup(cache: dict, keys: list[str], items: dict, encode) -> np.ndarray:
    """Return the cached rows for `keys`, encoding the missing items in one call; the cache stays bounded."""
    found = {key: cache[key] for key in keys if key in cache}
    fresh = [key for key in dict.fromkeys(keys) if key not in found]
    if fresh:
        found.update(zip(fresh, encode([items[key] for key in fresh])))
        if len(cache) + len(fresh) > _CACHE_LIMIT:
            cache.clear()
        cache.update((key, found[key]) for key in fresh)
    return np.stack([found[key] for key in keys])


def likeness(embeddings: np.ndarray, members: dict[str, list[int]]) -> dict[int, dict[str, float]]:
    """Return, per frame and character, the mean cosine between the frame and the character's other frames.

    `members` maps each character to the rows of `embeddings` (frames) that show it; a character in
    only one frame has nothing to be compared with and is left out.
    """
    result: dict[int, dict[str, float]] = {}
    for name, rows in members.items():
        if len(rows) < 2:
            continue
        vectors = embeddings[rows]
        similarity = vectors @ vectors.T
        means = (similarity.sum(axis=1) - similarity.diagonal()) / (len(rows) - 1)
        for row, mean in zip(rows, means):
            result.setdefault(row, {})[name] = round(float(mean), 4)
    return result


def outliers(similarity: dict[int, dict[str, float]], margin: float) -> dict[int, list[str]]:
    """Return, per frame, the characters who look unlike themselves in it.

    A frame is an outlier for a character when its likeness falls more than `margin` below the
    median likeness over that character's frames; at least three frames are needed to tell which
    one is odd.
    """
    by_name: dict[str, dict[int, float]] = {}
    for row, names in similarity.items():
        for name, value in names.items():
            by_name.setdefault(name, {})[row] = value
    flagged: dict[int, list[str]] = {}
    for name, values in by_name.items():
        if len(values) < 3:
            continue
        middle = float(np.median(list(values.values())))
        for row, value in values.items():
            if middle - value > margin:
                flagged.setdefault(row, []).append(name)
    return flagged


def repeats(embeddings: np.ndarray, shot_types: list[str], threshold: float) -> list[int]:
    """Return the frames that repeat the frame before them: same shot type, cosine at or above `threshold`."""
    return [i for i in range(1, len(shot_types))
            if shot_types[i] == shot_types[i - 1] and float(embeddings[i] @ embeddings[i - 1]) >= threshold]
