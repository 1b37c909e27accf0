"""Fixtures shared by every test: example scenes, a scene-file writer and the CLI runner."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app

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
