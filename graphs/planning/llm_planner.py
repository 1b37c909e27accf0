"""The LLM planner: an OpenAI-compatible chat model writes the shot list, held to the same linter.

The model gets the planning template (prompts/planner.txt) filled in with the scene and answers in
a JSON schema. The plan is checked (frame count, shot sequence, cast, the prompt rules) and what is
wrong goes back to the model, up to `rounds` times; what still breaks a rule afterwards is mended or
reported by the graph's lint step, as for any planner. When the model never gives a usable plan,
PlannerError says why and the caller falls back to the rules planner, saying so.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from graphs.errors import CorrectionError, PlannerError
from graphs.planning.planner import RulesPlanner, frame_seed
from graphs.planning.planner import restage as rules_restage
from graphs.state import FrameSpec, Placement, Scene
from prompts.lint import lint_plan
from prompts.shot_types import BY_NUMBER, SHOT_TYPES, ShotType, negative_prompt
from prompts.template import load, render
from tools.errors import LLMError
from tools.llm import LLM

DEFAULT_FRAMES = 8
ROUNDS = 2


class PlannedCharacter(BaseModel):
    """A character the camera sees in a frame."""

    name: str = Field(description="the character's token, exactly as in the cast list")
    position: Literal["left", "centre", "right"]
    action: str = Field(description="what this character does in the frame, naming nobody else")


class PlannedFrame(BaseModel):
    """One frame as the model writes it."""

    shot: int = Field(ge=1, le=9, description="shot type number, 1-9")
    characters: list[PlannedCharacter]
    prompt: str
    setting: str
    lighting: str
    action: str = Field(description="the story beat this frame shows, in the scene's words")
    subject: str = Field(description="for a detail shot, the object or gesture shown; otherwise empty")


class PlannedScene(BaseModel):
    """The model's whole answer."""

    frames: list[PlannedFrame]


def _cast_text(scene: Scene) -> str:
    if not scene.characters:
        return "nobody named; the scene has no recurring characters"
    people = []
    for person in scene.characters:
        also = f", called {', '.join(person.aliases)} in the scene" if person.aliases else ""
        about = f": {person.description}" if person.description else ""
        people.append(f"{person.name} {person.class_word}{also}{about}")
    return "; ".join(people)


def _shots_text() -> str:
    return "\n".join(f"{s.number}. {s.name}: opens with \"{s.phrase} of\"; shows {s.definition}" for s in SHOT_TYPES)


def _request(scene: Scene) -> str:
    if scene.shots:
        numbers = ", ".join(str(n) for n in scene.shots)
        return f"exactly {len(scene.shots)} frames with these shot types in this order: {numbers}"
    return f"exactly {scene.frames or DEFAULT_FRAMES} frames"


def system_prompt(scene: Scene) -> str:
    """Return the planning instructions for a scene: the template with every value filled in."""
    return render(load("planner.txt"), frame_request=_request(scene), title=scene.title,
                  description=scene.description, cast=_cast_text(scene), style=scene.style or "none given",
                  shot_types=_shots_text())


ANSWER = ("Answer with one JSON object: {\"frames\": [...]} where each frame has shot (1-9), characters (each "
          "with name = the token, position left/centre/right, action), prompt, setting, lighting, action (the "
          "story beat) and subject (what a detail shot shows, else \"\").")


