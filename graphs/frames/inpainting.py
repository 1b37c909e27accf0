"""Repairing a region of a frame: check the request, make the mask, inpaint, keep every version.

The correct node checks a request against the state (frame, region, cast, configured models) so a
bad one changes nothing; the inpaint node then does the model work and records a new version of
the frame, with its mask and prompt, selected as the frame's image.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
from PIL import Image

from graphs.commands import ChooseMask, Inpaint
from graphs.context import Context
from graphs.corrections.frame_edits import named
from graphs.errors import CorrectionError
from graphs.frames.rendering import answering, job_of, open_rgb
from graphs.state import Frame, MaskChoice, Storyboard, Version
from prompts.shot_types import negative_prompt
from tools.errors import SegmentError
from tools.files import atomic
from tools.files.image_check import image_problem
from tools.models.adapters import adapters_for
from tools.render.job import ProgressFn
from tools.repair.inpaint import InpaintJob
from tools.repair.masks import check_box, check_point, image_to_mask, mask_to_image, rect_mask, refine

SAM_REFINE = {"blur": 4.0, "dilate": 8, "close": 4}
"""Defaults for SAM masks: close small gaps, widen a little past the edge, soften it."""
RECT_REFINE = {"blur": 4.0, "dilate": 0, "close": 0}
"""Defaults for plain rectangles: the person drew the edge, so only soften it."""
INPAINT_SEED_STEP = 100_003


def _frame(state: Storyboard, number: int) -> Frame:
    if not 0 <= number < len(state.frames):
        raise CorrectionError(f"there is no frame {number}: frames are numbered 0 to {len(state.frames) - 1}")
    frame = state.frames[number]
    if frame.image() is None:
        raise CorrectionError(f"frame {number} has no image yet")
    return frame


def _check_cast(state: Storyboard, ctx: Context, text: str) -> None:
    cast = {c.name.lower() for c in state.scene.characters}
    known = set(ctx.library.characters) | set(ctx.library.classes) if ctx.library else set()
    for token in sorted(known):
        if token.lower() not in cast and re.search(rf"\b{re.escape(token)}\b", text, re.IGNORECASE):
            names = ", ".join(c.shown for c in state.scene.characters) or "nobody"
            raise CorrectionError(f"{token} is not in this scene's cast; expected one of: {names}")


def check_request(state: Storyboard, command: Inpaint | ChooseMask, ctx: Context) -> Inpaint | ChooseMask:
    """Raise CorrectionError unless the request can run; return it with the frame filled in for masks."""
    if ctx.inpainter is None:
        raise CorrectionError("inpainting needs Stable Diffusion: expected a library.toml whose checkpoint loads "
                              "(the sketch renderer cannot inpaint)")
    if isinstance(command, ChooseMask):
        waiting = [i for i, f in enumerate(state.frames) if _waiting(f)]
        number = command.frame if command.frame is not None else (waiting[0] if len(waiting) == 1 else None)
        if number is None:
            raise CorrectionError('no masks are waiting; expected "frame N: inpaint point x,y with ..." first'
                                  if not waiting else "several frames have masks waiting; say \"frame N: mask M\"")
        frame = _frame(state, number)
        if not _waiting(frame):
            raise CorrectionError(f"frame {number} has no masks waiting; expected \"frame {number}: inpaint point "
                                  "x,y with ...\" first")
        if not 0 <= command.mask < len(frame.masks.paths):
            raise CorrectionError(f"frame {number} has masks 0 to {len(frame.masks.paths) - 1}, not {command.mask}")
        return command.model_copy(update={"frame": number})
    frame = _frame(state, command.frame)
    if command.region != "rect" and ctx.segmenter is None:
        raise CorrectionError(f"a {command.region} needs SAM: expected [model] sam in library.toml, "
                              "or \"inpaint rect ...\" for a plain rectangle")
    for name, value in (("blur", command.blur), ("dilate", command.dilate), ("close", command.close)):
        if value is not None and not 0 <= value <= 64:
            raise CorrectionError(f"{name} {value:g}: expected a number of pixels from 0 to 64")
    if not command.prompt.strip():
        raise CorrectionError("say what to draw in the region after \"with\"")
    _check_cast(state, ctx, command.prompt)
    try:
        with Image.open(ctx.folder() / frame.image().path) as image:
            size = image.size
    except OSError:
        raise CorrectionError(f"frame {command.frame}: its image {frame.image().path} is missing or unreadable; "
                              "expected the file the storyboard names (regenerate the frame)") from None
    try:
        (check_point if command.region == "point" else check_box)(tuple(command.coords), size)
    except SegmentError as error:
        raise CorrectionError(f"frame {command.frame}: {error}") from None
    return command


def _waiting(frame: Frame) -> bool:
    """Tell whether SAM's masks for the frame's current image wait for a choice."""
    return frame.masks is not None and frame.image() is not None and frame.masks.image == frame.image().path


def _refinement(command: Inpaint, defaults: dict) -> dict:
    """Return the blur, dilate and close to use: the command's own values, else the defaults."""
    return {key: getattr(command, key) if getattr(command, key) is not None else value
            for key, value in defaults.items()}


