"""The steps of a `shotsmith train` command, and the options both train commands share.

`Options` declares the shared options once: each field's type carries its command-line option and its
default is the option's. Each command declares `prior` and `steps` itself, since their help and defaults
differ. The trainer (tools.train.run) is imported only when training starts, which keeps
`shotsmith --help` quick.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from agent.cli.output import console, fail, fail_on, say
from tools.errors import ShotsmithError
from tools.models.library import FILE_NAME, Library, load_library
from tools.models.manifest import lora_reference
from tools.train.data import CROPS, IMAGE_SUFFIXES, Example, read_examples

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


@dataclass(frozen=True, kw_only=True)
class Options:
    """The options both train commands take, in the order --help lists them; `prior` and `steps` have no
    default here because each command declares its own."""

    images: Images = None
    captions: Captions = False
    crop: Crop = "centre"
    class_images: ClassImages = None
    class_count: ClassCount = 100
    class_steps: ClassSteps = 25
    prior: bool
    steps: int
    rank: Rank = 8
    lr: Rate = 1e-4
    resolution: Resolution = 512
    text_encoder: TextEncoder = False
    checkpoint_every: CheckpointEvery = 100
    seed: Seed = 0
    gradient_checkpointing: Checkpointing = False
    resume: Resume = False
    out: Out = None
    library: LibraryFile = Path(FILE_NAME)


def check(o: Options) -> None:
    """Refuse numbers and choices that cannot train, before anything is read."""
    if not 64 <= o.resolution <= 2048 or o.resolution % 8:
        fail(f"--resolution: expected a multiple of 8 from 64 to 2048, got {o.resolution}")
    if o.steps < 1:
        fail(f"--steps: expected a whole number of at least 1, got {o.steps}")
    if o.rank < 1:
        fail(f"--rank: expected a whole number of at least 1, got {o.rank}")
    if not 0 < o.lr <= 1:
        fail(f"--lr: expected a learning rate above 0 and at most 1, such as 1e-4; got {o.lr}")
    if o.crop not in CROPS and o.crop != "center":
        fail(f"--crop: expected {' or '.join(CROPS)}, got {o.crop!r}")
    if o.checkpoint_every < 1:
        fail(f"--checkpoint-every: expected a whole number of steps of at least 1, got {o.checkpoint_every}")
    if o.class_count < 1:
        fail(f"--class-count: expected a whole number of at least 1, got {o.class_count}")
    if not 1 <= o.class_steps <= 150:
        fail(f"--class-steps: expected a whole number from 1 to 150, got {o.class_steps}")
    if o.seed < 0:
        fail(f"--seed: expected a whole number of at least 0, got {o.seed}")
    if o.class_images is not None and not o.prior:
        fail("--class-images: expected --prior with it; class images serve only prior preservation")
    if o.class_images is not None and not o.class_images.is_dir():
        fail(f"--class-images {o.class_images}: no such folder; expected a folder of class images")
    if o.out is not None and o.out.exists() and not o.out.is_dir():
        fail(f"--out {o.out}: expected a folder, found a file")


def read_base(path: Path) -> Library:
    """Load the library whose base model is trained; fail with one line if it is missing or broken."""
    if not path.is_file():
        fail(f"--library {path}: no such file; expected the library.toml whose [model] base is trained")
    try:
        return load_library(path)
    except ShotsmithError as error:
        fail_on(error)


def examples(options: Options, prompt: str, mention: str) -> list[Example]:
    """Read the training images, printing each file set aside and each caption that needs a look."""
    if options.images is None:
        fail(f"--images: expected the folder of training images ({', '.join(IMAGE_SUFFIXES)})")
    crop = "centre" if options.crop == "center" else options.crop
    try:
        found, skipped = read_examples(options.images, options.resolution, prompt, options.captions, crop)
    except ShotsmithError as error:
        fail_on(error)
    for path, reason in skipped:
        say(f"skipped {path.name}: {reason}")
    for example in found:
        if example.notice:
            say(f"notice: {example.path.name}: {example.notice}")
        elif mention.lower() not in example.prompt.lower():
            say(f"notice: {example.path.name}: its caption does not mention {mention!r}, so this image does not "
                "teach it")
    return found


@contextmanager
def progress(total: int, every: int) -> Iterator[Callable[[int, float], None]]:
    """Yield the step callback: a live bar on a terminal, else one line per checkpoint and at the end."""
    if not console.is_terminal:
        def report(step: int, loss: float) -> None:
            if step % every == 0 or step == total:
                say(f"step {step}/{total} loss {loss:.4f}")
        yield report
        return
    columns = (TextColumn("training"), BarColumn(), MofNCompleteColumn(), TextColumn("loss {task.fields[loss]}"),
               TimeRemainingColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("training", total=total, loss="-")
        yield lambda step, loss: bar.update(task, completed=step, loss=f"{loss:.4f}")


def train_lora(kind: str, name: str, instance_prompt: str, class_prompt: str | None, options: Options,
               mention: str):
    """Check the options, read the images, train; return the trainer's result and the manifest path."""
    check(options)
    library = read_base(options.library)
    found = examples(options, instance_prompt, mention)
    from tools.train.run import TrainSettings, train  # torch and diffusers load only when training starts

    out = options.out or options.library.parent / "loras" / name
    settings = TrainSettings(
        kind=kind, name=name, instance_prompt=instance_prompt, class_prompt=class_prompt, base=library.base,
        out=out, config=library.config, steps=options.steps, rank=options.rank, lr=options.lr,
        resolution=options.resolution, text_encoder=options.text_encoder, class_images=options.class_images,
        class_count=options.class_count, seed=options.seed, checkpoint_every=options.checkpoint_every,
        gradient_checkpointing=options.gradient_checkpointing, resume=options.resume,
        class_steps=options.class_steps)
    say(f"training a {kind} LoRA for {name} on {len(found)} images ({instance_prompt!r}"
        + (f", prior {class_prompt!r}" if class_prompt else "") + f") into {out}")
    if class_prompt and options.class_images is None:
        say(f"up to {options.class_count} class images of {class_prompt!r} are drawn first if not yet cached")
    try:
        with progress(options.steps, options.checkpoint_every) as on_step:
            result = train(settings, found, on_step=on_step)
    except ShotsmithError as error:
        fail_on(error)
    except KeyboardInterrupt:
        fail(f"stopped; the checkpoints stay in {out}; run the same command with --resume to go on", 130)
    _tell(result)
    return result, options.library


def _tell(result) -> None:
    """Print what the trainer noticed, and whether it resumed or drew class images."""
    for notice in result.notices:
        say(f"notice: {notice}")
    if result.resumed_from:
        say(f"resumed from step {result.resumed_from}")
    if result.class_generated:
        say(f"generated {result.class_generated} class images in {result.class_dir}")


def quote(text: str) -> str:
    """Write text as a TOML basic string (JSON's quoting is TOML's)."""
    return json.dumps(text, ensure_ascii=False)


def record(add: Callable[[], None], manifest: Path, result, entry: Callable[[str], str]) -> None:
    """Add the LoRA to the manifest and say where the LoRA, its settings and its validation images are."""
    try:
        add()
    except ShotsmithError as error:
        fail_on(error, f" (the LoRA itself is saved at {result.lora})")
    say(f"lora: {result.lora}")
    say(f"settings: {result.settings_file}")
    say(f"validation images: {result.lora.parent / 'validation'}")
    say(f"added to {manifest}: {entry(lora_reference(manifest, result.lora))}")
