"""The short concurrency run: six Slack threads at once for three people, drawn by the tiny SD and CLIP models.

The full run (20 threads, 10 people) is `python tests/reliability/concurrency.py`.
"""

from __future__ import annotations

from concurrency import run_concurrency


def test_threads_at_once_finish_apart_and_within_the_limit(tmp_path, tiny_sd, tiny_clip):
    figures = run_concurrency(threads=6, users=3, frames=2, work_dir=tmp_path, sd=tiny_sd, clip=tiny_clip)
    print(figures.table())  # shown with -s, and on failure
    assert figures.problems() == [], figures.table()
    assert figures["accepted"] == figures["finished"] == 6
    assert figures["refused by the per-person limit"] == 3  # one more start from each person, all refused
    assert figures["overlapping GPU-queue turns"] == figures["overlapping model runs"] == 0
    assert figures["cross-session leaks"] == 0
    assert figures["renders (tiny SD"] == 3 * 2 + 3 * 3 + 6  # every frame drawn once, then one per thread redrawn
    assert figures.waits, "six threads at once should have queued for the GPU"
