"""What the prompt linter still finds in the frames a correction changed, said in the reply to it."""

from __future__ import annotations

from graphs.planning.mend import mended
from graphs.state import Character, Frame
from prompts.lint import Violation


def findings(before: list[Frame], after: list[Frame], cast: list[Character]) -> str:
    """The lint findings of each frame in `after` whose spec differs from the frame of the same id in `before`,
    after the mending the lint step does (and from the same memo); "" when there are none."""
    old = {frame.id: frame.spec for frame in before}
    found = [str(Violation(frame=index, rule=rule, reason=reason))
             for index, frame in enumerate(after) if old.get(frame.id) != frame.spec
             for rule, reason in mended(frame.spec, cast)[1]]
    return f"; lint: {'; '.join(found)}" if found else ""
