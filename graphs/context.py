"""What travels beside the state on every graph call: planner, renderer, critic and the GPU lock.

None of it is ever checkpointed; pass the same Context on every invoke, resumes included.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from graphs.state import FrameSpec, Scene
from prompts.shot_types import ShotType
from tools.critique import ClipCritic
from tools.models.gpu_queue import GPU_QUEUE, GpuQueue
from tools.repair.inpaint import Inpainter
from tools.models.library import Library
from tools.llm import LLM
from tools.render.job import Renderer
from tools.repair.segment import Segmenter


class Planner(Protocol):
    """Anything that turns a scene into frame specs."""

    name: str

    def plan(self, scene: Scene) -> list[FrameSpec]:
        """Return one frame spec per frame of the scene."""
        ...

    def restage(self, scene: Scene, spec: FrameSpec, shot: ShotType) -> FrameSpec:
        """Return the frame re-planned as another shot type."""
        ...

    def extra(self, scene: Scene, action: str, shot: ShotType | None, seed: int) -> FrameSpec:
        """Return one more frame showing `action`, as a `shot` (None: the planner chooses) drawn with `seed`."""
        ...


@dataclass
class Context:
    """Heavy or stateful helpers the graph's nodes use."""

    planner: Planner
    renderer: Renderer
    critic: ClipCritic | None = None
    """CLIP critic; None means no scorer runs and critiques say so."""
    segmenter: Segmenter | None = None
    """SAM, for point and box masks; None when the library names no SAM checkpoint."""
    inpainter: Inpainter | None = None
    """Redraws masked regions; None with the sketch renderer."""
    llm: LLM | None = None
    """Chat model that reads messages the rules parser cannot; None reads by rules alone."""
    library: Library | None = None
    """Checkpoint, LoRA files and weight policy; None when no library is configured."""
    gpu_lock: GpuQueue = GPU_QUEUE
    """Taken in turn by every session's render and repair work, so two sessions never use the GPU at once."""
    out_dir: Path | None = None
    """The session's folder, given by the session on every call; never stored, so a moved folder stays whole."""

    def folder(self) -> Path:
        """Return the folder every file of the session is read from and written to."""
        if self.out_dir is None:
            raise RuntimeError("no output folder: pass Context(out_dir=...) on every call of the graph")
        return self.out_dir
