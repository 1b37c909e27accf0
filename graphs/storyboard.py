"""The storyboard state machine, start to finish, in one place.

START -> plan -> lint -> render -> critique -> publish -> review -> correct
critique -> render (a frame scored too low and has retries left) | publish
correct -> lint (something changed) | inpaint | review (nothing did) | export -> END
inpaint -> critique (a frame was repaired or got masks to choose from) | review (refused)
"""

from __future__ import annotations

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from graphs import nodes
from graphs.context import Context
from graphs.frames.scoring import pending_retry
from graphs.commands import ChooseMask, Inpaint
from graphs.state import (Character, Critique, Flag, Frame, FrameSpec, Line, MaskChoice, Placement, Retry, Scene, Settings,
                          ShotCheck, Speech, Step, Storyboard, Version)
from prompts.lint import Violation

STATE_MODELS = (Character, Line, Speech, Scene, Placement, FrameSpec, Version, MaskChoice, Retry, ShotCheck, Flag, Critique,
                Frame, Settings, Step, Storyboard, Violation, Inpaint, ChooseMask)
"""Every model the checkpointer may store, for its deserialisation allow-list. The checkpoint names each by its
module and class, so these classes stay defined where they are (graphs.state, graphs.commands, prompts.lint)."""


def after_correct(state: Storyboard) -> str:
    """Route a handled message: finish, redo the changed frames, or ask again."""
    if state.done:
        return "export"
    if state.inpaint is not None:
        return "inpaint"
    return "lint" if state.outcome == "changed" else "review"


def after_inpaint(state: Storyboard) -> str:
    """Show a repaired frame's critique, or go straight back to the person when the repair was refused."""
    return "critique" if state.outcome == "changed" else "review"


def after_export(state: Storyboard) -> str:
    """End once the exports are written; when one failed, wait for the person again with nothing lost."""
    return END if state.done else "review"


def after_critique(state: Storyboard) -> str:
    """Go back to render while the critic has asked for a retry, else publish."""
    return "render" if any(pending_retry(f) for f in state.frames) else "publish"


def build() -> StateGraph:
    """Return the graph builder with every node and edge."""
    graph = StateGraph(Storyboard, context_schema=Context)
    for name in ("plan", "lint", "render", "critique", "publish", "review", "correct", "inpaint", "export"):
        graph.add_node(name, getattr(nodes, name))
    graph.add_edge(START, "plan")
    graph.add_edge("plan", "lint")
    graph.add_edge("lint", "render")
    graph.add_edge("render", "critique")
    graph.add_conditional_edges("critique", after_critique, ["render", "publish"])
    graph.add_edge("publish", "review")
    graph.add_edge("review", "correct")
    graph.add_conditional_edges("correct", after_correct, ["export", "inpaint", "review", "lint"])
    graph.add_conditional_edges("inpaint", after_inpaint, ["critique", "review"])
    graph.add_conditional_edges("export", after_export, ["review", END])
    return graph


def serializer() -> JsonPlusSerializer:
    """Return a checkpoint serializer that accepts exactly the state's own models."""
    return JsonPlusSerializer(allowed_msgpack_modules=list(STATE_MODELS))


def compile_graph(checkpointer: BaseCheckpointSaver) -> CompiledStateGraph:
    """Return the runnable storyboard graph, saving every step with `checkpointer`."""
    return build().compile(checkpointer=checkpointer)
