"""The errors the front-ends and sessions raise on purpose, on the three bases of tools/errors.py."""

from __future__ import annotations

from tools.errors import InputError, MachineError, SetupError


class SceneError(InputError, ValueError):
    """A scene file that cannot be used; the message names the file, the field and what was expected."""


class TurnsError(InputError, ValueError):
    """A turns file that cannot be used; the message is one line saying what was expected."""


class SessionError(InputError, RuntimeError):
    """A session asked for what it cannot do: none kept in the folder named, or not waiting for a message."""


class ConfigError(SetupError, ValueError):
    """An option the operator must change; the message says what is expected."""


class StoreDamaged(MachineError, RuntimeError):
    """The checkpoint file cannot be read as a session (and, when raised from a session, no good copy mends it)."""


class FolderUnusable(MachineError, RuntimeError):
    """The session's folder refuses a write: read-only, full, or denied; what was saved before stays."""


class SaveFailed(FolderUnusable):
    """The folder refused a write while the session was working (a disk that filled), so the work stopped part
    way; --resume finishes it once the folder can be written."""

    exit_code = 1
