"""The edit commands a chat message can ask for, as typed values every reader (rules or model) produces."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from prompts.camera import Angle, Framing, Movement


class _Command(BaseModel):
    """Base of every command: field notes become descriptions in the JSON schema a chat model fills in."""

    model_config = ConfigDict(use_attribute_docstrings=True)


class SetShot(_Command):
    """Change a frame's shot type."""

    kind: Literal["set_shot"] = "set_shot"
    frame: int
    shot_type: str


class Rewrite(_Command):
    """Replace a frame's prompt with the person's own text."""

    kind: Literal["rewrite"] = "rewrite"
    frame: int
    prompt: str
    whole: bool = False
    """True when the person said outright that the whole prompt goes ("frame 2: prompt: ..."); otherwise a text
    that would drop the frame's cast or setting is asked about first."""


class Resize(_Command):
    """Frame a shot tighter (negative steps) or wider (positive) along the shot sizes, keeping all else."""

    kind: Literal["resize"] = "resize"
    frame: int
    steps: int


class SetCamera(_Command):
    """Change a frame's framing, angle or movement; what is left None stays as it is."""

    kind: Literal["set_camera"] = "set_camera"
    frame: int
    framing: Framing | None = None
    angle: Angle | None = None
    movement: Movement | None = None
    who: str = ""
    """The character the framing is about, as typed: the one an over-the-shoulder shot looks at, whose point of
    view it is, who reacts, who is in a single or joins a two-shot."""
    shoulder: str = ""
    """Whose shoulder an over-the-shoulder shot looks past, as typed."""
    subject: str = ""
    """What an insert shows ("the letter")."""
    behind: bool = False
    """The character (`who`, or the frame's only one) is seen from behind."""


class Hold(_Command):
    """Hold a frame longer or shorter in the animatic, by half as much again."""

    kind: Literal["hold"] = "hold"
    frame: int
    longer: bool


class Regenerate(_Command):
    """Render a frame again with a new seed; frame None means every frame."""

    kind: Literal["regenerate"] = "regenerate"
    frame: int | None


class Pick(_Command):
    """Show another of a frame's candidates (numbered from 0, like the files) as its shot."""

    kind: Literal["pick"] = "pick"
    frame: int
    candidate: int


class Inpaint(_Command):
    """Redraw a region of a frame's image: a SAM box, a plain rectangle, or a SAM point (then a mask is chosen)."""

    kind: Literal["inpaint"] = "inpaint"
    frame: int
    region: Literal["box", "rect", "point"]
    coords: list[int]
    """x0, y0, x1, y1 for a box or rectangle; x, y for a point; in image pixels."""
    prompt: str
    blur: float | None = None
    dilate: int | None = None
    close: int | None = None
    """Mask refinement; None takes the default for the region."""


class ChooseMask(_Command):
    """Inpaint with one of the masks SAM proposed for a point (numbered from 0)."""

    kind: Literal["mask"] = "mask"
    frame: int | None
    """None: the one frame that has masks waiting."""
    mask: int


class Swap(_Command):
    """Exchange two frames."""

    kind: Literal["swap"] = "swap"
    first: int
    second: int


class Remove(_Command):
    """Delete a frame."""

    kind: Literal["remove"] = "remove"
    frame: int


class Undo(_Command):
    """Go back to the frames as they were before the last correction."""

    kind: Literal["undo"] = "undo"


EXPORT_FORMATS = ("png", "json", "pdf", "csv", "mp4", "gif", "otio")
"""What a storyboard can be exported as."""
ALWAYS_WRITTEN = ("png", "pdf")
"""Formats every published storyboard has (with storyboard.json): the sheet as an image and as a PDF."""


class Export(_Command):
    """Finish the session and write the final storyboard, with any extra formats asked for."""

    kind: Literal["export"] = "export"
    formats: list[Literal["png", "json", "pdf", "csv", "mp4", "gif", "otio"]] = []
    """Formats wanted besides png, json and pdf; empty writes just those."""


