"""The contract every renderer follows: a plain job in, images and their seeds out."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from PIL import Image

ProgressFn = Callable[[int, int], None]
"""Called as on_progress(step_done, steps_total) while a renderer works."""


@dataclass(frozen=True)
class Figure:
    """A character visible in a frame."""

    name: str
    """The character's token, used as its label."""
    class_word: str
    """The class word that goes with the token ("man", "woman")."""
    position: str
    """Where the character stands: "left", "centre" or "right"."""
    slot: int = -1
    """The character's place in the cast, so renderers can keep one colour per character; -1 if unknown."""
    colour: tuple[int, int, int] | None = None
    """The colour the character's description dresses them in ("red scarf"), for renderers that paint
    figures; None when it names none."""
    label: str = ""
    """The name people read for the character ("Kaito"), for renderers that label figures; empty: the token."""


@dataclass(frozen=True)
class Adapter:
    """A LoRA to switch on for one frame, at a weight."""

    name: str
    """Adapter name inside the pipeline: "shot_<slug>" or "char_<token>"."""
    path: str
    """The LoRA file; it is read once per process, however many frames use it."""
    weight: float


@dataclass(frozen=True)
class RenderJob:
    """Everything a renderer needs for one frame, as plain values: only what the image depends on.

    A frame's number and caption are not here: they belong to the sheet and the PDF, so a frame that moves
    keeps its job, its key and its image.
    """

    prompt: str
    negative_prompt: str
    shot_type: str
    """Slug of the frame's shot type (prompts.shot_types)."""
    seed: int
    """Seed of the first candidate; candidate k uses seed + k."""
    figures: tuple[Figure, ...] = ()
    setting: str = ""
    lighting: str = ""
    subject: str = ""
    """What a detail insert shows ("the brass key"); empty for other shots."""
    width: int = 512
    height: int = 512
    candidates: int = 1
    adapters: tuple[Adapter, ...] = ()
    """LoRAs active for this frame, with their weights; renderers without LoRAs ignore them."""
    steps: int = 25
    guidance: float = 7.5
    scheduler: str = "dpm++"

    def seeds(self) -> list[int]:
        """Return the seed of every candidate, in order."""
        return [self.seed + k for k in range(self.candidates)]


@dataclass
class RenderResult:
    """Images for one job, one per candidate, with the seed that made each."""

    images: list[Image.Image]
    seeds: list[int]
    renderer: str
    info: dict[str, object] = field(default_factory=dict)
    """Renderer-specific facts worth recording (model, adapters, layout)."""


class Renderer(Protocol):
    """Anything that turns a RenderJob into images."""

    name: str
    """Short name recorded in storyboard.json ("sketch", "diffusers")."""
    follows_prompt: bool
    """Whether the images depend on the prompt's words, so a low CLIP score is worth a retry."""

    def render(self, job: RenderJob, on_progress: ProgressFn | None = None) -> RenderResult:
        """Render every candidate of the job."""
        ...

    def key_parts(self, job: RenderJob) -> dict:
        """Return every value that shapes this renderer's images for `job`: equal parts, equal images."""
        ...

    def facts(self, job: RenderJob) -> dict:
        """Return what storyboard.json records about how `job` is drawn (model, adapters, steps...)."""
        ...


def image_digest(image: Image.Image) -> str:
    """Return a short fingerprint of an image's pixels, mode and size (for caches keyed by content)."""
    return hashlib.blake2b(image.tobytes() + f"{image.mode}{image.size}".encode(), digest_size=16).hexdigest()
