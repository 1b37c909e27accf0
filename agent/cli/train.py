"""The `shotsmith train` commands: teach the library's checkpoint a character or a shot type with a LoRA.

Both commands check every option before any model loads, train, then add the LoRA to library.toml so
the next `shotsmith run` uses it. The options they share are declared once, as the fields of
agent.cli.training.Options, and `takes_options` gives each command those parameters; the checking,
reading and training steps are in agent.cli.training too.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import MISSING, fields
from typing import Annotated, Optional, get_type_hints

import typer

from agent.cli.output import fail
from agent.cli.training import Options, quote, record, train_lora
from agent.scenes.scene_file import token_problem
from prompts.shot_types import BY_NUMBER, BY_SLUG, ShotType
from tools.models.library import TOKEN
from tools.models.manifest import add_character, add_shot

train_app = typer.Typer(name="train", no_args_is_help=True, add_completion=False,
                        help="Train a LoRA for a character or a shot type and add it to library.toml.")

SHOT_SLUGS = [shot.slug for shot in BY_SLUG.values() if shot.trigger]
"""Shot types a LoRA can be trained for (every one but detail)."""


def takes_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give a train command every Options field as a parameter, and call it with them gathered in `options`.

    The command's own parameters come first. One named like an Options field (prior, steps) takes that
    field's place in the list, so --help shows the options in the same order for both commands, and the
    command gets its value both by name and in `options`. A field without a default must be declared so.
    """
    own = inspect.signature(command, eval_str=True).parameters
    hints = get_type_hints(Options, include_extras=True)
    shared = []
    for item in fields(Options):
        if item.name not in own and item.default is MISSING:
            raise TypeError(f"{command.__name__}: expected a parameter {item.name!r} (Options gives it no default)")
        shared.append(own.get(item.name) or inspect.Parameter(item.name, inspect.Parameter.KEYWORD_ONLY,
                                                              default=item.default, annotation=hints[item.name]))
    names = {item.name for item in fields(Options)}
    first = [p for name, p in own.items() if name not in names and name != "options"]
    listed = [p.replace(kind=inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in first + shared]

    @functools.wraps(command)
    def run(**values: object) -> None:
        options = Options(**{name: values[name] for name in names})
        command(**{name: values[name] for name in own if name != "options"}, options=options)

    run.__signature__ = inspect.Signature(listed)
    run.__annotations__ = {p.name: p.annotation for p in listed}
    return run


@train_app.command()
@takes_options
def character(
    token: Annotated[str, typer.Argument(help="The character's one-word token, such as kaitoyosuke.")],
    class_word: Annotated[Optional[str], typer.Option("--class", help="Class word, such as man or woman.")] = None,
    prior: Annotated[bool, typer.Option("--prior/--no-prior", help="Prior preservation with class images.")
                     ] = True,
    steps: Annotated[int, typer.Option(help="Training steps.")] = 800,
    *,
    options: Options,
) -> None:
    """Train a character LoRA on "picture of TOKEN CLASS" and add it to the library as characters.TOKEN."""
    if not TOKEN.match(token):
        fail(f"TOKEN: expected one word with no spaces, such as kaitoyosuke (letters, digits, - and _); "
             f"got {token!r}")
    if problem := token_problem(token):
        fail(f"TOKEN: {token!r} {problem}; expected a made-up word such as kaitoyosuke that means nothing else "
             "in a prompt")
    word = (class_word or "").strip()
    if not word or any(ch.isspace() or not ch.isprintable() for ch in word):
        fail("--class: expected one class word such as man or woman" + (f"; got {class_word!r}" if word else ""))
    article = "an" if word[0].lower() in "aeiou" else "a"
    result, manifest = train_lora("character", token, f"picture of {token} {word}",
                                  f"picture of {article} {word}" if prior else None, options, token)
    record(lambda: add_character(manifest, token, word, result.lora), manifest, result,
           lambda lora: f"[characters.{token}] class = {quote(word)}, lora = {quote(lora)}")


@train_app.command()
@takes_options
def shot(
    slug: Annotated[str, typer.Argument(help=f"Shot type: {', '.join(SHOT_SLUGS)}, or its number 1-8.")],
    prior: Annotated[bool, typer.Option("--prior/--no-prior", help="Prior preservation with class images of "
                                                                   "\"picture of a person\".")] = False,
    steps: Annotated[int, typer.Option(help="Training steps.")] = 1000,
    *,
    options: Options,
) -> None:
    """Train a shot-type LoRA on the shot's trigger phrase and add it to the library's shots table."""
    kind = shot_type(slug)
    result, manifest = train_lora("shot", kind.slug, kind.trigger, "picture of a person" if prior else None,
                                  options, kind.trigger)
    record(lambda: add_shot(manifest, kind.slug, result.lora), manifest, result,
           lambda lora: f"[shots] {kind.slug} = {quote(lora)}")


def shot_type(slug: str) -> ShotType:
    """Return the shot type named by a slug or a number; refuse detail, which has no shot LoRA."""
    kind = BY_NUMBER.get(int(slug)) if slug.strip().isdecimal() else BY_SLUG.get(slug.strip())
    if kind is not None and kind.trigger is None:
        fail(f"SLUG: {kind.slug} inserts use no shot-type LoRA; expected one of {', '.join(SHOT_SLUGS)} "
             f"(or 1-{len(SHOT_SLUGS)})")
    if kind is None:
        fail(f"SLUG: expected one of {', '.join(SHOT_SLUGS)} (or 1-{len(SHOT_SLUGS)}); got {slug!r}")
    return kind
