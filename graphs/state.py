"""The storyboard's state: the scene, its cast, frame specs, rendered versions and the chat so far.

State holds specs, seeds, scores and file paths, never images or models.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from graphs.commands import ChooseMask, Inpaint
from graphs.older_state import older_history
from prompts.camera import Angle, Framing, Movement
from prompts.lint import Violation

Position = Literal["left", "centre", "right"]
_NAMES = ConfigDict(validate_by_name=True, validate_by_alias=True, serialize_by_alias=True)


class Character(BaseModel):
    """A cast member as the scene file declares it."""

    model_config = _NAMES
    name: str
    """Space-free token the character's LoRA was trained on ("kaitoyosuke")."""
    class_word: str = Field(alias="class")
    """Class word always written after the token ("man")."""
    description: str = ""
    """Free text about the character (costume, age); shown to planners."""
    lora: str | None = None
    """Path of the character's LoRA file, resolved against the scene file's folder."""
    aliases: list[str] = []
    """Other names the description uses for this character ("Kaito")."""
    display: str = ""
    """The name people read on the board and in replies; empty means the first alias, else the token."""

    @property
    def shown(self) -> str:  # the name a person reads, never the training token where there is another
        return self.display or (self.aliases[0] if self.aliases else self.name)


class Line(BaseModel):
    """One speech of the script: who says it, how, and what."""

    character: str
    """The speaker's name as the script writes it ("HORATIO")."""
    text: str
    parenthetical: str = ""
    """How it is said ("quietly"), without the brackets; empty when the script gives nothing."""


class Speech(Line):
    """A speech of the scene, placed among the sentences of its description."""

    after: int = -1
    """Index of the description sentence the speech follows; -1 when it comes before the first."""


class Scene(BaseModel):
    """What the person asked for: the scene text, the cast and how many frames."""

    title: str
    description: str
    frames: int | None = None
    """Number of frames wanted, when no explicit shot sequence is given."""
    shots: list[int] | None = None
    """Explicit sequence of shot numbers (1-9); wins over `frames`."""
    style: str = ""
    setting: str = ""
    """Optional fixed setting ("a dusty library"); found in the description when empty."""
    lighting: str = ""
    """Optional fixed light ("soft daylight"); guessed from the description when empty."""
    characters: list[Character] = []
    seed: int | None = None
    """Base seed; frame seeds follow from it. None derives them from the scene text."""
    dialogue: list[Speech] = []
    """What is said in the scene (from a screenplay), handed to the frames it belongs to after planning."""


class Placement(BaseModel):
    """A character as it appears in one frame."""

    model_config = _NAMES
    name: str
    class_word: str = Field(alias="class")
    position: Position
    action: str = ""
    """What the character does in this frame, naming nobody else."""


class FrameSpec(BaseModel):
    """What one frame should show; the renderer works from this alone."""

    shot_type: str
    """Slug of the shot type (prompts.shot_types)."""
    prompt: str
    negative_prompt: str
    characters: list[Placement] = []
    """Characters visible in the frame, with where they stand."""
    setting: str
    lighting: str
    seed: int
    action: str = ""
    """The story beat this frame shows, in the scene's own words."""
    subject: str = ""
    """What a detail insert shows; empty otherwise."""
    framing: Framing = "single"  # how the people are framed (prompts.camera); the defaults draw as before
    angle: Angle = "eye_level"
    movement: Movement = "static"
    toward: str = ""  # the token of whose shoulder, eyes or reaction the framing names
    written_by: Literal["planner", "person"] = "planner"
    """Who wrote the prompt: a person's own wording is kept when the shot type changes."""
    dialogue: list[Line] = []
    """What is said over this frame; shown on the sheet and timed into the animatic, never drawn."""


class Version(BaseModel):
    """One image made for a frame; every version stays on disk."""

    path: str  # relative to the output folder
    key: str
    """Fingerprint of everything that produced the image; equal keys mean equal images."""
    seed: int
    renderer: str
    kind: Literal["render", "inpaint"] = "render"
    model: str = ""
    """Checkpoint that drew it (diffusers renderer); empty for the sketch renderer."""
    adapters: dict[str, float] = {}  # the LoRA adapters that were active, with their weights
    steps: int | None = None
    guidance: float | None = None
    scheduler: str = ""
    job: str = ""
    """Key of the frame's render job this image answers; a retry's images share it with the first render."""
    attempt: int = 0  # 0 for the first render of the job, n for its n-th retry with fresh seeds
    clip_score: float | None = None
    """CLIP score against the frame's prompt, once a critic has scored it."""
    mask: str = ""
    """Inpainted versions: the mask image used (white = redrawn), relative to the output folder."""
    prompt: str = ""
    """Inpainted versions: what the person asked to draw in the region."""
    source: str = ""
    """Inpainted versions: the image that was repaired."""


class MaskChoice(BaseModel):
    """Masks SAM proposed for a point, waiting for the person to say which one to inpaint with."""

    image: str  # the frame image the masks were made on
    point: list[int]
    prompt: str
    paths: list[str]
    scores: list[float]
    blur: float
    dilate: int
    close: int


class Retry(BaseModel):
    """A re-render the critic asked for: which job, which attempt, and any extra pull of the shot LoRA."""

    job: str
    attempt: int
    shot_boost: float = 0.0


