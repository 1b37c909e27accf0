"""Critique of rendered frames: score every candidate, keep the best, ask for retries, flag drift.

The critique node calls these in two passes. First each frame's new candidates are scored and the
best kept; a frame whose best is below the threshold gets a retry request and the graph goes back to
render. Once no retry is pending, every frame is checked against the others (shot type, character
likeness, repeated framing) and its critique written.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from graphs.frames.rendering import answering, choose, job_of, open_rgb
from graphs.state import Critique, Flag, Frame, Retry, ShotCheck
from prompts.shot_types import shot_by_slug
from tools.critique import ClipCritic, likeness, outliers, repeats
from tools.models.library import CritiqueSettings

NO_SCORER = "no scorer ran: no CLIP model is configured"


def pending_retry(frame: Frame) -> bool:
    """Tell whether the critic asked for a retry of the frame's current job that is not rendered yet."""
    image, retry = frame.image(), frame.retry
    if image is None or retry is None or retry.job != job_of(image):
        return False
    return not any(frame.versions[i].attempt == retry.attempt for i in answering(frame, retry.job))


def score_candidates(frame: Frame, critic: ClipCritic, out: Path) -> Frame:
    """Return the frame with every unscored candidate of its current job scored against its prompt."""
    key = job_of(frame.image())
    todo = [i for i in answering(frame, key) if frame.versions[i].clip_score is None]
    if not todo:
        return frame
    scores = critic.scores([open_rgb(out, frame.versions[i].path) for i in todo], frame.spec.prompt)
    versions = list(frame.versions)
    for i, score in zip(todo, scores):
        versions[i] = versions[i].model_copy(update={"clip_score": round(score, 4)})
    return frame.model_copy(update={"versions": versions})


def decide(frame: Frame, critic: ClipCritic, settings: CritiqueSettings, out: Path) -> Frame:
    """Show the person's pick or the best candidate; ask for a retry while the best falls short.

    With `shot_retry` on, candidates whose framing reads as the planned shot type come first, and a
    frame with none is retried with its shot LoRA pulled harder.
    """
    key = job_of(frame.image())
    if key in frame.picks:
        return frame.model_copy(update={"selected": choose(frame, key)})
    group = answering(frame, key)
    fitting = []
    if settings.shot_retry:
        images = [open_rgb(out, frame.versions[i].path) for i in group]
        guesses = critic.shot_guesses(critic.image_embeddings(images), [frame.spec.shot_type] * len(group))
        fitting = [i for i, guess in zip(group, guesses) if guess.ok]
    best = max(fitting or group, key=lambda i: frame.versions[i].clip_score or 0.0)
    frame = frame.model_copy(update={"selected": best})
    done = max(frame.versions[i].attempt for i in group)
    if done >= settings.retries:
        return frame
    boost = settings.shot_boost if settings.shot_retry and not fitting else 0.0
    if (frame.versions[best].clip_score or 0.0) < settings.threshold or boost:
        return frame.model_copy(update={"retry": Retry(job=key, attempt=done + 1, shot_boost=boost)})
    return frame


def review_frames(frames: list[Frame], critic: ClipCritic, settings: CritiqueSettings, out: Path) -> list[Frame]:
    """Return the frames with a fresh critique each, from checks across the whole storyboard."""
    embeddings = critic.image_embeddings([open_rgb(out, f.image().path) for f in frames])
    guesses = critic.shot_guesses(embeddings, [f.spec.shot_type for f in frames])
    members: dict[str, list[int]] = {}
    for i, frame in enumerate(frames):
        for person in frame.spec.characters:
            members.setdefault(person.name, []).append(i)
    similarity = likeness(embeddings, members)
    odd = outliers(similarity, settings.consistency)
    repeated = set(repeats(embeddings, [f.spec.shot_type for f in frames], settings.repeat))
    result = []
    for i, frame in enumerate(frames):
        image = frame.image()
        retries = max(frame.versions[k].attempt for k in answering(frame, job_of(image)))
        flags = []
        if image.clip_score is not None and image.clip_score < settings.threshold:
            after = f" after {retries} {'retry' if retries == 1 else 'retries'}" if retries else ""
            flags.append(Flag(kind="low_score", message=f"CLIP score {image.clip_score:.1f} is below "
                                                        f"{settings.threshold:g}{after}"))
        guess = guesses[i]
        if not guess.ok:
            flags.append(Flag(kind="shot_type", message=f"reads as {_a(guess.predicted)} ({guess.probability:.0%}), "
                                                        f"planned as {_a(frame.spec.shot_type)}"))
        for name in odd.get(i, []):
            flags.append(Flag(kind="inconsistent", character=name,
                              message=f"{name} looks unlike their other frames (likeness {similarity[i][name]:.2f})"))
        if i in repeated:
            flags.append(Flag(kind="repetitive", message=f"near-identical to frame {i - 1}, same shot type"))
        critique = Critique(key=image.key, scorer=critic.name, clip_score=image.clip_score,
                            shot_check=ShotCheck(**asdict(guess)),
                            consistency=similarity.get(i, {}), flags=flags, retries=retries)
        result.append(frame.model_copy(update={"critique": critique}))
    return result


def _name(slug: str) -> str:
    return shot_by_slug(slug).name.lower()


def _a(slug: str) -> str:
    name = _name(slug)
    return ("an " if name[0] in "aeiou" else "a ") + name


def summary(index: int, critique: Critique) -> str:
    """Return the one line a front-end shows for a frame's critique."""
    parts = [f"frame {index}"]
    if critique.clip_score is not None:
        parts.append(f"CLIP {critique.clip_score:.1f}")
    if critique.shot_check is not None:
        check = critique.shot_check
        parts.append(f"reads as {_name(check.predicted)} {check.probability:.0%}" + ("" if check.ok else " (off)"))
    if critique.retries:
        parts.append(f"{critique.retries} {'retry' if critique.retries == 1 else 'retries'}")
    parts.append("flags: " + "; ".join(f.message for f in critique.flags) if critique.flags else "no flags")
    return " · ".join(parts)
