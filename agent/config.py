"""Turn front-end options into the graph's Context: which planner and renderer to use."""

from __future__ import annotations

from graphs.context import Context
from graphs.planner import RulesPlanner
from tools.sketch import SketchRenderer

PLANNERS = ("auto", "rules", "openai")
RENDERERS = ("auto", "sketch", "diffusers")


class ConfigError(ValueError):
    """An option the operator must change; the message says what is expected."""


def make_context(planner: str = "auto", renderer: str = "auto") -> Context:
    """Return the Context for the chosen planner and renderer names."""
    if planner not in PLANNERS:
        raise ConfigError(f"--planner: expected one of {', '.join(PLANNERS)}, got {planner!r}")
    if renderer not in RENDERERS:
        raise ConfigError(f"--renderer: expected one of {', '.join(RENDERERS)}, got {renderer!r}")
    if planner == "openai":
        raise ConfigError("--planner openai: the OpenAI planner is not part of this version yet; use rules")
    if renderer == "diffusers":
        raise ConfigError("--renderer diffusers: Stable Diffusion rendering is not part of this version yet; "
                          "use sketch")
    return Context(planner=RulesPlanner(), renderer=SketchRenderer())
