"""A renderer for graph tests: the real sketch renderer, counting the jobs it is given."""

from __future__ import annotations

from tools.render.job import ProgressFn, RenderJob, RenderResult
from tools.render.sketch import SketchRenderer


class CountingRenderer(SketchRenderer):
    """The sketch renderer, with `calls` counting how many jobs it drew."""

    def __init__(self) -> None:
        self.calls = 0

    def render(self, job: RenderJob, on_progress: ProgressFn | None = None) -> RenderResult:
        self.calls += 1
        return super().render(job, on_progress)