class ShotCheck(BaseModel):
    """CLIP's zero-shot reading of the framing."""

    predicted: str  # slug of the shot type the image looks like
    probability: float
    ok: bool
    """False when the predicted type is two or more steps of camera distance from the planned one."""


class Flag(BaseModel):
    """Something the person should look at before using the frame."""

    kind: Literal["low_score", "shot_type", "inconsistent", "repetitive"]
    message: str
    character: str | None = None  # the character an "inconsistent" flag is about


class Critique(BaseModel):
    """What the critic said about a frame's current image."""

    key: str
    """Key of the version this critique is about."""
    scorer: str | None = None
    """Name of the model that scored the frame, or None when no scorer ran."""
    clip_score: float | None = None
    shot_check: ShotCheck | None = None
    consistency: dict[str, float] = {}
    """Character -> mean cosine likeness to that character's other frames."""
    flags: list[Flag] = []
    retries: int = 0
    """Re-renders made for the current job before this image was kept."""
    note: str = ""


class Frame(BaseModel):
    """A frame of the storyboard: its spec, the versions made so far and the checks run on it."""

    id: str
    """Stable identity that survives reordering ("f3")."""
    spec: FrameSpec
    versions: list[Version] = []
    selected: int | None = None
    """Index into `versions` of the image shown for this frame."""
    picks: dict[str, int] = {}
    """Render key -> the candidate the person picked for it, restored if the frame returns to that render."""
    lint: list[Violation] = []
    critique: Critique | None = None
    retry: Retry | None = None
    """The re-render the critic last asked for; ignored once the frame's job changes."""
    masks: MaskChoice | None = None
    """SAM's masks for the person's last point, until one is chosen."""
    duration: float | None = None
    """Seconds the person set for this frame in the animatic; None uses the estimate from action and dialogue."""

    def image(self) -> Version | None:
        """Return the selected version, or None before the first render."""
        return None if self.selected is None else self.versions[self.selected]


class Settings(BaseModel):
    """Render settings the person can change in chat."""

    width: int = 512
    height: int = 512
    candidates: int = 1
    """Images made per frame; the first (or the person's pick) becomes shot_<i>.png."""
    steps: int = 25
    """Denoising steps (diffusers renderer)."""
    guidance: float = 7.5
    """Classifier-free guidance scale (diffusers renderer)."""
    scheduler: str = "dpm++"
    """"dpm++", "ddim" or "euler_a" (diffusers renderer)."""


class Step(BaseModel):
    """How the storyboard stood before one correction, kept so undo can put it back.

    A step is read against the board that followed it (the "newer" board). While it is the newest step, and in
    sessions saved before steps were settled, `frames` is the whole frame list. Once the newer board is final,
    graphs.corrections.edits.settle keeps only what that board does not hold already: a frame the correction left
    alone is left out, and a frame that is kept drops the versions it shares with the newer frame of the same id. So
    a step costs about what its correction changed, not the whole board.
    """

    frames: list[Frame]
    """The frames as they were: all, or once settled only those the newer board does not hold as they were."""
    scene: Scene | None = None
    """The scene as it was; None when it is the newer board's."""
    settings: Settings | None = None
    """The settings as they were; None when they are the newer board's."""
    settled: bool = False
    order: list[str] = []
    """Settled steps: ids of the frames as they were, in order; empty when the newer board has the same order."""
    shared: dict[str, int] = {}
    """Settled steps: frame id -> how many first versions of the newer frame of that id the frame had. A frame
    left out of `frames` and named here had that many; one not named had all of them. A frame kept in `frames`
    and named here had that many before its own `versions`; one not named had none of them."""

    def ids(self, newer: list[Frame]) -> list[str]:
        """Return the ids of the frames as they were, in order, given the newer board's frames."""
        if not self.settled:
            return [frame.id for frame in self.frames]
        return self.order or [frame.id for frame in newer]


class Storyboard(BaseModel):
    """The graph's state: one storyboard session."""

    scene: Scene
    settings: Settings = Settings()
    planner: str = ""  # which planner made the plan ("rules", "openai")
    renderer: str = ""  # which renderer drew the frames ("sketch", "diffusers")
    frames: list[Frame] = []
    next_id: int = 0  # counter for new frame ids
    history: list[Step] = []
    """How the storyboard stood before each of the last corrections, newest last, for undo (graphs.corrections.edits)."""
    forgotten: int = 0
    """Corrections that fell off the start of `history` (it keeps graphs.corrections.edits.HISTORY_LIMIT)."""
    pending: str | None = None  # the person's last message, waiting to be applied
    inpaint: Inpaint | ChooseMask | None = None
    """An inpainting request read from the last message, checked and waiting for the inpaint node."""
    applied: list[str] = []
    """Corrections applied so far, in order."""
    notice: str = ""
    """Reply to the last message: what changed, or why nothing did."""
    outcome: Literal["changed", "refused", "asked"] = "changed"
    """What the last message did: changed the storyboard, was refused, or was answered with a question. The graph
    routes on this, never on the notice's words; "changed" also reads sessions saved before the field existed."""
    exports: list[str] = []
    """Formats the person asked for when exporting, besides those always written."""
    done: bool = False

    _older_history = field_validator("history", mode="before")(older_history)