class OpenAIPlanner:
    """Plans with an OpenAI-compatible chat model; restages and adds frames with it too."""

    name = "openai"

    def __init__(self, llm: LLM, rounds: int = ROUNDS):
        self.llm = llm
        self.rounds = rounds

    def plan(self, scene: Scene) -> list[FrameSpec]:
        """Return one frame spec per frame, after up to `rounds` rounds of feedback on what broke the rules."""
        messages = [{"role": "system", "content": system_prompt(scene)},
                    {"role": "user", "content": f"Plan the storyboard now. {ANSWER}"}]
        usable, problems = None, []
        for round_ in range(self.rounds + 1):
            try:
                answer = self.llm.ask(messages, PlannedScene)
            except LLMError as error:
                raise PlannerError(str(error)) from None
            specs, problems = self._read(scene, answer)
            usable = specs or usable  # a later round that breaks the frame count must not lose a usable plan
            if specs is not None and not problems:
                return specs
            if round_ < self.rounds:
                messages.append({"role": "user", "content": feedback(problems)})
        if usable is None:
            raise PlannerError(f"the model's plan was still unusable after {self.rounds} rounds of feedback: "
                               f"{problems[0]}")
        return usable  # only rule breaks remain; the lint step mends or reports them

    def _read(self, scene: Scene, answer: PlannedScene) -> tuple[list[FrameSpec] | None, list[str]]:
        """Return the specs (None when unusable) and every problem found, for the model to fix."""
        wanted = scene.shots or [None] * (scene.frames or DEFAULT_FRAMES)
        if len(answer.frames) != len(wanted):
            return None, [f"the plan has {len(answer.frames)} frames; expected {len(wanted)}"]
        problems = [f"frame {i}: expected shot type {n} ({BY_NUMBER[n].name}), got {f.shot}"
                    for i, (f, n) in enumerate(zip(answer.frames, wanted)) if n is not None and f.shot != n]
        tokens = {p.name for p in scene.characters}
        problems += [f"frame {i}: {c.name} is not in the cast; expected one of {', '.join(sorted(tokens)) or 'nobody'}"
                     for i, f in enumerate(answer.frames) for c in f.characters if c.name not in tokens]
        if problems:
            return None, problems
        specs = [to_spec(scene, frame, frame_seed(scene, i)) for i, frame in enumerate(answer.frames)]
        problems = [f"frame {v.frame}: rule {v.rule}: {v.reason} (prompt: {specs[v.frame].prompt!r})"
                    for v in lint_plan(specs, scene.characters)]
        return specs, problems

    def restage(self, scene: Scene, spec: FrameSpec, shot: ShotType) -> FrameSpec:
        """Return the frame re-planned by the model as another shot type, keeping its cast, places, beat and seed.

        A prompt the person wrote is kept in their words, only its opening shot phrase changes.
        """
        if spec.written_by == "person":
            return rules_restage(scene, spec, shot)
        ask = (f"Rewrite this frame as a {shot.name} (shot {shot.number}), keeping its characters where they stand, "
               f"its beat, setting and light: {spec.model_dump_json(by_alias=True)}")
        staged = self._one(scene, ask, shot, spec.seed)
        if {(c.name, c.position) for c in staged.characters} != {(c.name, c.position) for c in spec.characters}:
            raise CorrectionError("the openai planner moved, added or dropped characters while restaging the frame; "
                                  "try again")
        return staged

    def extra(self, scene: Scene, action: str, shot: ShotType | None, seed: int) -> FrameSpec:
        """Return one more frame planned by the model, showing `action`."""
        kind = f"a {shot.name} (shot {shot.number})" if shot else "the shot type that suits it best"
        return self._one(scene, f"Plan one more frame, {kind}, showing: {action}", shot, seed)

    def _one(self, scene: Scene, ask: str, shot: ShotType | None, seed: int) -> FrameSpec:
        messages = [{"role": "system", "content": system_prompt(scene)},
                    {"role": "user", "content": f"{ask}\nAnswer with one JSON object for a single frame: shot, "
                                                "characters, prompt, setting, lighting, action and subject."}]
        try:
            frame = self.llm.ask(messages, PlannedFrame)
        except LLMError as error:
            raise CorrectionError(f"the openai planner could not plan the frame ({error}); try again") from None
        tokens = {p.name for p in scene.characters}
        if shot is not None and frame.shot != shot.number or any(c.name not in tokens for c in frame.characters):
            raise CorrectionError("the openai planner answered with another shot type or someone not in the cast; "
                                  "try again")
        return to_spec(scene, frame, seed)


def to_spec(scene: Scene, frame: PlannedFrame, seed: int) -> FrameSpec:
    """Turn the model's frame into a frame spec (class words come from the cast, never from the model)."""
    shot = BY_NUMBER[frame.shot]
    classes = {p.name: p.class_word for p in scene.characters}
    people = [Placement(name=c.name, class_word=classes[c.name], position=c.position, action=c.action)
              for c in frame.characters]
    subject = frame.subject.strip()
    # the model writes no camera of its own: the board still says what the frame holds (its prompt is unchanged)
    framing = "insert" if subject and not people else {2: "two_shot", 3: "group"}.get(len(people), "single")
    return FrameSpec(shot_type=shot.slug, prompt=frame.prompt.strip(), negative_prompt=negative_prompt(shot.slug),
                     characters=people, setting=frame.setting.strip(), lighting=frame.lighting.strip(), seed=seed,
                     action=frame.action.strip(), subject=subject, framing=framing)


def feedback(problems: list[str]) -> str:
    """Return the message that sends a plan's problems back to the model."""
    listed = "\n".join(f"- {p}" for p in problems)
    return (f"The plan breaks these rules:\n{listed}\nReturn the whole plan again with every frame, fixing these "
            f"and changing nothing else. {ANSWER}")


def plan_or_rules(planner: object, scene: Scene) -> tuple[list[FrameSpec], str, str]:
    """Plan with `planner`; when it gives no usable plan, plan by rules. Return specs, planner name and a notice.

    The notice is empty unless the rules planner stood in, and then it says why, so the switch is never silent.
    """
    try:
        return planner.plan(scene), planner.name, ""
    except PlannerError as error:
        rules = RulesPlanner()
        return rules.plan(scene), rules.name, (f"the {planner.name} planner gave no usable plan ({error}); "
                                               "the rules planner's plan is used instead")
