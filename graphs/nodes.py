"""The graph's nodes. Each reads the state, does one job, and returns only what it changed."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import replace

from langgraph.config import get_stream_writer
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from graphs.commands import ASKED, REFUSED, ChooseMask, Clarify, Inpaint, Refusal
from graphs.context import Context, Planner
from graphs.corrections.edits import apply_commands, remember
from graphs.corrections.interpreter import interpret
from graphs.errors import CorrectionError
from graphs.events import (Critiqued, Done, FrameDrawn, Notice, Planned, Problem, Progress, Published, Question, Queued,
                           Reply, Retrying)
from graphs.frames.document import caption, storyboard_document
from graphs.frames.inpainting import check_request, inpaint_frame, propose_masks
from graphs.frames.rendering import bring_up_to_date, job_for, job_key, needs_drawing
from graphs.frames.scoring import NO_SCORER, decide, pending_retry, review_frames, score_candidates, summary
from graphs.planning.dialogue import attach
from graphs.planning.llm_planner import plan_or_rules
from graphs.planning.mend import mended
from graphs.planning.planner import RulesPlanner
from graphs.state import Critique, Frame, FrameSpec, Storyboard
from prompts.lint import Violation, lint_plan
from tools.errors import ExportError, ShotsmithError
from tools.export.exports import write_exports
from tools.export.grid import Panel, write_grid
from tools.files import atomic
from tools.models.library import CritiqueSettings


def plan(state: Storyboard, runtime: Runtime[Context]) -> dict:
    """Ask the planner for frame specs; when a model planner fails, plan by rules and say so."""
    write = get_stream_writer()
    specs, name, notice = plan_or_rules(runtime.context.planner, state.scene)
    specs = attach(state.scene, specs)
    if notice:
        write(Notice(notice))
    frames = [Frame(id=f"f{i}", spec=spec) for i, spec in enumerate(specs)]
    write(Planned(planner=name, frames=len(frames)))
    return {"frames": frames, "planner": name, "next_id": len(frames)}


def planner_for(state: Storyboard, ctx: Context) -> Planner:
    """Return the planner that made the plan, so new and restaged frames come from the same one."""
    return ctx.planner if ctx.planner.name == state.planner or not state.planner else RulesPlanner()


def lint(state: Storyboard) -> dict:
    """Mend what can be mended in each prompt and record the rules still broken."""
    people = state.scene.characters
    frames, found = [], {}
    for frame in state.frames:
        fixed, broken = mended(frame.spec, people)
        if fixed != frame.spec.prompt:
            frame = frame.model_copy(update={"spec": frame.spec.model_copy(update={"prompt": fixed})})
        found[id(frame.spec)] = broken
        frames.append(frame)

    def lint_one(index: int, spec: FrameSpec, _cast) -> list[Violation]:
        return [Violation(frame=index, rule=rule, reason=reason) for rule, reason in found[id(spec)]]

    violations = lint_plan([f.spec for f in frames], people, lint_one)
    out = []
    for i, frame in enumerate(frames):
        mine = [v for v in violations if v.frame == i]
        out.append(frame if frame.lint == mine else frame.model_copy(update={"lint": mine}))
    return {"frames": out}


def render(state: Storyboard, runtime: Runtime[Context]) -> dict:
    """Render the frames whose image is missing or out of date; leave every other frame alone."""
    ctx = runtime.context
    write = get_stream_writer()
    out = runtime.context.folder()
    frames = list(state.frames)
    cast = state.scene.characters
    for i, frame in enumerate(frames):
        def progress(step: int, steps: int, i: int = i) -> None:
            write(Progress(frame=i, frames=len(frames), step=step, steps=steps))
        def notice(text: str, i: int = i) -> None:
            write(Notice(f"frame {i}: {text}"))
        job = job_for(frame, state.settings, cast, ctx.library)
        key = job_key(job, ctx.renderer)
        turn = (ctx.gpu_lock.turn(lambda ahead: write(Queued(ahead)))
                if needs_drawing(frame, job, ctx.renderer, out, key) else nullcontext())  # nothing to draw: no queue place
        with turn:
            frames[i], status = bring_up_to_date(frame, job, ctx.renderer, out, progress, notice, key)
        write(FrameDrawn(frame=i, frames=len(frames), status=status, path=frames[i].image().path))
    return {"frames": frames, "renderer": ctx.renderer.name}


def critique(state: Storyboard, runtime: Runtime[Context]) -> dict:
    """Score new candidates and keep the best; ask for retries, or, with none pending, check every frame."""
    ctx = runtime.context
    if ctx.critic is None:
        frames = [f if f.critique and f.critique.key == f.image().key else
                  f.model_copy(update={"critique": Critique(key=f.image().key, note=NO_SCORER)}) for f in state.frames]
        return {"frames": frames}
    write = get_stream_writer()
    settings = ctx.library.critique if ctx.library else CritiqueSettings()
    if not ctx.renderer.follows_prompt:  # fresh seeds cannot bring a sketch closer to its prompt: score, never judge
        settings = replace(settings, threshold=0.0, retries=0, shot_retry=False)
    out = runtime.context.folder()
    frames = [decide(score_candidates(f, ctx.critic, out), ctx.critic, settings, out) for f in state.frames]
    retrying = [i for i, f in enumerate(frames) if pending_retry(f)]
    for i in retrying:
        retry, score = frames[i].retry, frames[i].image().clip_score or 0.0
        write(Retrying(frame=i, attempt=retry.attempt, retries=settings.retries,
                       reason="score" if score < settings.threshold else "shot", score=score,
                       threshold=settings.threshold, shot_boost=retry.shot_boost))
    if retrying:
        return {"frames": frames}
    frames = review_frames(frames, ctx.critic, settings, out)
    for i, (before, after) in enumerate(zip(state.frames, frames)):
        if before.critique != after.critique:
            write(Critiqued(frame=i, summary=summary(i, after.critique)))
    return {"frames": frames}


def publish(state: Storyboard, runtime: Runtime[Context]) -> dict:
    """Write shot_<i>.png for every frame, the storyboard sheet and storyboard.json."""
    out = runtime.context.folder()
    for i, frame in enumerate(state.frames):
        atomic.copy_if_changed(out / frame.image().path, out / "frames" / f"shot_{i}.png")
    stale = len(state.frames)
    while (out / "frames" / f"shot_{stale}.png").exists():
        (out / "frames" / f"shot_{stale}.png").unlink()
        stale += 1
    panels = [Panel(out / "frames" / f"shot_{i}.png", caption(i, f, state.scene.characters), _short(f.spec.action))
              for i, f in enumerate(state.frames)]
    write_grid(out / "storyboard.png", panels, state.scene.title)
    atomic.write_json(out / "storyboard.json", storyboard_document(state))
    write = get_stream_writer()
    try:
        write_exports(out, ["pdf"])
    except ShotsmithError as error:  # the images and storyboard.json are written; a sheet that fails must not stop work
        write(Notice(f"the PDF sheet was not written: {error}"))
    write(Published(out=str(out), frames=len(state.frames)))
    return {}


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def review(state: Storyboard) -> dict:
    """Wait for the person's next message; nothing else happens here, so resuming redoes no work."""
    message = interrupt({"notice": state.notice, "frames": len(state.frames)})
    return {"pending": str(message).encode("utf-8", "replace").decode("utf-8")}  # lone surrogates cannot be written


