"""Every error the tools raise on purpose, sorted by who can put it right.

Three bases say who that is, and a front-end catches only them:

- `InputError`: the person's input (a scene, a box, a file, an export option); they change it and try again.
- `SetupError`: the operator's configuration (the model library, a LoRA, the chat model, training options).
- `MachineError`: the machine (GPU memory, a damaged or busy file, a disk that refuses a write); the work
  done so far is kept, and the same request can be made again once the machine is fit.

Each error's text is the one line shown to people; none needs a traceback to be understood. The graphs
and the agent keep their own errors in graphs/errors.py and agent/errors.py on the same three bases.
Each class keeps the standard exception it has always been (ValueError, RuntimeError), so callers that
catch those still do.
"""

from __future__ import annotations


class ShotsmithError(Exception):
    """Base of the errors Shotsmith raises on purpose; str(error) is one line saying what was expected."""

    exit_code = 2
    """The status the command line exits with when it stops on this error: 2, unless the error stopped work
    that was under way (then 1, as for a correction that failed)."""


class InputError(ShotsmithError):
    """Something the person gave cannot be used; they can change it."""


class SetupError(ShotsmithError):
    """The operator's configuration cannot be used; they can change it, the person cannot."""


class MachineError(ShotsmithError):
    """The machine could not do the work (memory, disk, a damaged or busy file); what was finished stays."""


class Cancelled(RuntimeError):
    """A render was asked to stop; nothing of the cut-off frame is kept. Not an error: nobody has to fix it."""


class ExportError(ShotsmithError, RuntimeError):
    """An export that was not written. Raised as ExportRefused (the person's request) or ExportFailed (the
    machine), so catching ExportError takes both."""


# --- the person's input ---

class FileRefused(InputError, ValueError):
    """A file that is not read: not a regular file, or larger than its cap, or not text.

    The message is one line that names the file, what was expected and the cap.
    """


class SegmentError(InputError, ValueError):
    """A box or point that does not fit the image; the message is one line saying what was expected."""


class ExportRefused(InputError, ExportError):
    """An export that cannot be made from what was asked: an unknown format or option, or a folder that holds
    no usable storyboard."""


class FieldError(InputError, ValueError):
    """One field of one frame in storyboard.json that cannot be used; the message starts with the field's name."""


# --- the operator's configuration ---

class LibraryError(SetupError, ValueError):
    """A manifest or model file that cannot be used; the message names it and says what was expected."""


class LoraError(LibraryError):
    """A LoRA file of the library that cannot be used; the message names the file and says what was expected."""


class TrainDataError(LibraryError):
    """A folder of training pictures that cannot be used as a whole (training builds the operator's library);
    the message names it and says what was expected."""


class TrainError(SetupError, ValueError):
    """Training cannot start or go on; the one-line message says what to change."""


class LLMError(SetupError, RuntimeError):
    """The chat model could not be reached or never answered in the expected shape; one line says why."""


# --- the machine ---

class OutOfMemory(MachineError, RuntimeError):
    """The GPU ran out of memory even one image at a time with attention slicing.

    Frames finished before it stay on disk, and the same work can be carried on later (or with smaller
    frames or fewer candidates).
    """


class CheckpointDamaged(MachineError, RuntimeError):
    """A training checkpoint whose files cannot be read back (cut short by a crash or a full disk)."""


class FolderBusy(MachineError, RuntimeError):
    """Another process (or another session in this one) is writing into the folder."""


class ExportFailed(MachineError, ExportError):
    """An export that was asked for rightly but could not be written or read back (a full disk, a damaged image,
    a codec that failed); files written before it stay and the others are unchanged."""
