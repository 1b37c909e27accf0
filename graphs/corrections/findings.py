"""What the prompt linter still finds in the frames a correction changed, said in the reply to it."""

from __future__ import annotations

from graphs.planning.mend import repair_prompt
from graphs.state import Character, Frame
from prompts.lint import lint_frame


def findings(before: list[Frame], after: list[Frame], cast: list[Character]) -> str:
    """The lint findings of each frame in `after` whose spec differs from the frame of the same id in `before`,
    after the mending the lint step does; "" when there are none."""
    old = {frame.id: frame.spec for frame in before}
    found = []
    for index, frame in enumerate(after):
        if old.get(frame.id) == frame.spec:
            continue
        spec = frame.spec
        fixed = repair_prompt(spec.prompt, spec.shot_type, cast)
        mended = spec if fixed == spec.prompt else spec.model_copy(update={"prompt": fixed})
        found += [str(violation) for violation in lint_frame(index, mended, cast)]
    return f"; lint: {'; '.join(found)}" if found else ""
