"""The Discord bot, driven by calling its slash-command callbacks with stand-in interactions.

Discord's service cannot be reached from the tests, so each interaction is a SimpleNamespace whose
`response.defer` and `followup.send` are AsyncMocks; the storyboard work underneath is real (sketch renderer).
"""

from __future__ import annotations

import asyncio
import io
import json
import os
from pathlib import Path
from types import SimpleNamespace
from unittest.mock import AsyncMock

import discord
import pytest
from PIL import Image
from typer.testing import CliRunner

from agent.cli.app import app
from agent.bots.discord_bot import build_bot
from agent.bots.discord_channels import NO_SCENE, NO_SESSION
from agent.bots.discord_files import shrink
from graphs.context import Context
from graphs.planning.planner import RulesPlanner
from tools.models.gpu_queue import GpuQueue
from tools.render.sketch import SketchRenderer

ROOT = Path(__file__).resolve().parents[3]
SCENE = 'title = "Night shift"\ndescription = "A detective searches a dark office for a letter"\nframes = 5\n'
CHANNEL = 4242


class Recorder:
    """Keeps the order in which the bot deferred and the renderer drew."""

    def __init__(self) -> None:
        self.order: list[str] = []

    def renderer(self) -> SketchRenderer:
        drawer = SketchRenderer()
        render = drawer.render

        def recorded(*args, **kwargs):
            self.order.append("render")
            return render(*args, **kwargs)
        drawer.render = recorded
        return drawer


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def tree(tmp_path: Path, recorder: Recorder):
    queue = GpuQueue()
    _, commands = build_bot(lambda scene: Context(planner=RulesPlanner(), renderer=recorder.renderer(),
                                                  gpu_lock=queue), tmp_path)
    return commands


def interaction(recorder: Recorder, limit: int | None = None, channel: int = CHANNEL) -> SimpleNamespace:
    defer = AsyncMock(side_effect=lambda **_: recorder.order.append("defer"))
    guild = SimpleNamespace(filesize_limit=limit) if limit is not None else None
    return SimpleNamespace(channel_id=channel, guild=guild, response=SimpleNamespace(defer=defer),
                           followup=SimpleNamespace(send=AsyncMock()))


def call(tree, name: str, fake: SimpleNamespace, **options) -> list[dict]:
    """Run one command and return the keyword arguments of every follow-up it sent."""
    asyncio.run(tree.get_command(name).callback(fake, **options))
    fake.response.defer.assert_awaited_once_with(thinking=True)
    return [sent.kwargs for sent in fake.followup.send.await_args_list]


def names(sent: list[dict]) -> list[str]:
    return [f.filename for message in sent for f in message.get("files", [])]


def start(tree, recorder: Recorder, **options) -> list[dict]:
    return call(tree, "storyboard", interaction(recorder), scene=SCENE, frames=3, **options)


def test_defers_before_rendering_and_attaches_every_shot_and_the_grid(tree, recorder, tmp_path):
    sent = start(tree, recorder)
    assert recorder.order[0] == "defer" and recorder.order.count("render") >= 3
    assert len(sent) == 1 and "Night shift" in sent[0]["content"]
    assert all(isinstance(f, discord.File) for f in sent[0]["files"])
    assert sorted(names(sent)) == ["shot_0.png", "shot_1.png", "shot_2.png", "storyboard.png"]
    assert (tmp_path / f"{CHANNEL}" / "frames" / "shot_2.png").is_file()


def test_a_tiny_upload_limit_shrinks_the_grid_to_fit(tree, recorder, tmp_path):
    start(tree, recorder)
    grid = (tmp_path / f"{CHANNEL}" / "storyboard.png").read_bytes()
    limit = len(grid) // 3
    sent = call(tree, "status", interaction(recorder))  # status sends no images
    assert names(sent) == []
    sent = call(tree, "fix", interaction(recorder, limit=limit), text="frame 1: close-up")
    files = {f.filename: f for f in sent[0]["files"]}
    small = files.get("storyboard.png") or files["storyboard.jpg"]
    data = small.fp.read()
    assert len(data) <= limit
    (width, height), (full_width, full_height) = Image.open(io.BytesIO(data)).size, Image.open(io.BytesIO(grid)).size
    assert width < full_width and height < full_height


def test_shrink_falls_back_to_jpeg_and_gives_up_when_nothing_fits():
    noisy = Image.effect_noise((128, 128), 80).convert("RGB")
    buffer = io.BytesIO()
    noisy.save(buffer, "PNG")
    fitted = shrink(buffer.getvalue(), 6000)
    assert fitted is not None and fitted[1] == "jpg" and len(fitted[0]) <= 6000
    assert shrink(buffer.getvalue(), 50) is None


def test_fix_applies_a_correction_and_sends_only_what_changed(tree, recorder):
    start(tree, recorder)
    sent = call(tree, "fix", interaction(recorder), text="frame 1: close-up")
    assert "frame 1 is now a close-up" in sent[0]["content"]
    assert sorted(names(sent)) == ["shot_1.png", "storyboard.png"]


