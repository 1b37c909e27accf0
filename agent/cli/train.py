"""The `shotsmith train` commands: teach the library's checkpoint a character or a shot type with a LoRA.

Both commands check every option before any model loads, train, then add the LoRA to library.toml so
the next `shotsmith run` uses it. The trainer (tools.train.run) is imported only when training starts,
which keeps `shotsmith --help` quick.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

import typer

from prompts.shot_types import BY_NUMBER, BY_SLUG, ShotType
from tools.models.library import _TOKEN, FILE_NAME, Library, LibraryError, load_library
from tools.train.data import CROPS, IMAGE_SUFFIXES, Example, read_examples

train_app = typer.Typer(name="train", no_args_is_help=True, add_completion=False,
                        help="Train a LoRA for a character or a shot type and add it to library.toml.")

SHOT_SLUGS = [shot.slug for shot in BY_SLUG.values() if shot.trigger]
"""Shot types a LoRA can be trained for (every one but detail)."""

Images = Annotated[Optional[Path], typer.Option(help=f"Folder of training images ({', '.join(IMAGE_SUFFIXES)}); "
                                                     "at least 3 usable.")]
Captions = Annotated[bool, typer.Option("--captions", help="Use NAME.txt beside each image as its prompt.")]
Crop = Annotated[str, typer.Option(help="How to square an image: centre, or top (keeps heads in tall images).")]
ClassImages = Annotated[Optional[Path], typer.Option(help="Folder of your own class images for prior preservation; "
                                                          "default: drawn by the base model once and cached "
                                                          "(in SHOTSMITH_CACHE, else ~/.cache/shotsmith).")]
ClassCount = Annotated[int, typer.Option(help="Class images used for prior preservation.")]
ClassSteps = Annotated[int, typer.Option(help="Denoising steps for generated class images.")]
Rank = Annotated[int, typer.Option(help="LoRA rank.")]
Rate = Annotated[float, typer.Option("--lr", help="Learning rate.")]
Resolution = Annotated[int, typer.Option(help="Training size in pixels (a multiple of 8, 64 to 2048).")]
TextEncoder = Annotated[bool, typer.Option("--text-encoder", help="Also train the text encoder.")]
CheckpointEvery = Annotated[int, typer.Option(help="Save a checkpoint every N steps.")]
Seed = Annotated[int, typer.Option(help="Random seed.")]
Checkpointing = Annotated[bool, typer.Option("--gradient-checkpointing", help="Save memory at the cost of speed.")]
Resume = Annotated[bool, typer.Option("--resume", help="Go on from the last checkpoint in the output folder.")]
Out = Annotated[Optional[Path], typer.Option(help="Output folder; default: loras/NAME/ beside the library.")]
LibraryFile = Annotated[Path, typer.Option("--library", help="Model library (library.toml) whose base model "
                                                              "is trained; the LoRA is added to it.")]


@dataclass(frozen=True)
class Options:
    """The options both commands share, as typed."""

    images: Path | None
    captions: bool
    crop: str
    class_images: Path | None
    class_count: int
    class_steps: int
    prior: bool
    steps: int
    rank: int
    lr: float
    resolution: int
    text_encoder: bool
    checkpoint_every: int
    seed: int
    gradient_checkpointing: bool
    resume: bool
    out: Path | None
    library: Path


@train_app.command()
def character(
    token: Annotated[str, typer.Argument(help="The character's one-word token, such as kaitoyosuke.")],
    class_word: Annotated[Optional[str], typer.Option("--class", help="Class word, such as man or woman.")] = None,
    images: Images = None,
    captions: Captions = False,
    crop: Crop = "centre",
    class_images: ClassImages = None,
    class_count: ClassCount = 100,
    class_steps: ClassSteps = 25,
    prior: Annotated[bool, typer.Option("--prior/--no-prior", help="Prior preservation with class images.")
                     ] = True,
    steps: Annotated[int, typer.Option(help="Training steps.")] = 800,
    rank: Rank = 8,
    lr: Rate = 1e-4,
    resolution: Resolution = 512,
    text_encoder: TextEncoder = False,
    checkpoint_every: CheckpointEvery = 100,
    seed: Seed = 0,
    gradient_checkpointing: Checkpointing = False,
    resume: Resume = False,
    out: Out = None,
    library: LibraryFile = Path(FILE_NAME),
) -> None:
    """Train a character LoRA on "picture of TOKEN CLASS" and add it to the library as characters.TOKEN."""
    if not _TOKEN.match(token):
        _fail(f"TOKEN: expected one word with no spaces, such as kaitoyosuke (letters, digits, - and _); "
              f"got {token!r}")
    from agent.scenes.scene_file import token_problem

    if problem := token_problem(token):
        _fail(f"TOKEN: {token!r} {problem}; expected a made-up word such as kaitoyosuke that means nothing else "
              "in a prompt")
    word = (class_word or "").strip()
    if not word or any(ch.isspace() or not ch.isprintable() for ch in word):
        _fail("--class: expected one class word such as man or woman" + (f"; got {class_word!r}" if word else ""))
    options = Options(images, captions, crop, class_images, class_count, class_steps, prior, steps, rank, lr,
                      resolution, text_encoder, checkpoint_every, seed, gradient_checkpointing, resume, out,
                      library)
    article = "an" if word[0].lower() in "aeiou" else "a"
    result, manifest = _train("character", token, f"picture of {token} {word}",
                              f"picture of {article} {word}" if prior else None, options, token)
    from tools.models.manifest import add_character

    _record(lambda: add_character(manifest, token, word, result.lora), manifest, result,
            lambda lora: f"[characters.{token}] class = {_quote(word)}, lora = {_quote(lora)}")


@train_app.command()
def shot(
    slug: Annotated[str, typer.Argument(help=f"Shot type: {', '.join(SHOT_SLUGS)}, or its number 1-8.")],
    images: Images = None,
    captions: Captions = False,
    crop: Crop = "centre",
    class_images: ClassImages = None,
    class_count: ClassCount = 100,
    class_steps: ClassSteps = 25,
    prior: Annotated[bool, typer.Option("--prior/--no-prior", help="Prior preservation with class images of "
                                                                   "\"picture of a person\".")] = False,
    steps: Annotated[int, typer.Option(help="Training steps.")] = 1000,
    rank: Rank = 8,
    lr: Rate = 1e-4,
    resolution: Resolution = 512,
    text_encoder: TextEncoder = False,
    checkpoint_every: CheckpointEvery = 100,
    seed: Seed = 0,
    gradient_checkpointing: Checkpointing = False,
    resume: Resume = False,
    out: Out = None,
    library: LibraryFile = Path(FILE_NAME),
) -> None:
    """Train a shot-type LoRA on the shot's trigger phrase and add it to the library's shots table."""
    kind = _shot_type(slug)
    options = Options(images, captions, crop, class_images, class_count, class_steps, prior, steps, rank, lr,
                      resolution, text_encoder, checkpoint_every, seed, gradient_checkpointing, resume, out,
                      library)
    result, manifest = _train("shot", kind.slug, kind.trigger, "picture of a person" if prior else None, options,
                              kind.trigger)
    from tools.models.manifest import add_shot

    _record(lambda: add_shot(manifest, kind.slug, result.lora), manifest, result,
            lambda lora: f"[shots] {kind.slug} = {_quote(lora)}")


def _fail(message: str, code: int = 2) -> None:
    from agent.cli import app as cli  # imported here: agent.cli.app registers these commands at its end, so it must load first

    cli.fail(message, code)


def _say(text: str) -> None:
    from agent.cli import app as cli

    cli.console.print(text, markup=False, highlight=False, soft_wrap=True)


def _shot_type(slug: str) -> ShotType:
    """Return the shot type named by a slug or a number; refuse detail, which has no shot LoRA."""
    kind = BY_NUMBER.get(int(slug)) if slug.strip().isdecimal() else BY_SLUG.get(slug.strip())
    if kind is not None and kind.trigger is None:
        _fail(f"SLUG: {kind.slug} inserts use no shot-type LoRA; expected one of {', '.join(SHOT_SLUGS)} "
              f"(or 1-{len(SHOT_SLUGS)})")
    if kind is None:
        _fail(f"SLUG: expected one of {', '.join(SHOT_SLUGS)} (or 1-{len(SHOT_SLUGS)}); got {slug!r}")
    return kind


def _check(options: Options) -> None:
    """Refuse numbers and choices that cannot train, before anything is read."""
    o = options
    if not 64 <= o.resolution <= 2048 or o.resolution % 8:
        _fail(f"--resolution: expected a multiple of 8 from 64 to 2048, got {o.resolution}")
    if o.steps < 1:
        _fail(f"--steps: expected a whole number of at least 1, got {o.steps}")
    if o.rank < 1:
        _fail(f"--rank: expected a whole number of at least 1, got {o.rank}")
    if not 0 < o.lr <= 1:
        _fail(f"--lr: expected a learning rate above 0 and at most 1, such as 1e-4; got {o.lr}")
    if o.crop not in CROPS and o.crop != "center":
        _fail(f"--crop: expected {' or '.join(CROPS)}, got {o.crop!r}")
    if o.checkpoint_every < 1:
        _fail(f"--checkpoint-every: expected a whole number of steps of at least 1, got {o.checkpoint_every}")
    if o.class_count < 1:
        _fail(f"--class-count: expected a whole number of at least 1, got {o.class_count}")
    if not 1 <= o.class_steps <= 150:
        _fail(f"--class-steps: expected a whole number from 1 to 150, got {o.class_steps}")
    if o.seed < 0:
        _fail(f"--seed: expected a whole number of at least 0, got {o.seed}")
    if o.class_images is not None and not o.prior:
        _fail("--class-images: expected --prior with it; class images serve only prior preservation")
    if o.class_images is not None and not o.class_images.is_dir():
        _fail(f"--class-images {o.class_images}: no such folder; expected a folder of class images")
    if o.out is not None and o.out.exists() and not o.out.is_dir():
        _fail(f"--out {o.out}: expected a folder, found a file")


def _library(path: Path) -> Library:
    if not path.is_file():
        _fail(f"--library {path}: no such file; expected the library.toml whose [model] base is trained")
    try:
        return load_library(path)
    except LibraryError as error:
        _fail(str(error))


def _examples(options: Options, prompt: str, mention: str) -> list[Example]:
    """Read the training images, printing each file set aside and each caption that needs a look."""
    if options.images is None:
        _fail(f"--images: expected the folder of training images ({', '.join(IMAGE_SUFFIXES)})")
    crop = "centre" if options.crop == "center" else options.crop
    try:
        examples, skipped = read_examples(options.images, options.resolution, prompt, options.captions, crop)
    except LibraryError as error:
        _fail(str(error))
    for path, reason in skipped:
        _say(f"skipped {path.name}: {reason}")
    for example in examples:
        if example.notice:
            _say(f"notice: {example.path.name}: {example.notice}")
        elif mention.lower() not in example.prompt.lower():
            _say(f"notice: {example.path.name}: its caption does not mention {mention!r}, so this image does not "
                 "teach it")
    return examples


@contextmanager
def _progress(total: int, every: int) -> Iterator[Callable[[int, float], None]]:
    """Yield the step callback: a live bar on a terminal, else one line per checkpoint and at the end."""
    from agent.cli import app as cli

    console = cli.console
    if not console.is_terminal:
        def report(step: int, loss: float) -> None:
            if step % every == 0 or step == total:
                _say(f"step {step}/{total} loss {loss:.4f}")
        yield report
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("training"), BarColumn(), MofNCompleteColumn(), TextColumn("loss {task.fields[loss]}"),
               TimeRemainingColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("training", total=total, loss="-")
        yield lambda step, loss: bar.update(task, completed=step, loss=f"{loss:.4f}")


def _train(kind: str, name: str, instance_prompt: str, class_prompt: str | None, options: Options, mention: str):
    """Check the options, read the images, train; return the trainer's result and the manifest path."""
    _check(options)
    library = _library(options.library)
    examples = _examples(options, instance_prompt, mention)
    from tools.train.run import TrainSettings, train

    out = options.out or options.library.parent / "loras" / name
    settings = TrainSettings(
        kind=kind, name=name, instance_prompt=instance_prompt, class_prompt=class_prompt, base=library.base,
        out=out, config=library.config, steps=options.steps, rank=options.rank, lr=options.lr,
        resolution=options.resolution, text_encoder=options.text_encoder, class_images=options.class_images,
        class_count=options.class_count, seed=options.seed, checkpoint_every=options.checkpoint_every,
        gradient_checkpointing=options.gradient_checkpointing, resume=options.resume,
        class_steps=options.class_steps)
    _say(f"training a {kind} LoRA for {name} on {len(examples)} images ({instance_prompt!r}"
         + (f", prior {class_prompt!r}" if class_prompt else "") + f") into {out}")
    if class_prompt and options.class_images is None:
        _say(f"up to {options.class_count} class images of {class_prompt!r} are drawn first if not yet cached")
    try:
        with _progress(options.steps, options.checkpoint_every) as on_step:
            result = train(settings, examples, on_step=on_step)
    except LibraryError as error:
        _fail(str(error))
    except KeyboardInterrupt:
        _fail(f"stopped; the checkpoints stay in {out}; run the same command with --resume to go on", 130)
    for notice in result.notices:
        _say(f"notice: {notice}")
    if result.resumed_from:
        _say(f"resumed from step {result.resumed_from}")
    if result.class_generated:
        _say(f"generated {result.class_generated} class images in {result.class_dir}")
    return result, options.library


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _record(add: Callable[[], None], manifest: Path, result, entry: Callable[[str], str]) -> None:
    """Add the LoRA to the manifest and say where the LoRA, its settings and its validation images are."""
    from tools.models.manifest import lora_reference

    try:
        add()
    except LibraryError as error:
        _fail(f"{error} (the LoRA itself is saved at {result.lora})")
    _say(f"lora: {result.lora}")
    _say(f"settings: {result.settings_file}")
    _say(f"validation images: {result.lora.parent / 'validation'}")
    _say(f"added to {manifest}: {entry(lora_reference(manifest, result.lora))}")
