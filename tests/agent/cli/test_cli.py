"""The shotsmith command end to end: run, plan and lint, the files a run writes, and corrections that change
only the frames they name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli.app import app

ROOT = Path(__file__).resolve().parents[3]
SCENE = ROOT / "examples" / "investigation.toml"
FRAMES = 8


def one_error_line(result, code: int = 2) -> str:
    """Check a failed command printed exactly one non-empty line on stderr and no traceback."""
    assert result.exit_code == code, (result.exit_code, result.output)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].strip()
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    return lines[0]


def invoke(*args) -> object:
    """Run the command catching exceptions, so a crash shows up as a failed assertion, not an error."""
    return CliRunner().invoke(app, [str(a) for a in args])


def no_crash(result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


def document(out: Path) -> dict:
    return json.loads((out / "storyboard.json").read_text(encoding="utf-8"))


def shots(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((out / "frames").glob("shot_*.png"))}


def versions(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((out / "frames" / "versions").glob("*.png"))}


def without(files: dict[str, bytes], *indices: int) -> dict[str, bytes]:
    names = {f"shot_{i}.png" for i in indices}
    return {k: v for k, v in files.items() if k not in names}


@pytest.fixture
def board(cli, tmp_path):
    """Render the example scene once; return its output folder."""
    out = tmp_path / "out"
    result = cli("run", SCENE, "--out", out)
    assert result.exit_code == 0, result.output
    return out


def correct(cli, out: Path, *corrections: str):
    args = ["run", SCENE, "--out", out, "--resume"]
    for text in corrections:
        args += ["--then", text]
    return cli(*args)


# --- help ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["run", "plan", "lint"])
def test_help(cli, command):
    result = cli(command, "--help")
    assert result.exit_code == 0
    assert "Usage" in result.output


def test_run_help_lists_the_options(cli):
    output = cli("run", "--help").output
    for option in ("--out", "--frames", "--shots", "--planner", "--renderer", "--then", "--resume"):
        assert option in output


# --- run: the files it writes -------------------------------------------------------------------------


def test_run_writes_frames_sheet_and_document(board):
    out = board
    assert sorted(shots(out)) == [f"shot_{i}.png" for i in range(FRAMES)]
    assert (out / "storyboard.png").is_file()
    data = document(out)
    assert data["title"] == "House investigation"
    assert data["planner"] == "rules"
    assert data["renderer"] == "sketch"
    assert data["corrections"] == []
    assert [f["index"] for f in data["frames"]] == list(range(FRAMES))
    for i, frame in enumerate(data["frames"]):
        for key in ("shot_type", "prompt", "negative_prompt", "characters", "setting", "lighting", "seed",
                    "image", "versions", "lint", "critique"):
            assert key in frame, key
        assert frame["prompt"] and frame["negative_prompt"] and frame["setting"] and frame["lighting"]
        assert isinstance(frame["seed"], int)
        for person in frame["characters"]:
            assert set(person) >= {"name", "class", "position"}
            assert person["position"] in ("left", "centre", "right")
        assert frame["image"] == f"frames/shot_{i}.png"
        assert (out / frame["image"]).read_bytes() == (out / frame["versions"][-1]["path"]).read_bytes()
        assert len(frame["versions"]) == 1
        assert frame["lint"] == []
        assert frame["critique"]["scorer"] is None
        assert frame["critique"]["note"]


def test_run_leaves_no_temporary_files(board):
    leftovers = [p for p in board.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


def test_run_summary(cli, tmp_path):
    result = cli("run", SCENE, "--out", tmp_path / "o", "--frames", "2")
    assert result.exit_code == 0
    assert "2 frames by the rules planner" in result.output
    assert "2 rendered, 0 reused from files already on disk" in result.output


def test_frames_option(cli, tmp_path):
    out = tmp_path / "o"
    result = cli("run", SCENE, "--out", out, "--frames", "3")
    assert result.exit_code == 0, result.output
    assert len(document(out)["frames"]) == 3
    assert sorted(shots(out)) == ["shot_0.png", "shot_1.png", "shot_2.png"]


def test_shots_option_is_followed_exactly(cli, tmp_path):
    out = tmp_path / "o"
    result = cli("run", SCENE, "--out", out, "--shots", "2,3,8")
    assert result.exit_code == 0, result.output
    frames = document(out)["frames"]
    assert [f["shot_number"] for f in frames] == [2, 3, 8]
    assert [f["shot_type"] for f in frames] == ["close_up", "medium_close_up", "extreme_long"]
    assert len(shots(out)) == 3


@pytest.mark.parametrize("value", ["x", "2,x", "0", "2,10", ","])
def test_bad_shots_option(cli, tmp_path, value):
    line = one_error_line(cli("run", SCENE, "--out", tmp_path / "o", "--shots", value))
    assert "shots" in line
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("value", ["0", "-3", "201"])
def test_bad_frames_option(cli, tmp_path, value):
    line = one_error_line(cli("run", SCENE, "--out", tmp_path / "o", "--frames", value))
    assert "frames" in line


def test_openai_planner_without_a_key_or_url(cli, tmp_path):
    line = one_error_line(cli("run", SCENE, "--out", tmp_path / "o", "--planner", "openai"))
    assert "--planner openai" in line and "OPENAI_API_KEY" in line and "OPENAI_BASE_URL" in line


def test_diffusers_without_a_library(cli, tmp_path):
    line = one_error_line(cli("run", SCENE, "--out", tmp_path / "o", "--renderer", "diffusers"))
    assert "--renderer diffusers" in line and "library.toml" in line


@pytest.mark.parametrize(("option", "value"), [("--planner", "magic"), ("--renderer", "oil-paint")])
def test_unknown_backends(cli, tmp_path, option, value):
    line = one_error_line(cli("run", SCENE, "--out", tmp_path / "o", option, value))
    assert option in line and "expected" in line


@pytest.mark.parametrize(("option", "value"), [("--width", "100"), ("--height", "4096")])
def test_bad_size(cli, tmp_path, option, value):
    line = one_error_line(cli("run", SCENE, "--out", tmp_path / "o", option, value))
    assert option in line


def test_explicit_backends(cli, tmp_path):
    out = tmp_path / "o"
    result = cli("run", SCENE, "--out", out, "--frames", "2", "--planner", "rules", "--renderer", "sketch")
    assert result.exit_code == 0, result.output
    assert (document(out)["planner"], document(out)["renderer"]) == ("rules", "sketch")


# --- plan and lint ------------------------------------------------------------------------------------


def test_plan_prints_frame_specs(cli):
    result = cli("plan", SCENE)
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["title"] == "House investigation"
    assert len(data["frames"]) == FRAMES
    for frame in data["frames"]:
        assert {"index", "shot_type", "prompt", "negative_prompt", "characters", "setting", "lighting",
                "seed"} <= set(frame)


def test_plan_matches_run(cli, board):
    planned = json.loads(cli("plan", SCENE).stdout)["frames"]
    rendered = document(board)["frames"]
    assert [(f["shot_type"], f["prompt"], f["seed"]) for f in planned] == \
        [(f["shot_type"], f["prompt"], f["seed"]) for f in rendered]


def test_plan_with_shots(cli):
    data = json.loads(cli("plan", SCENE, "--shots", "9,1").stdout)
    assert [f["shot_type"] for f in data["frames"]] == ["detail", "extreme_close_up"]


def test_plan_with_openai_planner_needs_a_key_or_url(cli):
    line = one_error_line(cli("plan", SCENE, "--planner", "openai"))
    assert "OPENAI_API_KEY" in line


def test_lint_clean_plan(cli, tmp_path):
    plan = tmp_path / "plan.json"
    plan.write_text(cli("plan", SCENE).stdout, encoding="utf-8")
    result = cli("lint", plan)
    assert result.exit_code == 0
    assert "0 violations" in result.output


def test_lint_clean_storyboard(cli, board):
    result = cli("lint", board / "storyboard.json")
    assert result.exit_code == 0
    assert "0 violations" in result.output


def test_lint_reports_violations(cli, board, tmp_path):
    data = document(board)
    data["frames"][2]["shot_type"] = "sideways"
    data["frames"][5]["prompt"] = "Something happens somewhere."
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(data), encoding="utf-8")
    result = cli("lint", broken)
    assert result.exit_code == 1
    assert "frame 2, rule" in result.stdout
    assert "frame 5, rule" in result.stdout
    assert "0 violations" not in result.stdout


def test_lint_missing_file(cli, tmp_path):
    line = one_error_line(cli("lint", tmp_path / "nope.json"))
    assert "nope.json" in line


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"frames": 3}', '{"frames": [{"prompt": 1}]}'])
def test_lint_unreadable_document(cli, tmp_path, text):
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    one_error_line(cli("lint", path))


# --- corrections change only the frames they name -----------------------------------------------------


def test_set_shot_changes_only_that_frame(cli, board):
    before, kept = shots(board), versions(board)
    result = correct(cli, board, "frame 3: close-up")
    assert result.exit_code == 0, result.output
    after = shots(board)
    assert after["shot_3.png"] != before["shot_3.png"]
    assert without(after, 3) == without(before, 3)
    data = document(board)
    assert data["frames"][3]["shot_type"] == "close_up"
    assert data["corrections"] == ["frame 3: close-up"]
    assert len(data["frames"][3]["versions"]) == 2
    assert (board / data["frames"][3]["versions"][0]["path"]).is_file()
    # every earlier version is still on disk, unchanged
    now = versions(board)
    assert {k: now[k] for k in kept} == kept
    assert len(now) == len(kept) + 1


@pytest.mark.parametrize("word", ["2", "Close-up", "medium shot", "9"])
def test_set_shot_by_number_or_name(cli, tmp_path, word):
    out = tmp_path / "o"
    assert cli("run", SCENE, "--out", out, "--frames", "2", "--then", f"frame 0: {word}").exit_code == 0
    number = {"2": 2, "Close-up": 2, "medium shot": 4, "9": 9}[word]
    assert document(out)["frames"][0]["shot_number"] == number


def test_regenerate_changes_only_that_frame(cli, board):
    before, kept = shots(board), versions(board)
    seed = document(board)["frames"][5]["seed"]
    assert correct(cli, board, "regenerate 5").exit_code == 0
    after = shots(board)
    assert without(after, 5) == without(before, 5)
    frame = document(board)["frames"][5]
    assert frame["seed"] != seed
    assert [v["seed"] for v in frame["versions"]] == [seed, frame["seed"]]
    assert after["shot_5.png"] == (board / frame["versions"][1]["path"]).read_bytes()
    now = versions(board)
    assert {k: now[k] for k in kept} == kept and len(now) == len(kept) + 1


def test_regenerate_draws_a_new_picture(cli, tmp_path):
    """In a scene with scenery the sketch renderer draws from the seed, so a new seed shows."""
    out = tmp_path / "o"
    chase = ROOT / "examples" / "chase.toml"
    assert cli("run", chase, "--out", out, "--shots", "8,8").exit_code == 0
    before = shots(out)
    assert cli("run", chase, "--out", out, "--resume", "--then", "regenerate 1").exit_code == 0
    after = shots(out)
    assert after["shot_1.png"] != before["shot_1.png"]
    assert after["shot_0.png"] == before["shot_0.png"]


def test_regenerate_all_touches_every_frame(cli, board):
    old = document(board)["frames"]
    assert correct(cli, board, "regenerate all").exit_code == 0
    new = document(board)["frames"]
    assert len(new) == len(old)
    for a, b in zip(old, new):
        assert b["seed"] != a["seed"]
        assert len(b["versions"]) == 2
    assert len(versions(board)) == 2 * FRAMES


def test_rewrite_changes_only_that_frame(cli, board):
    before = shots(board)
    text = "Medium shot of kaitoyosuke man reading a torn letter by flashlight in an abandoned house, dim night light."
    assert correct(cli, board, f"frame 2: {text}").exit_code == 0
    after = shots(board)
    assert without(after, 2) == without(before, 2)
    frame = document(board)["frames"][2]
    assert "reading a torn letter by flashlight" in frame["prompt"]
    assert frame["written_by"] == "person"
    assert len(frame["versions"]) == 2
    assert after["shot_2.png"] == (board / frame["versions"][1]["path"]).read_bytes()


def test_swap_changes_only_the_two_frames(cli, board):
    before, old = shots(board), document(board)["frames"]
    assert correct(cli, board, "swap 2 and 4").exit_code == 0
    after, new = shots(board), document(board)["frames"]
    assert without(after, 2, 4) == without(before, 2, 4)
    assert (new[2]["id"], new[4]["id"]) == (old[4]["id"], old[2]["id"])
    assert (new[2]["prompt"], new[4]["prompt"]) == (old[4]["prompt"], old[2]["prompt"])


def test_remove_drops_the_frame_and_the_last_file(cli, board):
    before, old = shots(board), document(board)["frames"]
    assert correct(cli, board, "remove 6").exit_code == 0
    after, new = shots(board), document(board)["frames"]
    assert not (board / "frames" / "shot_7.png").exists()
    assert sorted(after) == [f"shot_{i}.png" for i in range(FRAMES - 1)]
    assert {f"shot_{i}.png": after[f"shot_{i}.png"] for i in range(6)} == \
        {f"shot_{i}.png": before[f"shot_{i}.png"] for i in range(6)}
    assert [f["id"] for f in new] == [f["id"] for f in old if f["index"] != 6]
    assert [f["index"] for f in new] == list(range(FRAMES - 1))


def test_undo_restores_the_earlier_bytes(cli, board):
    before, kept = shots(board), versions(board)
    assert correct(cli, board, "frame 3: close-up").exit_code == 0
    changed = shots(board)
    assert changed["shot_3.png"] != before["shot_3.png"]
    result = correct(cli, board, "undo")
    assert result.exit_code == 0, result.output
    assert shots(board) == before
    assert "0 rendered" in result.output
    data = document(board)
    assert data["frames"][3]["shot_type"] != "close_up"
    # the undone version is still on disk
    assert len(versions(board)) == len(kept) + 1


def test_unknown_correction_changes_nothing(cli, board):
    before, data = shots(board), (board / "storyboard.json").read_bytes()
    result = correct(cli, board, "make it more moody")
    line = one_error_line(result, code=1)
    assert line.startswith("error: ")
    assert shots(board) == before
    assert (board / "storyboard.json").read_bytes() == data


@pytest.mark.parametrize("text", ["frame 8: close-up", "remove 99", "swap 1 and 12", "undo"])
def test_inapplicable_correction_changes_nothing(cli, board, text):
    before, data = shots(board), (board / "storyboard.json").read_bytes()
    line = one_error_line(correct(cli, board, text), code=1)
    assert line.startswith("error: ")
    assert shots(board) == before
    assert (board / "storyboard.json").read_bytes() == data


def test_a_question_stops_the_run_and_changes_nothing(cli, board):
    before, data = shots(board), (board / "storyboard.json").read_bytes()
    result = correct(cli, board, "make it a close up")
    assert result.exit_code == 1
    assert "question: which frame should be a close-up?" in result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "question" in lines[0]
    assert shots(board) == before
    assert (board / "storyboard.json").read_bytes() == data


def test_corrections_stop_at_the_first_error(cli, tmp_path):
    out = tmp_path / "o"
    result = cli("run", SCENE, "--out", out, "--frames", "3",
                 "--then", "regenerate 0", "--then", "nonsense", "--then", "regenerate 1")
    assert result.exit_code == 1
    assert document(out)["corrections"] == ["regenerate 0"]


def test_correction_after_export_is_a_clear_error(tmp_path):
    """Once `export` finished the session, a further correction must be refused with one line, not a traceback."""
    result = invoke("run", SCENE, "--out", tmp_path / "o", "--frames", "2", "--then", "export", "--then", "undo")
    no_crash(result)
    assert result.exit_code in (1, 2)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")


# --- operator mistakes that must not end in a traceback -----------------------------------------------


@pytest.mark.parametrize("text", ['{"frames": [1]}', '{"frames": ["a prompt"]}', '{"frames": [], "characters": 5}',
                                  '{"frames": [], "characters": [1]}'])
def test_lint_malformed_document_is_one_line(tmp_path, text):
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    result = invoke("lint", path)
    no_crash(result)
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1


def test_out_naming_a_file_is_one_line(tmp_path):
    out = tmp_path / "taken"
    out.write_text("not a folder", encoding="utf-8")
    result = invoke("run", SCENE, "--out", out, "--frames", "1")
    no_crash(result)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "taken" in lines[0]


@pytest.mark.parametrize("folder", ["take[draft]", "a[/]b", "[bold]x"])
def test_summary_shows_the_real_output_path(tmp_path, folder):
    """Folder names are printed as they are, never read as console markup."""
    out = tmp_path / folder
    result = invoke("run", SCENE, "--out", out, "--frames", "1")
    no_crash(result)
    assert result.exit_code == 0
    assert (out / "storyboard.json").is_file()
    assert str(out / "storyboard.json") in result.stdout