def test_a_bad_correction_comes_back_as_the_reply(tree, recorder):
    start(tree, recorder)
    sent = call(tree, "fix", interaction(recorder), text="frame 9: close-up")
    assert "no frame 9" in sent[0]["content"] and "files" not in sent[0]


def test_an_open_correction_comes_back_as_a_question(tree, recorder):
    start(tree, recorder)
    sent = call(tree, "fix", interaction(recorder), text="make it a close up")
    assert sent[0]["content"].startswith("Question: which frame should be a close-up?")
    assert "files" not in sent[0]


def test_pick_shows_another_candidate(tmp_path, recorder):
    _, commands = build_bot(lambda scene: Context(planner=RulesPlanner(), renderer=SketchRenderer()), tmp_path)
    start(commands, recorder)
    asyncio.run(commands.get_command("fix").callback(interaction(recorder), text="set candidates to 2"))
    sent = call(commands, "pick", interaction(recorder), frame=1, candidate=1)
    assert "frame 1 now shows candidate 1" in sent[0]["content"]
    assert "shot_1.png" in names(sent)


def test_export_finishes_and_then_corrections_are_refused(tree, recorder, tmp_path):
    start(tree, recorder)
    sent = call(tree, "export", interaction(recorder))
    assert "exported" in sent[0]["content"].lower()
    assert names(sent) == ["storyboard.png", "storyboard.json", "storyboard.pdf"]
    assert (tmp_path / f"{CHANNEL}" / "storyboard.json").is_file()
    assert "Not applied" in call(tree, "fix", interaction(recorder), text="frame 0: close-up")[0]["content"]


def test_export_with_formats_attaches_the_animatic_and_timeline(tree, recorder, tmp_path):
    start(tree, recorder)
    sent = call(tree, "export", interaction(recorder), formats="gif, otio")
    assert "(with gif, otio)" in sent[0]["content"]
    assert names(sent)[-2:] == ["animatic.gif", "timeline.otio"]


def test_a_file_too_big_to_attach_is_named_not_shrunk(tree, recorder):
    start(tree, recorder)
    sent = call(tree, "export", interaction(recorder, limit=2000))
    assert "storyboard.pdf" in sent[0]["content"] and "storyboard.pdf" not in names(sent)


def test_status_reports_frames_planner_renderer_and_queue(tree, recorder):
    start(tree, recorder)
    text = call(tree, "status", interaction(recorder))[0]["content"]
    assert "3 frames" in text and "planner rules" in text and "renderer sketch" in text
    assert "no render waits in the GPU queue" in text


def test_a_channel_without_a_session_gets_a_hint(tree, recorder):
    for name, options in (("fix", {"text": "frame 0: close-up"}), ("pick", {"frame": 0, "candidate": 1}),
                          ("export", {}), ("status", {})):
        sent = call(tree, name, interaction(recorder, channel=7), **options)
        assert sent == [{"content": NO_SESSION}]
    assert recorder.order == ["defer"] * 4


def test_a_broken_scene_is_explained_in_one_reply(tree, recorder):
    sent = call(tree, "storyboard", interaction(recorder), scene='title = "no description"')
    assert sent[0]["content"].startswith("Cannot start this scene") and "render" not in recorder.order


def test_a_scene_in_plain_words_starts_a_storyboard(tree, recorder):
    sent = call(tree, "storyboard", interaction(recorder), scene="A detective searches a dark office for a letter")
    assert sent[0]["content"].startswith("Storyboard started: A detective searches a dark office for a letter")
    assert sorted(names(sent)) == [f"shot_{i}.png" for i in range(6)] + ["storyboard.png"]


def attached(name: str, data: bytes, recorder: Recorder) -> SimpleNamespace:
    return SimpleNamespace(filename=name, size=len(data),
                           read=AsyncMock(side_effect=lambda: recorder.order.append("read") or data))


def test_an_attached_scene_file_is_read_after_the_defer(tree, recorder):
    sent = call(tree, "storyboard", interaction(recorder), file=attached("night.toml", SCENE.encode(), recorder))
    assert sent[0]["content"].startswith("Storyboard started: Night shift")
    assert len([n for n in names(sent) if n.startswith("shot_")]) == 5
    assert recorder.order[:3] == ["defer", "read", "render"]


@pytest.mark.parametrize(("name", "data", "expected"), [
    ("night.txt", SCENE.encode(), "expected a scene file or screenplay (.toml, .fountain)"),
    ("big.toml", b"#" * (1100 * 1024), "may be at most"),
])
def test_a_wrong_or_huge_attachment_is_refused_without_fetching_it(tree, recorder, name, data, expected):
    sent = call(tree, "storyboard", interaction(recorder), file=attached(name, data, recorder))
    assert expected in sent[0]["content"]
    assert recorder.order == ["defer"]


