"""Turn frames into render jobs, fingerprint them, and keep every rendered version on disk."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PIL import Image

from graphs.errors import DamagedImage
from graphs.state import Character, Frame, Retry, Settings, Version
from prompts.costume import costume_colour
from tools.files import atomic
from tools.files.image_check import image_problem
from tools.models.adapters import adapters_for
from tools.models.library import Library
from tools.render.job import Figure, ProgressFn, Renderer, RenderJob


def job_for(frame: Frame, settings: Settings, cast: list[Character], library: Library | None = None) -> RenderJob:
    """Return the render job for a frame: what its image depends on, wherever the frame stands.

    `cast` is the scene's cast in order (each figure keeps its place, the colour its description names and the
    name people read on its label);
    `library`, when given, supplies the frame's LoRAs and weights. The seed
    is the spec's own (chosen when the frame was planned, kept when it moves), so a frame that is swapped,
    moved up or down keeps its job and key, and shows the versions it has without drawing again.
    """
    spec = frame.spec
    order = {person.name: k for k, person in enumerate(cast)}
    looks = {person.name: costume_colour(person.description) for person in cast}
    shown = {person.name: person.shown for person in cast}
    figures = tuple(Figure(c.name, c.class_word, c.position, order.get(c.name, -1), looks.get(c.name),
                           shown.get(c.name, "") if shown.get(c.name) != c.name else "") for c in spec.characters)
    adapters = adapters_for(library, spec.shot_type, [c.name for c in spec.characters]) if library else ()
    return RenderJob(prompt=spec.prompt, negative_prompt=spec.negative_prompt, shot_type=spec.shot_type,
                     seed=spec.seed, figures=figures, setting=spec.setting, lighting=spec.lighting,
                     subject=spec.subject, width=settings.width,
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
    """Return the key of the render call that made a version (candidate k > 0 has key "<call key>-k")."""
    return version.key.split("-")[0]


def job_of(version: Version) -> str:
    """Return the key of the frame job a version answers (retries answer the job of the first render)."""
    return version.job or base_key(version)


def answering(frame: Frame, key: str) -> list[int]:
    """Return the indices of the frame's versions made for job `key`, oldest first: its candidates."""
    return [i for i, v in enumerate(frame.versions) if job_of(v) == key]


def is_current(frame: Frame, key: str) -> bool:
    """Tell whether the frame already shows an image made for this job (any candidate, any retry)."""
    image = frame.image()
    return image is not None and job_of(image) == key


def choose(frame: Frame, key: str) -> int:
    """Return the version to show for job `key`: the person's pick, else the best scored, else the first."""
    group = answering(frame, key)
    pick = frame.picks.get(key)
    if pick is not None and 0 <= pick < len(group):
        return group[pick]
    scored = [i for i in group if frame.versions[i].clip_score is not None]
    return max(scored, key=lambda i: frame.versions[i].clip_score) if scored else group[0]


RETRY_SEED_STEP = 1000
"""Retry n of a job starts from the job's seed + n x this, clear of the candidates' seed + k."""


def retry_job(job: RenderJob, retry: Retry) -> RenderJob:
    """Return the job for a retry: fresh seeds, and the shot LoRA pulled harder when asked (at most 2)."""
    adapters = tuple(replace(a, weight=round(min(a.weight + retry.shot_boost, 2.0), 4))
                     if a.name.startswith("shot_") else a for a in job.adapters)
    return replace(job, seed=job.seed + retry.attempt * RETRY_SEED_STEP, adapters=adapters)


def wanted_retry(frame: Frame, key: str) -> Retry | None:
    """Return the retry the critic asked for on job `key`, or None (a retry for an older job is void)."""
    return frame.retry if frame.retry is not None and frame.retry.job == key else None


def needs_drawing(frame: Frame, job: RenderJob, renderer: Renderer, out: Path, key: str | None = None) -> bool:
    """Tell whether bring_up_to_date would draw anything, so a frame with nothing to draw skips the GPU queue.

    `key` is job_key(job, renderer) when the caller has it already.
    """
    key = key or job_key(job, renderer)
    retry = wanted_retry(frame, key)
    attempt = retry.attempt if retry else 0
    if not any(frame.versions[i].attempt == attempt for i in answering(frame, key)):
        return True
    return bool(image_problem(out / frame.versions[choose(frame, key)].path))


