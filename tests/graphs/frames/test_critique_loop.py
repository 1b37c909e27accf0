"""The critique step in the real graph: sketches scored by a tiny real CLIP, the best kept, weak frames
re-rendered with fresh seeds up to the limit, passing frames left alone, the person's pick respected."""

from __future__ import annotations

import json
import statistics
from dataclasses import replace
from pathlib import Path

import pytest
from counting import CountingRenderer
from PIL import Image

from agent.scenes.scene_file import load_scene
from agent.session import Session
from graphs.context import Context
from graphs.planning.planner import RulesPlanner
from graphs.frames.rendering import RETRY_SEED_STEP, answering, job_of
from graphs.state import Settings
from tools.critique import ClipCritic
from tools.models.hub import ModelHub
from tools.models.library import CritiqueSettings, Library

ROOT = Path(__file__).resolve().parents[3]
SCENE = load_scene(ROOT / "examples" / "investigation.toml", {"frames": 5})
CANDIDATES = 2


class JobLog(CountingRenderer):
    """The sketch renderer, keeping every job it was given, and judged as if it followed its prompt.

    The critique node never retries a renderer that ignores the prompt's words; declaring this one
    prompt-following lets the retry loop run on cheap, real sketches.
    """

    follows_prompt = True

    def __init__(self) -> None:
        super().__init__()
        self.jobs = []

    def render(self, job, on_progress=None):
        self.jobs.append(job)
        return super().render(job, on_progress)


def run(out: Path, clip: Path, hub: ModelHub, **critique) -> tuple[Session, JobLog]:
    renderer = JobLog()
    library = Library(base="unused/model", critique=replace(CritiqueSettings(), **critique))
    context = Context(planner=RulesPlanner(), renderer=renderer, critic=ClipCritic(str(clip), hub=hub),
                      library=library)
    session = Session.create(out, context)
    list(session.start(SCENE, Settings(width=96, height=96, candidates=CANDIDATES)))
    return session, renderer


def best_of_first_render(frame) -> float:
    key = job_of(frame.image())
    return max(frame.versions[i].clip_score for i in answering(frame, key) if frame.versions[i].attempt == 0)


def test_without_retries_the_best_candidate_is_shown_and_each_frame_drawn_once(tmp_path, tiny_clip):
    session, renderer = run(tmp_path, tiny_clip, ModelHub(), threshold=0)
    state = session.state()
    assert renderer.calls == len(state.frames) == 5
    for frame in state.frames:
        scores = [v.clip_score for v in frame.versions]
        assert len(scores) == CANDIDATES and None not in scores
        assert frame.image().clip_score == max(scores) == frame.critique.clip_score
        assert frame.critique.retries == 0 and not [f for f in frame.critique.flags if f.kind == "low_score"]
    session.close()


def test_an_unreachable_threshold_retries_exactly_n_times_and_keeps_the_best(tmp_path, tiny_clip):
    session, renderer = run(tmp_path, tiny_clip, ModelHub(), threshold=100, retries=2)
    state = session.state()
    assert renderer.calls == 5 * 3
    for frame in state.frames:
        assert sorted({v.attempt for v in frame.versions}) == [0, 1, 2] and len(frame.versions) == 3 * CANDIDATES
        assert frame.image().clip_score == max(v.clip_score for v in frame.versions)
        assert {v.seed for v in frame.versions} == {frame.spec.seed + a * RETRY_SEED_STEP + k
                                                     for a in range(3) for k in range(CANDIDATES)}
        low = [f for f in frame.critique.flags if f.kind == "low_score"]
        assert frame.critique.retries == 2 and len(low) == 1 and "after 2 retries" in low[0].message
    session.close()


def test_frames_that_pass_are_never_rendered_again(tmp_path, tiny_clip):
    hub = ModelHub()
    first, _ = run(tmp_path / "probe", tiny_clip, hub, threshold=0)
    bests = [best_of_first_render(f) for f in first.state().frames]
    first.close()
    threshold = statistics.median(bests)
    assert min(bests) < threshold <= max(bests), "the probe should split passing and failing frames"
    session, renderer = run(tmp_path / "run", tiny_clip, hub, threshold=threshold, retries=3)
    draws = {}
    for job in renderer.jobs:
        draws.setdefault((job.seed % RETRY_SEED_STEP, job.prompt), []).append(job.seed)
    for frame, best in zip(session.state().frames, bests):
        made = draws[(frame.spec.seed % RETRY_SEED_STEP, frame.spec.prompt)]
        if best >= threshold:
            assert made == [frame.spec.seed], "a passing frame was rendered again"
            continue
        attempts = sorted({v.attempt for v in frame.versions})
        assert len(made) == len(attempts) and 2 <= len(made) <= 4
        by_attempt = [max(v.clip_score for v in frame.versions if v.attempt <= a) for a in attempts]
        assert all(score < threshold for score in by_attempt[:-1]), "retried after reaching the threshold"
        assert by_attempt[-1] >= threshold or len(made) == 4
    assert hub.loads == 1
    session.close()