DURATION_RANGE = (0.2, 60.0)
"""The shortest and longest hold, in seconds, a person may give a frame."""


class SetDuration(_Command):
    """Hold a frame for this many seconds in the animatic and the timeline."""

    kind: Literal["set_duration"] = "set_duration"
    frame: int
    seconds: float


class Append(_Command):
    """Add words to the end of a frame's prompt, as a sentence of their own."""

    kind: Literal["append"] = "append"
    frame: int
    text: str


class MoveCharacter(_Command):
    """Stand a character somewhere else in one frame; whoever stood there takes the character's old place."""

    kind: Literal["move_character"] = "move_character"
    frame: int
    character: str
    """The character's token or one of its aliases, as the person typed it."""
    position: Literal["left", "centre", "right"]


class AddFrame(_Command):
    """Plan one more frame showing an action and put it into the storyboard."""

    kind: Literal["add_frame"] = "add_frame"
    after: int | None
    """The frame the new one follows; -1 puts it first, None puts it last."""
    shot_type: str | None
    """Slug of the shot type; None lets the planner choose."""
    action: str


class Duplicate(_Command):
    """Put a copy of a frame right after it, with its own id and seed."""

    kind: Literal["duplicate"] = "duplicate"
    frame: int


class MoveFrame(_Command):
    """Take a frame out and put it back so that it ends up at index `to` of the new order."""

    kind: Literal["move_frame"] = "move_frame"
    frame: int
    to: int


class SetStyle(_Command):
    """Change the look of the whole storyboard; an empty style removes it."""

    kind: Literal["set_style"] = "set_style"
    style: str


SettingName = Literal["width", "height", "steps", "guidance", "candidates", "scheduler"]


class SetSetting(_Command):
    """Change one render setting; `value` is checked by `check_setting` before it is used."""

    kind: Literal["set_setting"] = "set_setting"
    name: SettingName
    value: int | float | str


class Clarify(_Command):
    """A message read but not acted on, because it leaves something open; the question says what."""

    kind: Literal["clarify"] = "clarify"
    question: str


class Refusal(Clarify):
    """A message the rules could not read, or read but cannot accept (a setting out of range); `question` says why.

    It is a Clarify so that a model may still be asked to read the message, but it is shown as an error, not as a
    question, when nothing better comes of it. It is not part of the schema a model answers with.
    """


Command = (SetShot | Rewrite | Regenerate | Pick | Inpaint | ChooseMask | Swap | Remove | Undo | Export | SetDuration
           | Append | MoveCharacter | AddFrame | Duplicate | MoveFrame | SetStyle | SetSetting | Resize | SetCamera | Hold
           | Clarify)

HELP = ('try "frame 3: close-up", "frame 3: tighter" or "wider", "frame 3: two-shot", "frame 3: over the shoulder '
        'on <name>", "frame 3: POV of <name>", "frame 3: reaction shot of <name>", "frame 3: low angle", '
        '"frame 3: push in", "frame 3: insert of the letter", "frame 3: hold longer", "frame 2: <new prompt>", '
        '"frame 2: add <more words>", "regenerate 5", "regenerate all", "frame 4: candidate 1", '
        '"frame 4: inpaint box 120,60,380,500 with <what to draw>", "frame 3: <name> on the left", '
        '"add a frame after 3: <what happens>", "duplicate 2", "move frame 5 to 2", "swap 2 and 4", "remove 6", '
        '"style: <look>", "steps 30", "size 768x512", "frame 3: 2.5s", "undo", "export" or '
        '"export mp4, gif, csv, otio"')


REFUSED = "error: "
"""How a notice starts, for the person reading it, when the last message could not be applied (the state's
`outcome` says so for the graph)."""

ASKED = "question: "
"""How a notice starts, for the person reading it, when the last message left something open; a question follows."""
