"""A session folder written by the release before the package restructuring still opens and takes corrections.

tests/data/previous_release was made with that release (9b7ed51):
`shotsmith run examples/investigation.toml --frames 4 --width 96 --height 64 --then "frame 2: close-up"`.
Its checkpoint names the state's models by module path, so this fails if one of them stops importing.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCENE = ROOT / "examples" / "investigation.toml"
MADE = ROOT / "tests" / "data" / "previous_release"


def test_a_session_from_the_previous_release_resumes(cli, tmp_path):
    out = tmp_path / "old"
    shutil.copytree(MADE, out)
    result = cli("run", SCENE, "--out", out, "--resume", "--then", "frame 2: close-up", "--then", "swap 1 and 3")
    assert result.exit_code == 0, result.output
    data = json.loads((out / "storyboard.json").read_text(encoding="utf-8"))
    assert data["corrections"] == ["frame 2: close-up", "swap 1 and 3"]
    assert len(data["frames"]) == 4
    assert [f["id"] for f in data["frames"]] == ["f0", "f3", "f2", "f1"]
    assert data["frames"][2]["shot_type"] == "close_up"
    assert (data["width"], data["height"]) == (96, 64)
    for frame in data["frames"]:
        assert (out / frame["image"]).is_file()