def bring_up_to_date(frame: Frame, job: RenderJob, renderer: Renderer, out: Path,
                     on_progress: ProgressFn | None = None,
                     on_notice: Callable[[str], None] | None = None, key: str | None = None) -> tuple[Frame, str]:
    """Return the frame showing an image for `job` (or for the retry the critic asked for), and how.

    The status is "current" (the frame already showed it), "kept" (an earlier version of the frame
    matched), "reused" (a file left by an interrupted run matched) or "rendered". `on_notice` hears what
    the renderer had to give up to fit in memory, if anything. `key` is job_key(job, renderer) when the caller
    has it already.
    """
    key = key or job_key(job, renderer)
    retry = wanted_retry(frame, key)
    attempt = retry.attempt if retry else 0
    if any(frame.versions[i].attempt == attempt for i in answering(frame, key)):
        status = "current" if is_current(frame, key) else "kept"
        frame = frame.model_copy(update={"selected": choose(frame, key)})
        return frame, ("rendered" if mend(frame, job, renderer, out, on_progress, on_notice) else status)
    run = retry_job(job, retry) if retry else job
    run_key = job_key(run, renderer) if retry else key
    paths = [version_path(frame, run_key, k) for k in range(run.candidates)]
    reusable = all(not image_problem(out / p) for p in paths)  # a damaged leftover is drawn again
    status = "reused" if reusable else "rendered"
    if status == "rendered":
        _draw(run, renderer, out, paths, on_progress, on_notice)
    facts = renderer.facts(run)
    versions = [Version(path=p, key=run_key if k == 0 else f"{run_key}-{k}", job=key, attempt=attempt,
                        seed=run.seeds()[k], renderer=renderer.name, **facts) for k, p in enumerate(paths)]
    frame = frame.model_copy(update={"versions": frame.versions + versions})
    return frame.model_copy(update={"selected": choose(frame, key)}), status


def _draw(run: RenderJob, renderer: Renderer, out: Path, paths: list[str], on_progress: ProgressFn | None,
          on_notice: Callable[[str], None] | None) -> None:
    result = renderer.render(run, on_progress)
    if on_notice is not None and result.info.get("memory_notice"):
        on_notice(str(result.info["memory_notice"]))
    if len(result.images) != run.candidates:
        raise RuntimeError(f"renderer {renderer.name} returned {len(result.images)} images for "
                           f"{run.candidates} candidates")
    atomic.write_pngs([(out / path, image) for path, image in zip(paths, result.images)])


def mend(frame: Frame, job: RenderJob, renderer: Renderer, out: Path, on_progress: ProgressFn | None = None,
         on_notice: Callable[[str], None] | None = None) -> bool:
    """Draw the frame's shown image again when its file is missing or damaged; return True when it was drawn.

    The render call that made it is rebuilt from the version (seed, candidate count, LoRA weights) and must
    give the same fingerprint, so the file is written back exactly as it was. An image that cannot be
    rebuilt that way (a repair, or one drawn under other settings) raises DamagedImage, whose one line says
    how to get a new one.
    """
    version = frame.image()
    if version is None or not (problem := image_problem(out / version.path)):
        return False
    group = [v for v in frame.versions if base_key(v) == base_key(version) and v.kind == "render"]
    first = min(group, key=lambda v: v.seed, default=version)
    weights = version.adapters
    run = replace(job, seed=first.seed, candidates=len(group),
                  adapters=tuple(replace(a, weight=weights.get(a.name, a.weight)) for a in job.adapters))
    if version.kind != "render" or job_key(run, renderer) != base_key(version):
        raise DamagedImage(f"{version.path}: a frame's image is {problem} and cannot be drawn again as it was; "
                           "expected a readable PNG (put the file back, or start the storyboard again)")
    _draw(run, renderer, out, [v.path for v in sorted(group, key=lambda v: v.seed)], on_progress, on_notice)
    return True


def open_rgb(out: Path, path: str) -> Image.Image:
    """Return an image of the output folder, read fully into memory as RGB."""
    with Image.open(out / path) as image:
        return image.convert("RGB")

