"""Fixtures shared by every test: example scenes, a scene-file writer and the CLI runner."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli.app import app

os.environ["HF_HUB_OFFLINE"] = "1"  # tests never reach a model hub, whatever the machine allows
for _name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "SHOTSMITH_LLM_MODEL"):  # the rules planner unless a test asks
    os.environ.pop(_name, None)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))


def pytest_collection_modifyitems(config, items):
    """Skip tests marked gpu where no CUDA device is present (torch is imported only if one exists)."""
    if not any("gpu" in item.keywords for item in items):
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def write_scene(tmp_path):
    """Return a function that writes TOML text to a scene file and returns its path."""
    def write(text: str, name: str = "scene.toml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path
    return write


@pytest.fixture
def cli():
    """Return a function that runs the shotsmith command and returns the click Result."""
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
    return invoke


@pytest.fixture(scope="session")
def tiny_sd(tmp_path_factory) -> Path:
    """A tiny random SD 1.5 pipeline saved as a diffusers folder (built once per test run)."""
    from tiny_models import write_sd_folder

    return write_sd_folder(tmp_path_factory.mktemp("tiny_sd") / "model")


@pytest.fixture(scope="session")
def tiny_sd_file(tiny_sd, tmp_path_factory) -> Path:
    """The same tiny pipeline as one original-layout .safetensors checkpoint (load it with config=tiny_sd)."""
    from tiny_models import write_sd_single_file

    return write_sd_single_file(tiny_sd, tmp_path_factory.mktemp("tiny_sd_file") / "tiny.safetensors")


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory) -> Path:
    """A tiny random CLIP model and processor saved as a folder (built once per test run)."""
    from tiny_models import write_clip_folder

    return write_clip_folder(tmp_path_factory.mktemp("tiny_clip") / "clip")


@pytest.fixture(scope="session")
def tiny_sam(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny SAM checkpoint (.pth) and the JSON file of its sizes (built once per test run)."""
    from tiny_sam import write_tiny_sam

    return write_tiny_sam(tmp_path_factory.mktemp("tiny_sam"))


@pytest.fixture(scope="session")
def tiny_inpaint(tmp_path_factory) -> Path:
    """A tiny 9-channel inpainting pipeline saved as a diffusers folder (built once per test run)."""
    from tiny_inpaint import write_inpaint_folder

    return write_inpaint_folder(tmp_path_factory.mktemp("tiny_inpaint") / "inpaint")
