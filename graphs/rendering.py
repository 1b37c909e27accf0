"""Turn frames into render jobs, fingerprint them, and keep every rendered version on disk."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from PIL import Image

from graphs.state import Frame, Settings, Version
from prompts.shot_types import shot_by_slug
from tools import atomic
from tools.adapters import adapters_for
from tools.library import Library
from tools.render import Figure, ProgressFn, Renderer, RenderJob


def caption(index: int, frame: Frame) -> str:
    """Return the caption line for a frame: number, shot type and who is in it."""
    names = ", ".join(c.name for c in frame.spec.characters)
    return f"{index} · {shot_by_slug(frame.spec.shot_type).name}" + (f" · {names}" if names else "")


def job_for(index: int, frame: Frame, settings: Settings, cast: list[str],
            library: Library | None = None) -> RenderJob:
    """Return the render job for a frame at a position in the storyboard.

    `cast` lists every token in order; `library`, when given, supplies the frame's LoRAs and weights.
    """
    spec = frame.spec
    figures = tuple(Figure(c.name, c.class_word, c.position, cast.index(c.name) if c.name in cast else -1)
                    for c in spec.characters)
    adapters = adapters_for(library, spec.shot_type, [c.name for c in spec.characters]) if library else ()
    return RenderJob(prompt=spec.prompt, negative_prompt=spec.negative_prompt, shot_type=spec.shot_type,
                     seed=spec.seed, figures=figures, setting=spec.setting, lighting=spec.lighting,
                     subject=spec.subject, caption=caption(index, frame), width=settings.width,
                     height=settings.height, candidates=settings.candidates, adapters=adapters,
                     steps=settings.steps, guidance=settings.guidance, scheduler=settings.scheduler)


def job_key(job: RenderJob, renderer: Renderer) -> str:
    """Return a fingerprint of everything that shapes the image: equal keys give equal images."""
    text = json.dumps({"renderer": renderer.name, **renderer.key_parts(job)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def version_path(frame: Frame, key: str, candidate: int) -> str:
    """Return where a candidate image of a frame lives, relative to the output folder."""
    return f"frames/versions/{frame.id}-{key}-{candidate}.png"


def base_key(version: Version) -> str:
    """Return the job key a version was rendered from (candidate k > 0 has key "<job key>-k")."""
    return version.key.split("-")[0]


def is_current(frame: Frame, key: str) -> bool:
    """Tell whether the frame already shows an image made from this key (any of its candidates)."""
    image = frame.image()
    return image is not None and base_key(image) == key


def bring_up_to_date(frame: Frame, job: RenderJob, renderer: Renderer, out: Path,
                     on_progress: ProgressFn | None = None) -> tuple[Frame, str]:
    """Return the frame showing an image for `job`, and how it got there.

    The status is "current" (the frame already showed it), "kept" (an earlier version of the frame
    matched), "reused" (a file left by an interrupted run matched) or "rendered".
    """
    key = job_key(job, renderer)
    if is_current(frame, key):
        return frame, "current"
    pick = frame.picks.get(key, 0)
    wanted = key if pick == 0 else f"{key}-{pick}"
    known = next((i for i, v in enumerate(frame.versions) if v.key == wanted), None)
    if known is not None:
        return frame.model_copy(update={"selected": known}), "kept"
    paths = [version_path(frame, key, k) for k in range(job.candidates)]
    status = "reused" if all((out / p).exists() for p in paths) else "rendered"
    if status == "rendered":
        result = renderer.render(job, on_progress)
        if len(result.images) != job.candidates:
            raise RuntimeError(f"renderer {renderer.name} returned {len(result.images)} images for "
                               f"{job.candidates} candidates")
        for path, image in zip(paths, result.images):
            atomic.write_png(out / path, image)
    else:
        _verify(out, paths)
    facts = renderer.facts(job)
    versions = [Version(path=p, key=key if k == 0 else f"{key}-{k}", seed=job.seeds()[k], renderer=renderer.name,
                        **facts) for k, p in enumerate(paths)]
    return frame.model_copy(update={"versions": frame.versions + versions,
                                    "selected": len(frame.versions)}), status


def _verify(out: Path, paths: list[str]) -> None:
    """Check images left by an earlier, interrupted run can be read before reusing them."""
    for path in paths:
        with Image.open(out / path) as image:
            image.verify()
