"""Inputs are bounded and checked where they enter: each case below is one line and exit 2 (or a question in
chat), never a traceback, a hang, a blown memory budget or a quiet wrong edit.

Reading /dev/zero whole takes all the memory there is, so those tests lower the process's data limit for the
moment they run: code that reads without a cap fails with MemoryError instead of taking the machine down. A
FIFO would block for ever; a watchdog writes into it after a while, so code that opens it blindly fails the
test late instead of hanging it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import resource
import shutil
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli.app import app
from agent.errors import SceneError
from agent.scenes.scene_file import load_scene, scene_from_message, token_problem
from graphs.commands import DURATION_RANGE, Clarify, SetDuration, SetShot
from graphs.corrections.rules import interpret_rules
from tools.errors import ExportError, FileRefused, LibraryError
from tools.export.shot_list import HOLD_RANGE, read_board
from tools.files import atomic
from tools.files.bounded import read_bytes, read_text

ROOT = Path(__file__).resolve().parents[2]
SCENE = ROOT / "examples" / "investigation.toml"
HEADROOM = 768 * 1024 * 1024
"""Memory a test may take beyond what the process holds already, while the data limit is lowered."""


def invoke(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


def one_line(result, *words: str, code: int = 2) -> str:
    """Assert the command stopped with `code` and one line of stderr holding `words`; return the line."""
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == code, (result.exit_code, result.output, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@contextlib.contextmanager
def memory_cap():
    """Lower the soft data limit to what the process holds now plus HEADROOM; put it back afterwards."""
    status = Path("/proc/self/status").read_text()
    held = int(re.search(r"VmData:\s+(\d+) kB", status).group(1)) * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    resource.setrlimit(resource.RLIMIT_DATA, (held + HEADROOM, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))


@contextlib.contextmanager
def unblocked_after(fifo: Path, seconds: float = 8.0):
    """Write TOML-looking junk into `fifo` after `seconds` if a reader is stuck on it, so nothing hangs for ever."""
    done = threading.Event()

    def feed() -> None:
        if done.wait(seconds):
            return
        try:
            descriptor = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as error:  # ENXIO: nobody is reading, which is how it should be
            assert error.errno == errno.ENXIO
            return
        os.write(descriptor, b'title = "late"\n')
        os.close(descriptor)
    watchdog = threading.Thread(target=feed, daemon=True)
    watchdog.start()
    started = time.monotonic()
    try:
        yield
    finally:
        done.set()
        watchdog.join()
    assert time.monotonic() - started < seconds, "the reader blocked on the FIFO"


# --- 1. files are capped, and only regular files are read ----------------------------------------------------


@pytest.fixture
def turns(tmp_path) -> Path:
    path = tmp_path / "turns.yaml"
    path.write_text(f"scene: {SCENE}\nturns: []\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(("args", "words"), [
    (["lint", "/dev/zero"], ["/dev/zero", "a device", "storyboard.json"]),
    (["run", "/dev/zero"], ["/dev/zero", "a device", "scene file"]),
    (["plan", "/dev/zero"], ["/dev/zero", "a device", "scene file"]),
    (["script", "/dev/zero"], ["/dev/zero", "a device", "turns file"]),
    (["run", SCENE, "--renderer", "sketch", "--library", "/dev/zero"], ["/dev/zero", "a device", "library file"]),
    (["plan", SCENE, "--library", "/dev/zero"], ["/dev/zero", "a device", "library file"]),
    (["plan", ROOT / "tests" / "data" / "hamlet.fountain", "--cast", "/dev/zero"], ["/dev/zero", "cast file"]),
])
def test_an_endless_device_is_refused_without_reading_it(args, words, tmp_path):
    with memory_cap():
        result = invoke(*args, *(["--out", tmp_path / "out"] if args[0] == "run" else []))
    one_line(result, *words)
    assert not (tmp_path / "out").exists()


def test_a_screenplay_that_links_to_an_endless_device_is_refused(tmp_path):
    link = tmp_path / "endless.fountain"
    link.symlink_to("/dev/zero")
    with memory_cap():
        one_line(invoke("plan", link), "endless.fountain", "a device", "Fountain screenplay")


@pytest.mark.parametrize(("name", "command", "kind"), [
    ("scene.toml", "run", "scene file"), ("scene.toml", "plan", "scene file"),
    ("script.fountain", "plan", "Fountain screenplay"), ("board.json", "lint", "storyboard.json"),
    ("turns.yaml", "script", "turns file"),
])
def test_a_fifo_is_refused_at_once_instead_of_waiting_for_a_writer(tmp_path, name, command, kind):
    fifo = tmp_path / name
    os.mkfifo(fifo)
    with unblocked_after(fifo):
        result = invoke(command, fifo, *(["--out", tmp_path / "out"] if command == "run" else []))
    one_line(result, name, "a pipe (FIFO)", kind)


def test_a_fifo_library_is_refused_at_once(tmp_path):
    fifo = tmp_path / "library.toml"
    os.mkfifo(fifo)
    with unblocked_after(fifo):
        one_line(invoke("plan", SCENE, "--library", fifo), "library.toml", "FIFO", "library file")


@pytest.mark.parametrize(("name", "command", "size", "words"), [
    ("scene.toml", "plan", 2 * 1024 * 1024, ["2 MB", "scene file", "at most 1 MB"]),
    ("script.fountain", "plan", 6 * 1024 * 1024, ["6 MB", "Fountain screenplay", "at most 5 MB"]),
    ("board.json", "lint", 21 * 1024 * 1024, ["21 MB", "storyboard.json", "at most 20 MB"]),
    ("turns.yaml", "script", 2 * 1024 * 1024, ["2 MB", "turns file", "at most 1 MB"]),
])
def test_a_file_over_its_cap_is_refused_with_the_cap(tmp_path, name, command, size, words):
    path = tmp_path / name
    with path.open("wb") as stream:  # sparse: the size is there without the bytes
        stream.truncate(size)
    one_line(invoke(command, path), name, *words)


def test_a_folder_given_as_a_file_is_refused(tmp_path):
    one_line(invoke("lint", tmp_path), str(tmp_path), "a folder", "storyboard.json")
    one_line(invoke("plan", SCENE, "--library", tmp_path), "a folder", "library file")


def test_the_shared_reader_stops_one_byte_past_the_cap(tmp_path):
    path = tmp_path / "scene.toml"
    path.write_bytes(b"x" * 100)
    assert read_bytes(path, 100, "scene file") == b"x" * 100
    with pytest.raises(FileRefused, match=r"scene.toml: is 101 bytes; expected a scene file of at most 100 bytes"):
        path.write_bytes(b"x" * 101)
        read_bytes(path, 100, "scene file")
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(FileRefused, match="not UTF-8 text"):
        read_text(path, 100, "scene file")
    with pytest.raises(FileNotFoundError):
        read_bytes(tmp_path / "missing.toml", 100, "scene file")
    with memory_cap(), pytest.raises(FileRefused, match="a device"):
        read_bytes("/dev/zero", 10, "scene file")


def test_a_device_as_a_scene_in_the_library_api_is_one_error():
    with memory_cap(), pytest.raises(SceneError, match="/dev/zero: is a device; expected a scene file"):
        load_scene(Path("/dev/zero"))


# --- 2. storyboard.json is checked whole before an export reads it -------------------------------------------


@pytest.fixture(scope="module")
def drawn(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bounded") / "board"
    result = invoke("run", SCENE, "--out", out, "--renderer", "sketch", "--width", "64", "--height", "64",
                    "--frames", "3")
    assert result.exit_code == 0, result.output + result.stderr
    return out


def edited(drawn: Path, tmp_path: Path, change) -> Path:
    """Copy the drawn storyboard, let `change(document)` edit its storyboard.json, and return the copy."""
    folder = tmp_path / "copy"
    shutil.copytree(drawn, folder, ignore=shutil.ignore_patterns("*.sqlite*", "*.lock", ".*"))
    path = folder / "storyboard.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(json.dumps(document), encoding="utf-8")
    return folder


def test_the_hold_range_is_the_one_chat_accepts():
    assert HOLD_RANGE == DURATION_RANGE


@pytest.mark.parametrize("value", [1e7, 0, -1, 0.1, 61, float("nan"), float("inf"), "2", True, None])
def test_a_hold_out_of_range_is_refused_naming_the_frame_and_field(drawn, tmp_path, value):
    folder = edited(drawn, tmp_path, lambda d: d["frames"][1].update(duration=value))
    with pytest.raises(ExportError) as caught:
        read_board(folder)
    message = str(caught.value)
    assert "frame 1: duration: expected a number of seconds from 0.2 to 60" in message and "\n" not in message


@pytest.mark.parametrize("fmt", ["gif", "mp4", "csv"])
def test_export_refuses_a_huge_hold_in_one_line_before_drawing(drawn, tmp_path, fmt):
    folder = edited(drawn, tmp_path, lambda d: d["frames"][0].update(duration=1e7))
    started = time.monotonic()
    one_line(invoke("export", folder, "--format", fmt), "frame 0", "duration", "10000000")
    assert time.monotonic() - started < 30
    assert not list(folder.glob(f"*.{fmt}"))


@pytest.mark.parametrize("image", ["/etc/passwd", "../../../../etc/passwd", "frames/../../outside.png"])
def test_an_image_path_outside_the_folder_is_refused(drawn, tmp_path, image):
    (tmp_path / "outside.png").write_bytes((drawn / "frames" / "shot_0.png").read_bytes())
    folder = edited(drawn, tmp_path, lambda d: d["frames"][2].update(image=image))
    one_line(invoke("export", folder, "--format", "pdf"), "frame 2: image", "inside")


def test_a_symlinked_image_that_points_out_of_the_folder_is_refused(drawn, tmp_path):
    folder = edited(drawn, tmp_path, lambda d: None)
    shot = folder / "frames" / "shot_1.png"
    (tmp_path / "elsewhere.png").write_bytes(shot.read_bytes())
    shot.unlink()
    shot.symlink_to(tmp_path / "elsewhere.png")
    with pytest.raises(ExportError, match="frame 1: image: expected a file inside"):
        read_board(folder)


@pytest.mark.parametrize(("field", "value", "words"), [
    ("index", float("inf"), "frame 0: index: expected a whole number"),
    ("index", -3, "frame 0: index: expected a whole number"),
    ("seed", float("nan"), "frame 0: seed: expected a whole number"),
    ("critique", {"clip_score": float("nan")}, "frame 0: critique.clip_score: expected a number"),
    ("critique", {"clip_score": 1e308}, "frame 0: critique.clip_score: expected a number"),
    ("shot_type", 7, "frame 0: shot_type: expected text"),
])
def test_every_number_and_field_is_checked(drawn, tmp_path, field, value, words):
    folder = edited(drawn, tmp_path, lambda d: d["frames"][0].update({field: value}))
    with pytest.raises(ExportError) as caught:
        read_board(folder)
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_a_board_within_its_bounds_still_reads(drawn, tmp_path):
    folder = edited(drawn, tmp_path, lambda d: d["frames"][0].update(duration=60))
    board = read_board(folder)
    assert board.shots[0].duration == 60 and len(board.shots) == 3


# --- 3. a correction that reads as a hold is a hold or a question, never a prompt ---------------------------


@pytest.mark.parametrize(("message", "seconds"), [
    ("frame 7: .5s", 0.5), ("frame 7: 2,5s", 2.5), ("frame 7: 1e1s", 10.0), ("frame 7: 1 minute", 60.0),
    ("frame 7: 500ms", 0.5), ("frame 7: hold it for two seconds", 2.0), ("frame 7: 3 seconds long", 3.0),
    ("7: 2.5 sec", 2.5),
])
def test_a_hold_in_any_common_spelling_is_a_hold(message, seconds):
    assert interpret_rules(message) == [SetDuration(frame=7, seconds=seconds)]


@pytest.mark.parametrize("message", [
    "frame 7: 2 minutes", "frame 7: nan s", "frame 7: inf seconds", "frame 7: hold for 1e-300 seconds",
    "frame 7: 1e400 s", "frame 7: -2s", "frame 7: 0 s", "frame 7: 1,000s", "frame 7: 2m", "frame 7: 1 hour",
])
def test_a_hold_that_cannot_be_one_is_a_question_and_never_a_prompt(message):
    [answer] = interpret_rules(message)
    assert isinstance(answer, Clarify) and "frame 7" in answer.question
    assert "0.2 to 60 seconds" in answer.question


def test_leading_zeros_do_not_make_a_frame_number_too_large():
    assert interpret_rules("frame 0000000000000000000000000001: close-up") == [SetShot(frame=1,
                                                                                        shot_type="close_up")]
    assert interpret_rules("frame 000: close-up") == [SetShot(frame=0, shot_type="close_up")]


def test_a_hold_question_in_a_run_leaves_the_prompt_as_it_was(tmp_path):
    out = tmp_path / "o"
    result = invoke("run", SCENE, "--out", out, "--renderer", "sketch", "--width", "64", "--height", "64",
                    "--frames", "2", "--then", "frame 1: hold for 1e-300 seconds")
    assert result.exit_code == 1 and "0.2 to 60 seconds" in result.output + result.stderr
    frame = json.loads((out / "storyboard.json").read_text(encoding="utf-8"))["frames"][1]
    assert "1e-300" not in frame["prompt"] and frame["duration_set"] is False


# --- 4. tokens that read as something else in a prompt are refused -------------------------------------------


CAST = """
title = "t"
description = "Kaito walks in and sits down by the window."
frames = 2
{people}
"""


def person(name: str, class_word: str = "man", aliases: list[str] | None = None) -> str:
    return f'[[characters]]\nname = "{name}"\nclass = "{class_word}"\naliases = {json.dumps(aliases or [])}\n'


@pytest.mark.parametrize(("token", "kind"), [
    ("he", "is a pronoun"), ("they", "is a pronoun"), ("Her", "is a pronoun"), ("close_up", "is a shot-type word"),
    ("extreme-long", "is a shot-type word"), ("wide", "is a shot-type word"), ("man", "is a class word"),
    ("woman", "is a class word"), ("3", "is a number"),
])
def test_a_token_that_means_something_else_is_refused_in_one_line(tmp_path, token, kind):
    path = tmp_path / "scene.toml"
    path.write_text(CAST.format(people=person(token)), encoding="utf-8")
    one_line(invoke("plan", path), "characters[0].name", repr(token), kind)
    assert token_problem(token) == kind


def test_made_up_tokens_and_names_that_are_also_abbreviations_still_pass():
    for token in ("kaitoyosuke", "jiyeonmun", "els", "r2d2", "hera"):
        assert token_problem(token) is None, token


@pytest.mark.parametrize("second", [
    person("jiyeonmun", "woman", ["Ji-yeon", "kaito"]), person("jiyeonmun", "woman", ["KAITOYOSUKE"]),
])
def test_one_name_on_two_characters_is_refused(tmp_path, second):
    path = tmp_path / "scene.toml"
    path.write_text(CAST.format(people=person("kaitoyosuke", aliases=["Kaito"]) + second), encoding="utf-8")
    one_line(invoke("plan", path), "characters[1].aliases", "already names 'kaitoyosuke'")


def test_a_pronoun_alias_is_refused(tmp_path):
    with pytest.raises(SceneError, match="aliases: 'he' is a pronoun"):
        scene_from_message(CAST.format(people=person("kaitoyosuke", aliases=["he"])), tmp_path, toml=True)


def test_a_screenplay_speaker_called_man_or_she_gets_a_token_of_its_own(tmp_path):
    from agent.scenes.screenplay import scene_from_screenplay

    path = tmp_path / "script.fountain"
    path.write_text("INT. HALL - DAY\n\nA man waits.\n\nMAN\nHello.\n\nSHE\nHi.\n", encoding="utf-8")
    scene = scene_from_screenplay(path, 1)
    assert [c.name for c in scene.characters] == ["man2", "she2"]
    assert scene.characters[1].aliases == []  # "She" would take over every she in the scene


def test_a_cast_file_token_that_is_a_pronoun_is_refused(tmp_path):
    cast = tmp_path / "cast.toml"
    cast.write_text('[characters.HORATIO]\ntoken = "he"\n', encoding="utf-8")
    one_line(invoke("plan", ROOT / "tests" / "data" / "hamlet.fountain", "--cast", cast),
             "characters.HORATIO.token", "'he' is a pronoun")


def test_training_a_character_with_a_pronoun_token_is_refused_before_anything_loads(tmp_path):
    one_line(invoke("train", "character", "they", "--class", "woman", "--images", tmp_path,
                    "--library", tmp_path / "library.toml"), "TOKEN", "'they' is a pronoun")


# --- 5. a CLIP folder that cannot load is one line naming model.clip ------------------------------------------


@pytest.fixture
def clip_without_config(tiny_clip, tmp_path) -> Path:
    folder = tmp_path / "clip"
    shutil.copytree(tiny_clip, folder)
    (folder / "config.json").unlink()
    return folder


def test_a_clip_folder_without_config_is_one_line(clip_without_config):
    from PIL import Image

    from tools.critique import ClipCritic
    from tools.models.hub import ModelHub

    with pytest.raises(LibraryError) as caught:
        ClipCritic(str(clip_without_config), hub=ModelHub()).scores([Image.new("RGB", (32, 32))], "a test")
    message = str(caught.value)
    assert message.startswith("model.clip: ") and "config.json" in message and "\n" not in message


def test_clip_weights_that_do_not_fit_their_config_are_one_line(clip_without_config):
    from PIL import Image
    from transformers import CLIPConfig

    from tools.critique import ClipCritic
    from tools.models.hub import ModelHub

    CLIPConfig().save_pretrained(clip_without_config)  # the default sizes, not the tiny model's
    with pytest.raises(LibraryError) as caught:
        ClipCritic(str(clip_without_config), hub=ModelHub()).scores([Image.new("RGB", (32, 32))], "a test")
    message = str(caught.value)
    assert message.startswith("model.clip: cannot load") and "sizes" in message and "\n" not in message


def test_a_run_with_that_clip_folder_stops_in_one_line_before_planning(clip_without_config, tmp_path):
    library = tmp_path / "library.toml"
    library.write_text(f'[model]\nbase = "stable-diffusion-v1-5/stable-diffusion-v1-5"\n'
                       f'clip = {json.dumps(str(clip_without_config))}\n', encoding="utf-8")
    result = invoke("run", SCENE, "--out", tmp_path / "o", "--renderer", "sketch", "--library", library,
                    "--width", "64", "--height", "64", "--frames", "2")
    one_line(result, "model.clip", "has no config.json")
    assert "planned" not in result.output


# --- 6 (file modes). atomic writes give files the mode open() would -------------------------------------------


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_atomic_writes_follow_the_umask(tmp_path, mask, mode):
    old = os.umask(mask)
    try:
        atomic.write_bytes(tmp_path / "a.json", b"{}")
        beside = tmp_path / "plain.json"
        beside.write_bytes(b"{}")
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == mode == beside.stat().st_mode & 0o777