def test_the_persons_pick_wins_over_the_score_and_stops_retries(tmp_path, tiny_clip):
    session, renderer = run(tmp_path, tiny_clip, ModelHub(), threshold=0)
    frame = session.state().frames[1]
    worst = min(range(CANDIDATES), key=lambda k: frame.versions[k].clip_score)
    list(session.send(f"frame 1: candidate {worst}"))
    after = session.state().frames[1]
    assert after.image() == frame.versions[worst] and renderer.calls == 5
    assert after.critique.clip_score == frame.versions[worst].clip_score
    session.close()


def test_clip_loads_once_over_a_storyboard_and_its_corrections(tmp_path, tiny_clip):
    hub = ModelHub()
    session, _ = run(tmp_path, tiny_clip, hub, threshold=0)
    for text in ("frame 2: long shot", "regenerate frame 0", "swap 1 and 3"):
        list(session.send(text))
    assert hub.loads == 1
    assert all(f.critique.key == f.image().key for f in session.state().frames)
    session.close()


def test_shot_retries_pull_the_shot_lora_harder(tmp_path, tiny_clip):
    lora = tmp_path / "shot.safetensors"
    lora.write_bytes(b"never read by the sketch renderer")
    renderer = JobLog()
    settings = replace(CritiqueSettings(), threshold=0, retries=1, shot_retry=True, shot_boost=0.3)
    library = Library(base="unused/model", shots={s: str(lora) for s in ("close_up", "medium", "long", "full",
                                                                       "extreme_long", "american")},
                      critique=settings)
    critic = ClipCritic(str(tiny_clip), hub=ModelHub())
    session = Session.create(tmp_path / "out", Context(planner=RulesPlanner(), renderer=renderer, critic=critic,
                                                       library=library))
    list(session.start(SCENE, Settings(width=96, height=96, candidates=1)))
    state = session.state()
    for frame in state.frames:
        first = next(v for v in frame.versions if v.attempt == 0)
        retried = [v for v in frame.versions if v.attempt == 1]
        with Image.open(tmp_path / "out" / first.path) as image:
            guess = critic.shot_guesses(critic.image_embeddings([image.convert("RGB")]), [frame.spec.shot_type])[0]
        has_lora = frame.spec.shot_type != "detail"
        assert bool(retried) == (not guess.ok), frame.spec.shot_type
        if retried and has_lora:
            job = next(j for j in renderer.jobs if j.seed == frame.spec.seed + RETRY_SEED_STEP)
            weights = {a.name: a.weight for a in job.adapters}
            assert weights[f"shot_{frame.spec.shot_type}"] == pytest.approx(1.3)
        guesses = []
        for version in frame.versions:
            with Image.open(tmp_path / "out" / version.path) as image:
                embedding = critic.image_embeddings([image.convert("RGB")])
            guesses.append(critic.shot_guesses(embedding, [frame.spec.shot_type])[0].ok)
        if any(guesses):
            assert guesses[frame.selected], "a candidate framed as planned should win over a better score"
    assert any(v.attempt == 1 for f in state.frames for v in f.versions), "no frame exercised the shot retry"
    session.close()


def test_sketches_are_scored_but_never_retried_or_judged_low(tmp_path, tiny_clip):
    renderer = CountingRenderer()
    library = Library(base="unused/model", critique=replace(CritiqueSettings(), threshold=100, shot_retry=True))
    context = Context(planner=RulesPlanner(), renderer=renderer, critic=ClipCritic(str(tiny_clip), hub=ModelHub()),
                      library=library)
    session = Session.create(tmp_path, context)
    list(session.start(SCENE, Settings(width=96, height=96, candidates=CANDIDATES)))
    frames = session.state().frames
    assert renderer.calls == len(frames)
    assert all(f.critique.clip_score is not None and f.critique.shot_check is not None for f in frames)
    assert not [flag for f in frames for flag in f.critique.flags if flag.kind == "low_score"]
    session.close()


def test_storyboard_json_carries_every_critique_field(tmp_path, tiny_clip):
    session, _ = run(tmp_path, tiny_clip, ModelHub(), threshold=0)
    document = json.loads((tmp_path / "storyboard.json").read_text())
    for frame in document["frames"]:
        critique = frame["critique"]
        assert {"clip_score", "shot_check", "consistency", "flags", "scorer", "retries"} <= set(critique)
        assert set(critique["shot_check"]) == {"predicted", "probability", "ok"}
        assert isinstance(critique["clip_score"], float) and isinstance(critique["flags"], list)
        assert all(isinstance(v["clip_score"], float) for v in frame["versions"])
    people = [f for f in document["frames"] if len(f["characters"])]
    assert any(f["critique"]["consistency"] for f in people)
    session.close()
