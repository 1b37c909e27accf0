"""The errors the graph raises on purpose, on the three bases of tools/errors.py (who can put it right)."""

from __future__ import annotations

from tools.errors import InputError, MachineError, SetupError


class CorrectionError(InputError, ValueError):
    """A message that could not be read or applied; its text is shown to the person."""


class PlannerError(SetupError, RuntimeError):
    """The chat model gave no usable plan; the message says why in one line (another model, or the rules
    planner, is the operator's choice)."""


class DamagedImage(MachineError, RuntimeError):
    """A frame's image on disk cannot be read and cannot be drawn again exactly; the message says what to do."""
