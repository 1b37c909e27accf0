"""Hostile input through the command line: each is refused with one line (or made harmless) and loses nothing.

The bots' share of the same list (paths and sizes in messages, attachment names, thread keys) is tested in
tests/agent/bots/test_slack.py and tests/agent/bots/test_discord.py; a 10 MB model reply in tests/graphs/planning/test_llm_limits.py.
"""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest
import torch
from tiny_models import write_lora, write_pickle_lora

from agent.errors import SceneError
from agent.scenes.scene_file import scene_from_message
from tools.files.roots import ENV

SCENE = """\
title = "The door"
description = "Kaito pushes open the door of an empty house. He sweeps his flashlight across the hall."
frames = {frames}
"""
CAST = """
[[characters]]
name = "{name}"
class = "man"
lora = "{lora}"
"""


def one_line(result, *words: str) -> str:
    """Assert the command refused with exit 2 and one line of stderr naming `words`; return the line."""
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def scene_with(folder: Path, frames: int = 2, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "scene.toml"
    path.write_text(SCENE.format(frames=frames) + extra, encoding="utf-8")
    return path


def run(cli, scene: Path, out: Path, *more: str):
    return cli("run", scene, "--out", out, "--renderer", "sketch", "--width", "64", "--height", "64", *more)


# --- paths ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../escape", "/etc/passwd", "a/b", "..", "..\\\\windows", "~root"])
def test_a_character_name_that_is_a_path_is_refused(cli, tmp_path, name):
    cast = CAST.format(name=name, lora="")
    one_line(run(cli, scene_with(tmp_path / "s", extra=cast), tmp_path / "out"), "name", "space-free token")
    assert not (tmp_path / "out").exists()


def lora_cases(tmp_path: Path) -> dict[str, str]:
    """Write a real LoRA outside the scene's folder and return ways a scene might point at it."""
    outside = write_lora(tmp_path / "elsewhere" / "kaito.safetensors", 1)
    link = tmp_path / "s" / "loras" / "kaito.safetensors"
    link.parent.mkdir(parents=True)
    link.symlink_to(outside)
    return {"dot-dot": "../elsewhere/kaito.safetensors", "absolute": str(outside),
            "symlink out": "loras/kaito.safetensors", "dot-dot inside then out": "loras/../../elsewhere/kaito.safetensors"}


@pytest.mark.parametrize("case", ["dot-dot", "absolute", "symlink out", "dot-dot inside then out"])
def test_a_lora_path_leading_out_of_the_scene_folder_is_refused(cli, tmp_path, case):
    lora = lora_cases(tmp_path)[case]
    scene = scene_with(tmp_path / "s", extra=CAST.format(name="kaitoyosuke", lora=lora))
    one_line(run(cli, scene, tmp_path / "out"), "characters[0].lora", "outside", "scene file's folder", ENV)
    assert not (tmp_path / "out").exists()


def test_shotsmith_roots_lets_an_operator_allow_another_folder(cli, tmp_path, monkeypatch):
    lora = lora_cases(tmp_path)["absolute"]
    scene = scene_with(tmp_path / "s", extra=CAST.format(name="kaitoyosuke", lora=lora))
    monkeypatch.setenv(ENV, str(tmp_path / "elsewhere"))
    result = run(cli, scene, tmp_path / "out")
    assert result.exit_code == 0, result.output


def test_a_lora_inside_the_scene_folder_is_fine(cli, tmp_path):
    write_lora(tmp_path / "s" / "loras" / "kaito.safetensors", 1)
    scene = scene_with(tmp_path / "s", extra=CAST.format(name="kaitoyosuke", lora="loras/kaito.safetensors"))
    assert run(cli, scene, tmp_path / "out").exit_code == 0


def test_a_cast_file_lora_leading_out_is_refused(cli, tmp_path):
    outside = write_lora(tmp_path / "elsewhere" / "h.safetensors", 1)
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "play.fountain").write_text("INT. HALL - NIGHT\n\nHORATIO waits by the door.\n\nHORATIO\nWho's there?\n",
                                          encoding="utf-8")
    (folder / "cast.toml").write_text(f'[characters.HORATIO]\ntoken = "horatiosk"\nclass = "man"\nlora = "{outside}"\n',
                                      encoding="utf-8")
    result = run(cli, folder / "play.fountain", tmp_path / "out", "--cast", folder / "cast.toml")
    one_line(result, "HORATIO.lora", "outside", "cast file's folder")


@pytest.mark.parametrize("table", ['[model]\nbase = "/etc/passwd"\n', 'checkpoint = "../../models/x.ckpt"\n',
                                   'sam = "/tmp/sam.pth"\n'])