def correct(state: Storyboard, runtime: Runtime[Context]) -> dict:
    """Apply the pending message; a message that cannot be applied changes nothing but the notice.

    An inpainting request is only checked here and handed to the inpaint node, which does the model work.
    """
    text = state.pending or ""
    try:
        commands = interpret(text, state, runtime.context.llm)
        if isinstance(commands[0], Refusal):
            raise CorrectionError(commands[0].question)
        if isinstance(commands[0], Clarify):
            get_stream_writer()(Question(commands[0].question))
            return {"pending": None, "outcome": "asked", "notice": f"{ASKED}{commands[0].question}"}
        if len(commands) == 1 and isinstance(commands[0], (Inpaint, ChooseMask)):
            return {"inpaint": check_request(state, commands[0], runtime.context)}
        update = apply_commands(state, commands, planner_for(state, runtime.context))
    except CorrectionError as error:
        get_stream_writer()(Problem(str(error)))
        return {"pending": None, "outcome": "refused", "notice": f"{REFUSED}{error}"}
    get_stream_writer()(Reply(update["notice"]))
    # apply_commands says "asked" itself when a question came among other commands
    return {"outcome": "changed", **update, "pending": None, "applied": state.applied + [text]}


def inpaint(state: Storyboard, runtime: Runtime[Context]) -> dict:
    """Carry out the checked inpainting request: propose SAM masks for a point, or redraw the region."""
    ctx, command = runtime.context, state.inpaint
    write = get_stream_writer()

    def progress(step: int, steps: int) -> None:
        write(Progress(frame=command.frame, frames=len(state.frames), step=step, steps=steps))
    try:
        command = check_request(state, command, ctx)  # again: a resumed run may have other models or files
        with ctx.gpu_lock.turn(lambda ahead: write(Queued(ahead))):
            if isinstance(command, Inpaint) and command.region == "point":
                update = propose_masks(state, command, ctx)
            else:
                update = inpaint_frame(state, command, ctx, progress)
    except CorrectionError as error:
        write(Problem(str(error)))
        return {"inpaint": None, "pending": None, "outcome": "refused", "notice": f"{REFUSED}{error}"}
    write(Reply(update["notice"]))
    return {**update, **remember(state), "inpaint": None, "pending": None, "outcome": "changed",
            "applied": state.applied + [state.pending or ""]}


def export(state: Storyboard, runtime: Runtime[Context]) -> dict:
    """Write the formats the person asked for and finish; if one fails, the session stays open to try again."""
    write = get_stream_writer()
    out = runtime.context.folder()
    try:
        files = write_exports(out, state.exports) if state.exports else []
    except ExportError as error:
        write(Problem(f"{error}; nothing is lost: say \"export\" again to retry"))
        return {"done": False, "exports": [], "outcome": "refused", "notice": f"{REFUSED}{error}"}
    written = [out / name for name in ("storyboard.png", "storyboard.json", "storyboard.pdf")] + list(files)
    write(Done(out=str(out), files=tuple(str(path) for path in written)))
    return {"done": True}