def test_an_attachment_discord_cannot_serve_is_explained(tree, recorder):
    file = attached("night.toml", SCENE.encode(), recorder)
    file.read = AsyncMock(side_effect=discord.NotFound(SimpleNamespace(status=404, reason="Not Found"), "gone"))
    sent = call(tree, "storyboard", interaction(recorder), file=file)
    assert sent[0]["content"].startswith("night.toml: could not fetch the file from Discord")


def test_words_and_a_file_together_or_a_correction_as_a_scene_are_refused(tree, recorder):
    both = call(tree, "storyboard", interaction(recorder), scene="A detective searches a dark office",
                file=attached("night.toml", SCENE.encode(), recorder))
    assert "not both" in both[0]["content"]
    fix = call(tree, "storyboard", interaction(recorder), scene="frame 2: close-up")
    assert "/fix" in fix[0]["content"] and "render" not in recorder.order


def test_an_attached_screenplay_draws_the_scene_asked_for_with_its_dialogue(tree, recorder, tmp_path):
    script = (ROOT / "tests" / "data" / "hamlet.fountain").read_bytes()
    sent = call(tree, "storyboard", interaction(recorder), file=attached("hamlet.fountain", script, recorder),
                number="2", frames=3)
    assert sent[0]["content"].startswith("Storyboard started: Hamlet: ")
    frames = json.loads((tmp_path / f"{CHANNEL}" / "storyboard.json").read_text())["frames"]
    assert len(frames) == 3 and any(f["dialogue"] for f in frames)
    missing = call(tree, "storyboard", interaction(recorder), file=attached("hamlet.fountain", script, recorder),
                   number="9")
    assert "Cannot start this scene" in missing[0]["content"] and "hamlet.fountain" in missing[0]["content"]


def test_no_scene_at_all_gets_a_hint(tree, recorder):
    sent = call(tree, "storyboard", interaction(recorder))
    assert sent == [{"content": NO_SCENE}]


def test_the_bot_takes_up_a_channel_kept_on_disk(tmp_path, recorder, tree):
    start(tree, recorder)
    _, again = build_bot(lambda scene: Context(planner=RulesPlanner(), renderer=SketchRenderer()), tmp_path)
    busy = call(again, "status", interaction(recorder))[0]["content"]  # the first bot still writes there
    assert "could not pick this storyboard up" in busy and f"process {os.getpid()}" in busy
    asyncio.run(tree.client.close())  # the first bot shuts down, releasing the channel's folder
    assert "3 frames" in call(again, "status", interaction(recorder))[0]["content"]


def test_the_command_without_a_token_exits_with_one_line(monkeypatch):
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    result = CliRunner().invoke(app, ["discord", "--renderer", "sketch"])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "DISCORD_TOKEN" in lines[0]


# --- hostile input ---------------------------------------------------------------------------------------


def test_a_lora_path_in_a_discord_scene_may_not_leave_the_library_folder(tmp_path, recorder):
    from tiny_models import write_lora
    from tools.files.roots import Roots

    library = tmp_path / "library"
    write_lora(library / "loras" / "kaito.safetensors", 1)
    secret = write_lora(tmp_path / "private" / "theirs.safetensors", 1)
    seen = []

    def context(scene):
        seen.append(scene)
        return Context(planner=RulesPlanner(), renderer=recorder.renderer())

    _, commands = build_bot(context, tmp_path / "out", lora_roots=Roots.around(library, "the model library's folder"))
    cast = '\n[[characters]]\nname = "kaitoyosuke"\nclass = "man"\nlora = "{}"\n'
    for lora in ("../private/theirs.safetensors", str(secret)):
        sent = call(commands, "storyboard", interaction(recorder), scene=SCENE + cast.format(lora))
        assert sent[0]["content"].startswith("Cannot start this scene: characters[0].lora")
        assert str(library) not in sent[0]["content"]
    assert "render" not in recorder.order and not seen
    call(commands, "storyboard", interaction(recorder), scene=SCENE + cast.format("loras/kaito.safetensors"))
    assert seen[0].characters[0].lora == str(library / "loras" / "kaito.safetensors")  # read from the library


def test_an_attachment_named_like_a_path_stays_in_its_channel_folder(tree, recorder, tmp_path):
    script = (ROOT / "tests" / "data" / "hamlet.fountain").read_bytes()
    sent = call(tree, "storyboard", interaction(recorder), file=attached("../../../evil.fountain", script, recorder),
                number="1", frames=2)
    assert sent[0]["content"].startswith("Storyboard started: Hamlet")
    assert (tmp_path / str(CHANNEL) / "screenplay.fountain").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [str(CHANNEL)]
    assert not list(tmp_path.parent.glob("evil*"))


@pytest.mark.parametrize(("options", "expected"), [
    ({"scene": SCENE, "frames": 500}, "at most"),
    ({"scene": "Kaito runs across the roof. " * 800}, "at most 20,000 characters"),
])
def test_huge_discord_scenes_are_refused(tree, recorder, options, expected):
    sent = call(tree, "storyboard", interaction(recorder), **options)
    assert expected in sent[0]["content"] and "render" not in recorder.order