def test_a_scene_cannot_name_a_checkpoint(cli, tmp_path, table):
    folder = tmp_path / "s"
    folder.mkdir()
    path = folder / "scene.toml"
    path.write_text(table + SCENE.format(frames=2) if not table.startswith("[") else SCENE.format(frames=2) + table,
                    encoding="utf-8")
    one_line(run(cli, path, tmp_path / "out"), "unknown key", "expected one of")


def test_a_chat_scene_resolves_and_checks_loras_against_the_given_roots(tmp_path):
    from tools.files.roots import Roots

    library = tmp_path / "library"
    write_lora(library / "loras" / "kaito.safetensors", 1)
    roots = Roots.around(library, "the model library's folder")
    text = textwrap.dedent(SCENE.format(frames=2) + CAST.format(name="kaitoyosuke", lora="loras/kaito.safetensors"))
    scene = scene_from_message(text, library, roots=roots)
    assert scene.characters[0].lora == str((library / "loras" / "kaito.safetensors").resolve())
    with pytest.raises(SceneError, match="model library's folder"):
        scene_from_message(text.replace("loras/kaito", "../../../etc/passwd"), library, roots=roots)
    with pytest.raises(SceneError, match="outside"):  # a bot with no library takes no LoRA paths at all
        scene_from_message(text, tmp_path / "thread", roots=Roots.around(None, "the model library's folder"))


# --- sizes ----------------------------------------------------------------------------------------------


