"""Reading storyboard state saved by earlier releases, so an old session folder still opens."""

from __future__ import annotations

from pydantic import ValidationInfo


def older_history(value: object, info: ValidationInfo) -> object:
    """Read sessions saved when history held frame lists alone: each step keeps the scene and settings of now.

    Used as the "before" validator of Storyboard.history; `info.data` holds the fields already read.
    """
    if not isinstance(value, list) or not any(isinstance(step, list) for step in value):
        return value
    scene, settings = info.data.get("scene"), info.data.get("settings")
    return [{"frames": step, "scene": scene, "settings": settings} if isinstance(step, list) else step
            for step in value]
