"""A character's description reaches the prompts that show them (a few words, beside the token) and dresses the
sketch's figure in the colour it names."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from agent.scenes.scene_file import load_scene
from graphs.frames.rendering import job_for
from graphs.planning.planner import RulesPlanner
from graphs.state import Frame, Settings
from prompts.costume import COLOURS, MOST_WORDS, costume_colour, look_parts
from prompts.lint import lint_plan
from tools.render.sketch import PALETTE, SketchRenderer, render_frame

INVESTIGATION = Path(__file__).resolve().parents[3] / "examples" / "investigation.toml"


@pytest.mark.parametrize(("description", "colour"), [
    ("grey trench coat, tired eyes", "grey"), ("red scarf, short hair", "red"),
    ("blonde hair, a navy blue jacket", "navy"), ("white hair and a black coat", "black"),
    ("tall and quiet", None), ("", None),
])
def test_the_colour_goes_with_the_clothes(description, colour):
    assert costume_colour(description) == (COLOURS[colour] if colour else None)


def test_a_prompt_carries_only_the_first_few_words_of_a_look():
    assert look_parts("grey trench coat, tired eyes") == ["grey trench coat", "tired eyes"]
    long = look_parts("a long grey trench coat with brass buttons, tired eyes, a limp, an old scar on the chin")
    assert sum(len(part.split()) for part in long) <= MOST_WORDS
    assert look_parts("") == []
    assert look_parts("grey trench coat, tired eyes", face_only=True) == ["tired eyes"]
    assert look_parts("red scarf, short hair", face_only=True) == ["red scarf", "short hair"]


@pytest.mark.parametrize("frames", [1, 3, 8, 12, 24])
def test_every_prompt_showing_someone_carries_their_look_beside_the_token(frames):
    scene = load_scene(INVESTIGATION, {"frames": frames})
    specs = RulesPlanner().plan(scene)
    assert lint_plan(specs, scene.characters) == []
    looks = {"kaitoyosuke": "kaitoyosuke man", "jiyeonmun": "jiyeonmun woman"}
    coats = {"kaitoyosuke": "grey trench coat", "jiyeonmun": "red scarf"}
    faces = {"kaitoyosuke": "tired eyes", "jiyeonmun": "red scarf"}
    for spec in specs:
        for person in spec.characters:
            sentence = next(s for s in spec.prompt.split(". ") if s.startswith(looks[person.name]))
            if spec.shot_type == "extreme_close_up":  # the face fills the frame: no coat, but a scarf still
                assert faces[person.name] in sentence and "coat" not in sentence, spec.prompt
                continue
            assert coats[person.name] in sentence, spec.prompt
            assert sentence.index(coats[person.name]) < len(looks[person.name]) + 30, "kept near the token"


def test_the_sketch_dresses_each_figure_in_the_colour_its_description_names():
    scene = load_scene(INVESTIGATION, {"shots": [7]})
    spec = RulesPlanner().plan(scene)[0]
    looks = {c.name: costume_colour(c.description) for c in scene.characters}
    frame = Frame(id="f0", spec=spec)
    job = job_for(frame, Settings(width=160, height=96), scene.characters)
    picture, info = render_frame(job, spec.seed)
    for person in spec.characters:
        wanted = looks[person.name]
        assert tuple(info["figure_colours"][person.name]) == wanted
        assert picture.getcolors(160 * 96) and any(colour == wanted for _, colour in picture.getcolors(160 * 96))
    plain = job_for(frame, Settings(width=160, height=96), [c.model_copy(update={"description": ""})
                                                            for c in scene.characters])
    _, before = render_frame(plain, spec.seed)
    assert all(tuple(c) in PALETTE for c in before["figure_colours"].values()), "no description, the cast colours"


def test_the_sketch_labels_each_figure_with_the_name_people_read():
    scene = load_scene(INVESTIGATION, {"shots": [7]})
    spec = RulesPlanner().plan(scene)[0]
    frame = Frame(id="f0", spec=spec)
    job = job_for(frame, Settings(width=160, height=96), scene.characters)
    assert {f.name: f.label for f in job.figures} == {"jiyeonmun": "Ji-yeon", "kaitoyosuke": "Kaito"}
    token_labels = replace(job, figures=tuple(replace(f, label="") for f in job.figures))
    labelled, info = render_frame(job, spec.seed)
    plain, _ = render_frame(token_labels, spec.seed)
    assert labelled.tobytes() != plain.tobytes(), "the label text is drawn from the display name"
    assert [f["name"] for f in info["figures"]] == [f.name for f in job.figures], "layout facts keep the tokens"
    renderer = SketchRenderer()
    assert renderer.key_parts(job) != renderer.key_parts(token_labels)
    assert "label" not in renderer.key_parts(token_labels)["figures"][0], "a board without display names keys as before"


def test_an_insert_at_another_size_still_draws_its_object():
    scene = load_scene(INVESTIGATION, {"shots": [9]})
    spec = RulesPlanner().plan(scene)[0]
    assert spec.subject and not spec.characters
    close = spec.model_copy(update={"shot_type": "close_up"})
    job = job_for(Frame(id="f0", spec=close), Settings(width=160, height=96), scene.characters)
    _, info = render_frame(job, spec.seed)
    assert "subject_label_box" in info, "the notebook is drawn, not an empty sky"