def test_a_100k_character_description_is_refused(cli, tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    path = folder / "scene.toml"
    path.write_text(f'title = "Long"\ndescription = "{"Kaito runs. " * 8334}"\nframes = 2\n', encoding="utf-8")
    one_line(run(cli, path, tmp_path / "out"), "description", "at most 20,000 characters", "100,007")
    with pytest.raises(SceneError, match="at most 20,000"):
        scene_from_message("Kaito runs. " * 8334, tmp_path)


@pytest.mark.parametrize("how", ["scene", "option", "shots"])
def test_a_500_frame_request_is_refused(cli, tmp_path, how):
    frames = 500 if how == "scene" else 2
    extra = f"shots = [{', '.join(['2'] * 500)}]\n" if how == "shots" else ""
    scene = scene_with(tmp_path / "s", frames, extra)
    more = ("--frames", "500") if how == "option" else ()
    one_line(run(cli, scene, tmp_path / "out", *more), "at most 200", "500")
    assert not (tmp_path / "out").exists()


# --- characters -----------------------------------------------------------------------------------------


def test_control_characters_are_dropped_and_emoji_kept(cli, tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    path = folder / "scene.toml"
    path.write_text('title = "Night \U0001F319 \\u001b[31mred\\u001b[0m \\u202eevil"\n'
                    'description = "Kaito \U0001F575\\uFE0F opens the door.\\u0000 He bell\\u0007s. '
                    'The light \U0001F4A1 flickers.\\r\\nRain."\nframes = 2\n', encoding="utf-8")
    out = tmp_path / "out"
    result = run(cli, path, out, "--then", "frame 1: add a \U0001F56F\uFE0F candle\x1b[2J on the table")
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    document = json.loads((out / "storyboard.json").read_text(encoding="utf-8"))
    assert document["title"] == "Night \U0001F319 [31mred[0m evil"
    text = json.dumps(document, ensure_ascii=False)
    assert not any(ord(ch) < 32 and ch not in "\n\t" for ch in text)
    assert "\U0001F4A1" in text and "\u202e" not in text
    assert (out / "storyboard.pdf").read_bytes().startswith(b"%PDF")


# --- weights --------------------------------------------------------------------------------------------


def library_with(folder: Path, model: str) -> Path:
    path = folder / "library.toml"
    path.write_text("[model]\n" + model, encoding="utf-8")
    return path


def test_pickle_weights_are_refused_without_the_flag(cli, tmp_path, tiny_sd):
    folder = tmp_path / "s"
    scene = scene_with(folder)
    torch.save({"state_dict": {}}, folder / "model.ckpt")
    library_with(folder, 'base = "model.ckpt"\n')
    one_line(cli("run", scene, "--out", tmp_path / "out", "--renderer", "diffusers"), "model.ckpt", "pickle",
             "--allow-pickle")
    write_pickle_lora(folder / "kaito.bin", 1)
    library_with(folder, f'base = "{tiny_sd}"\n[characters.kaitoyosuke]\nclass = "man"\nlora = "kaito.bin"\n')
    scene.write_text(scene.read_text() + CAST.format(name="kaitoyosuke", lora="").replace('lora = ""\n', ""))
    one_line(cli("run", scene, "--out", tmp_path / "out", "--renderer", "diffusers", "--width", "64", "--height",
                 "64", "--steps", "1"), "kaito.bin", "--allow-pickle")


class Payload:
    """A pickled object that is not weights; loading it must never run its code."""

    def __reduce__(self):
        return (os.system, ("touch pwned",))


@pytest.mark.parametrize("content", ["list", "tensor", "object"])
def test_a_sam_checkpoint_that_is_not_a_state_dict_is_refused(cli, tmp_path, tiny_sd, tiny_sam, content,
                                                              monkeypatch):
    folder = tmp_path / "s"
    scene = scene_with(folder, frames=2)
    sam = folder / "sam.pth"
    value = {"list": [1, 2, 3], "tensor": torch.zeros(3), "object": Payload()}[content]
    torch.save(value, sam)
    library_with(folder, f'base = "{tiny_sd}"\nsam = "sam.pth"\nsam_type = "{tiny_sam[1]}"\n')
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    result = cli("run", scene, "--out", out, "--renderer", "diffusers", "--width", "64", "--height", "64",
                 "--steps", "1", "--then", "frame 0: inpaint box 8,8,40,40 with a red hat")
    line = one_line(result, "model.sam", "sam.pth", "expected a SAM checkpoint")
    assert "stay on disk" in line
    assert not (tmp_path / "pwned").exists()
    assert (out / "frames" / "shot_0.png").is_file() and (out / "frames" / "shot_1.png").is_file()


# --- damaged images -------------------------------------------------------------------------------------


def damage(path: Path) -> bytes:
    """Cut a PNG in half (a crash or a bad disk); return what it held."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return data


def versions(out: Path) -> list[Path]:
    return sorted((out / "frames" / "versions").glob("*.png"))


def test_a_damaged_leftover_is_drawn_again_not_reused(cli, tmp_path):
    scene, out = scene_with(tmp_path / "s", 3), tmp_path / "out"
    assert run(cli, scene, out).exit_code == 0
    original = damage(versions(out)[1])
    result = run(cli, scene, out)  # a new session in the same folder reuses the files it finds
    assert result.exit_code == 0, result.output
    assert "(1 rendered, 2 reused" in result.stdout
    assert versions(out)[1].read_bytes() == original


def test_a_damaged_shown_image_is_drawn_again_as_it_was(cli, tmp_path):
    scene, out = scene_with(tmp_path / "s", 3), tmp_path / "out"
    assert run(cli, scene, out).exit_code == 0
    shown = json.loads((out / "storyboard.json").read_text())["frames"][2]["image"]
    original = damage(out / shown)
    damage(out / "frames" / "shot_2.png")
    result = run(cli, scene, out, "--resume", "--then", "frame 0: close-up")
    assert result.exit_code == 0, result.output
    assert (out / shown).read_bytes() == original
    assert (out / "frames" / "shot_2.png").read_bytes() == original


def test_exporting_with_a_damaged_frame_is_one_line_and_keeps_the_rest(cli, tmp_path):
    scene, out = scene_with(tmp_path / "s", 3), tmp_path / "out"
    assert run(cli, scene, out).exit_code == 0
    kept = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    damage(out / "frames" / "shot_1.png")
    one_line(cli("export", out, "--format", "pdf,mp4"), "shot_1.png", "frame 1", "damaged")
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == kept


@pytest.mark.parametrize("out", ["../../elsewhere", "/tmp/elsewhere", "out/../../x"])
def test_a_turns_file_cannot_send_its_output_out_of_the_working_folder(cli, tmp_path, out, monkeypatch):
    scene_with(tmp_path / "s")
    turns = tmp_path / "s" / "play.turns.yaml"
    turns.write_text(f'scene: scene.toml\nout: "{out}"\nturns:\n  - "frame 0: close-up"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path / "s")
    one_line(cli("script", turns), "`out`", "below the working folder", "--out")
    assert not (tmp_path / "elsewhere").exists() and not Path("/tmp/elsewhere").exists()


def test_a_100k_character_correction_is_refused_and_changes_nothing(cli, tmp_path):
    scene, out = scene_with(tmp_path / "s", 2), tmp_path / "out"
    assert run(cli, scene, out).exit_code == 0
    before = (out / "storyboard.json").read_bytes()
    result = run(cli, scene, out, "--resume", "--then", "frame 1: add " + "rain " * 20_000)
    assert result.exit_code == 1
    assert "100,013 characters long; expected a correction of at most 4,000" in " ".join(result.output.split())
    assert (out / "storyboard.json").read_bytes() == before
    assert run(cli, scene, out, "--resume", "--then", "frame 1: close-up").exit_code == 0