def _digest(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def propose_masks(state: Storyboard, command: Inpaint, ctx: Context) -> dict:
    """Run SAM on a point, save its three masks, and wait for the person to choose one."""
    out, i = ctx.folder(), command.frame
    frame = state.frames[i]
    image = frame.image()
    masks = ctx.segmenter.point_masks(open_rgb(out, image.path), tuple(command.coords))
    stem = _digest(image.path, command.coords)
    paths = [f"frames/masks/{frame.id}-{stem}-point-{m}.png" for m in range(len(masks))]
    for path, mask in zip(paths, masks):
        atomic.write_png(out / path, mask_to_image(mask.pixels))
    refine_with = _refinement(command, SAM_REFINE)
    choice = MaskChoice(image=image.path, point=command.coords, prompt=command.prompt, paths=paths,
                        scores=[round(m.score, 4) for m in masks], **refine_with)
    frames = list(state.frames)
    frames[i] = frame.model_copy(update={"masks": choice})
    listed = ", ".join(f"mask {m} (score {mask.score:.2f}, {mask.pixels.mean():.0%} of the image) {path}"
                       for m, (mask, path) in enumerate(zip(masks, paths)))
    return {"frames": frames,
            "notice": f"frame {i}: SAM proposes {len(paths)} masks: {listed}; say \"mask N\" to inpaint with one"}


def _chosen_mask(frame: Frame, command: ChooseMask, out: Path) -> tuple[np.ndarray, str, str, dict]:
    """Read the SAM mask the person chose; return it with the prompt, a name for the region and its refinement."""
    choice = frame.masks
    try:
        with Image.open(out / choice.paths[command.mask]) as chosen:
            raw = image_to_mask(chosen) > 0.5
    except OSError:
        raise CorrectionError(f"frame {command.frame}: mask file {choice.paths[command.mask]} is missing or "
                              "unreadable; expected the file SAM proposed (ask for the point again)") from None
    region = f"mask {command.mask} of point {choice.point[0]},{choice.point[1]}"
    return raw, choice.prompt, region, {"blur": choice.blur, "dilate": choice.dilate, "close": choice.close}


def _drawn_mask(source: Image.Image, command: Inpaint, ctx: Context) -> tuple[np.ndarray, str, str, dict]:
    """Make the mask of a rectangle, or SAM's mask inside a box; return it as _chosen_mask does."""
    box = tuple(command.coords)
    raw = (rect_mask(source.size, box) if command.region == "rect" else ctx.segmenter.box_mask(source, box)).pixels
    refine_with = _refinement(command, RECT_REFINE if command.region == "rect" else SAM_REFINE)
    return raw, command.prompt, f"{command.region} {','.join(map(str, box))}", refine_with


def _mask(frame: Frame, source: Image.Image, command: Inpaint | ChooseMask,
          ctx: Context) -> tuple[Image.Image, str, str]:
    """Return the refined mask image, the prompt and the region's name; refuse a mask that covers nothing."""
    if isinstance(command, ChooseMask):
        raw, prompt, region, refine_with = _chosen_mask(frame, command, ctx.folder())
    else:
        raw, prompt, region, refine_with = _drawn_mask(source, command, ctx)
    refined = refine(np.asarray(raw), **refine_with)
    if not refined.any():
        raise CorrectionError(f"frame {command.frame}: the {region} mask covers nothing; expected a region with some "
                              "pixels in it (try another mask, a box, or dilate N)")
    return mask_to_image(refined), prompt, region


def _request(state: Storyboard, frame: Frame, source: Image.Image, mask: Image.Image, prompt: str,
             ctx: Context) -> InpaintJob:
    """Return the inpainting job: a seed of its own per repair, the LoRAs of the people named, the negative prompt."""
    settings = state.settings
    earlier = sum(v.kind == "inpaint" for v in frame.versions)
    seed = (frame.spec.seed + INPAINT_SEED_STEP * (earlier + 1)) % (2**31 - 1)
    people = [c.name for c in named(state.scene.characters, prompt)]
    adapters = adapters_for(ctx.library, frame.spec.shot_type, people, with_shot=False) if ctx.library else ()
    negative = (negative_prompt(frame.spec.shot_type, ctx.library.negative) if ctx.library and ctx.library.negative
                else frame.spec.negative_prompt)
    return InpaintJob(image=source, mask=mask, prompt=prompt, negative_prompt=negative, seed=seed,
                      candidates=settings.candidates, steps=settings.steps, guidance=settings.guidance,
                      scheduler=settings.scheduler, adapters=adapters)


def _draw(request: InpaintJob, paths: list[str], ctx: Context, on_progress: ProgressFn | None) -> tuple[str, str, str]:
    """Inpaint into `paths`, unless a run cut off after drawing left them all there.

    Returns the renderer's name, the model that drew and a note on memory saved, if any, for the notice.
    """
    out = ctx.folder()
    if all(not image_problem(out / path) for path in paths):  # a run cut off after drawing: keep what it drew
        return ctx.inpainter.name, str(ctx.inpainter.checkpoint or ctx.inpainter.model.base), ""
    result = ctx.inpainter.inpaint(request, on_progress)
    for path, picture in zip(paths, result.images):
        atomic.write_png(out / path, picture)
    info = result.info
    squeezed = f"; {info['memory_notice']}" if info.get("memory_notice") else ""
    return result.renderer, str(ctx.inpainter.checkpoint or info.get("model", "")), squeezed


def _versions(request: InpaintJob, paths: list[str], stem: str, source: Version, mask_path: str, renderer: str,
              model: str) -> list[Version]:
    """Record each inpainted candidate as a version of the frame, answering the job of the image it repaired."""
    return [Version(path=path, key=f"{stem}i" if k == 0 else f"{stem}i-{k}", job=job_of(source), seed=request.seed + k,
                    renderer=renderer, kind="inpaint", mask=mask_path, prompt=request.prompt, source=source.path,
                    adapters={a.name: a.weight for a in request.adapters}, steps=request.steps,
                    guidance=request.guidance, scheduler=request.scheduler, model=model)
            for k, path in enumerate(paths)]


def inpaint_frame(state: Storyboard, command: Inpaint | ChooseMask, ctx: Context,
                  on_progress: ProgressFn | None = None) -> dict:
    """Make the mask, inpaint the frame's image with it, and record the results as new versions."""
    out, i = ctx.folder(), command.frame
    frame = state.frames[i]
    image = frame.image()
    source = open_rgb(out, image.path)
    mask, prompt, region = _mask(frame, source, command, ctx)
    request = _request(state, frame, source, mask, prompt, ctx)
    stem = _digest(image.path, np.asarray(mask).tobytes(), prompt, request.seed, request.candidates, request.steps,
                   request.guidance, request.scheduler, request.adapters)
    mask_path = f"frames/masks/{frame.id}-{stem}.png"
    paths = [f"frames/versions/{frame.id}-inpaint-{stem}-{k}.png" for k in range(request.candidates)]
    renderer, model, squeezed = _draw(request, paths, ctx, on_progress)
    if not (out / mask_path).is_file():
        atomic.write_png(out / mask_path, mask)
    versions = _versions(request, paths, stem, image, mask_path, renderer, model)
    job = job_of(image)
    frame = frame.model_copy(update={"versions": frame.versions + versions, "masks": None})
    chosen = len(answering(frame, job)) - len(versions)
    frame = frame.model_copy(update={"selected": len(frame.versions) - len(versions),
                                     "picks": {**frame.picks, job: chosen}})
    frames = list(state.frames)
    frames[i] = frame
    more = f"; candidates {chosen} to {chosen + len(versions) - 1} (\"frame {i}: pick N\" to switch)" \
        if len(versions) > 1 else ""
    return {"frames": frames, "notice": f"frame {i}: inpainted {region} with {prompt!r}{more}{squeezed}"}
