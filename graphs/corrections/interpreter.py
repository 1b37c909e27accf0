"""Reading a chat message as edit commands: the rules parser first, the chat model for the rest.

The rules parser handles the common phrasings offline and instantly. When it cannot read a message
(or finds it incomplete) and a chat model is configured, the model gets the message with a summary
of the storyboard and answers with typed commands or a question back. Whatever happens, the result
is a list of commands, a single Clarify carrying the question to show the person, or a single Refusal saying
why the message cannot be used.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from graphs.commands import Clarify, Command, Refusal, Rewrite
from graphs.corrections.frame_edits import dropped
from graphs.corrections.rules import interpret_rules
from graphs.state import Storyboard
from prompts.shot_types import SHOT_TYPES
from tools.errors import LLMError
from tools.llm import LLM


class Interpretation(BaseModel):
    """The model's reading of one message."""

    commands: list[Command] = Field(
        description="the edits the message asks for, applied in order; empty when asking")
    question: str = Field(description="a short question back when the message is ambiguous, else empty")


GUIDE = """You turn a film-maker's chat message about a storyboard into edit commands.
Frames are numbered from 0. Candidates and masks are numbered from 0. Shot types use these slugs:
{slugs}.
Commands apply one after another: after a frame is removed, added or moved, later commands count
frames in the new order. Use only commands that the message clearly asks for. Refer to characters by their token. When the
message could mean two different edits, or names no frame where one is needed, ask a short
question instead and give no commands. Never invent frame numbers.

Cast: {cast}
Style: {style}
Frames:
{frames}"""


def summary(state: Storyboard) -> str:
    """Return the storyboard as the model sees it: one line per frame."""
    lines = []
    for i, frame in enumerate(state.frames):
        people = ", ".join(f"{c.name} ({c.position})" for c in frame.spec.characters) or "nobody"
        lines.append(f"{i}: {frame.spec.shot_type}; {people}; prompt: {frame.spec.prompt}")
    return "\n".join(lines) or "(none yet)"


def messages_for(text: str, state: Storyboard) -> list[dict]:
    """Return the chat messages that ask the model to read `text`."""
    cast = "; ".join(f"{c.name} {c.class_word}" + (f" ({', '.join(c.aliases)})" if c.aliases else "")
                     for c in state.scene.characters) or "nobody"
    guide = GUIDE.format(slugs=", ".join(s.slug for s in SHOT_TYPES), cast=cast, style=state.scene.style or "none",
                         frames=summary(state))
    return [{"role": "system", "content": guide}, {"role": "user", "content": text}]


MAX_MESSAGE = 4000
"""The longest correction read, in characters; a longer message is refused whole."""


def asked_first(commands: list[Command], state: Storyboard) -> list[Command]:
    """The commands, or a question instead when a new prompt would drop the frame's people or setting unasked."""
    for command in commands:
        if isinstance(command, Rewrite) and not command.whole and 0 <= command.frame < len(state.frames):
            lost = dropped(state.scene, state.frames[command.frame].spec, command.prompt)
            if lost:
                n, words = command.frame, " ".join(command.prompt.split())[:60]
                gone = ", ".join(lost[:-1]) + " and " + lost[-1] if len(lost) > 1 else lost[0]
                return [Clarify(question=f'"{words}" as the whole prompt of frame {n} would drop {gone}. To replace '
                                         f'it anyway, say "frame {n}: prompt: {words}"; to add the words, "frame {n}: '
                                         f'add {words}"')]
    return commands


def interpret(text: str, state: Storyboard, llm: LLM | None = None) -> list[Command]:
    """Return the commands a message asks for, [Clarify(question)], or [Refusal(reason)]; never raises."""
    if len(text) > MAX_MESSAGE:  # neither read by rules nor sent to the model: a correction is a sentence or two
        return [Refusal(question=f"the message is {len(text):,} characters long; expected a correction of at most "
                                 f"{MAX_MESSAGE:,} characters, such as \"frame 2: close-up\"")]
    commands = interpret_rules(text)
    if llm is None or not isinstance(commands[0], Clarify):
        return asked_first(commands, state)
    try:
        answer = llm.ask(messages_for(text, state), Interpretation)
    except LLMError as error:  # the rules parser's answer still says what would be understood
        if isinstance(commands[0], Refusal):  # and a refusal says why the model could not help, so it is never silent
            return [Refusal(question=f"{commands[0].question} (the chat model could not help: {error})")]
        return commands
    questions = [c.question.strip() for c in answer.commands if isinstance(c, Clarify) and c.question.strip()]
    if answer.question.strip() or questions:
        return [Clarify(question=answer.question.strip() or questions[0])]
    acts = [c for c in answer.commands if not isinstance(c, Clarify)]  # an empty question asks nothing
    # with nothing to offer, the rules parser's question or refusal stands
    return asked_first(acts, state) if acts else commands
