"""Fountain screenplays: scenes, speeches and cast read from a script, and a scene turned into a storyboard Scene."""

from __future__ import annotations

import textwrap
from collections import Counter
from pathlib import Path

import pytest

from agent.errors import SceneError
from agent.scenes.screenplay import read_cast, read_screenplay, scene_from_screenplay
from graphs.planning.beats import split_sentences
from graphs.planning.dialogue import attach, speaker_token
from graphs.planning.planner import RulesPlanner
from graphs.state import Scene

HAMLET = Path(__file__).resolve().parents[2] / "data" / "hamlet.fountain"
SCENE_ONE = ["BARNARDO", "FRANCISCO", "HORATIO", "MARCELLUS"]


def write(folder: Path, text: str, name: str = "script.fountain") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def said(scene) -> list[tuple[str, str]]:
    return [(speech.character, speech.text) for speech in scene.speeches]


# Reading the Hamlet excerpt

def test_hamlet_has_two_scenes_with_their_headings():
    scenes = read_screenplay(HAMLET)
    assert [s.heading for s in scenes] == ["EXT. ELSINORE CASTLE - PLATFORM - NIGHT",
                                          "EXT. ELSINORE CASTLE - PLATFORM - DAWN"]
    assert [(s.number, s.label, s.int_ext, s.place, s.time) for s in scenes] == [
        (1, "1", "EXT", "ELSINORE CASTLE - PLATFORM", "NIGHT"), (2, "2", "EXT", "ELSINORE CASTLE - PLATFORM", "DAWN")]


def test_characters_are_listed_in_the_order_they_first_speak():
    first, second = read_screenplay(HAMLET)
    assert first.characters == SCENE_ONE
    assert second.characters == ["HORATIO", "MARCELLUS", "BARNARDO"]


def test_speeches_keep_speaker_and_words():
    first, second = read_screenplay(HAMLET)
    assert (len(first.speeches), len(second.speeches)) == (44, 12)
    lines = said(first)
    assert lines[0] == ("BARNARDO", "Who's there?")
    assert lines[1] == ("FRANCISCO", "Nay, answer me. Stand and unfold yourself.")
    assert lines[7] == ("FRANCISCO", "For this relief much thanks. 'Tis bitter cold, And I am sick at heart.")
    assert lines[-1] == ("HORATIO", "As thou art to thyself: Such was the very armour he had on When he "
                                    "th'ambitious Norway combated; So frown'd he once, when in an angry parle "
                                    "He smote the sledded Polacks on the ice. 'Tis strange.")
    assert said(second)[-1] == ("MARCELLUS", "Let's do't, I pray, and I this morning know Where we shall find "
                                             "him most conveniently.")


def test_parentheticals_extensions_and_dual_dialogue():
    first, second = read_screenplay(HAMLET)
    low = next(s for s in first.speeches if s.parenthetical == "low")
    assert (low.character, low.text) == ("MARCELLUS", "Peace, break thee off. Look where it comes again.")
    assert next(s for s in first.speeches if s.parenthetical == "to the Ghost").character == "HORATIO"
    offstage = [(s.character, s.extensions) for s in first.speeches if s.extensions]
    assert offstage == [("HORATIO", ["O.S."]), ("MARCELLUS", ["O.S."])]
    assert second.speeches[1].extensions == ["CONT'D"] and second.speeches[1].character == "HORATIO"
    assert said(second)[4:6] == [("BARNARDO", "'Tis here!"), ("HORATIO", "'Tis here!")]  # a dual dialogue pair


def test_action_is_the_stage_directions_with_emphasis_removed():
    first, second = read_screenplay(HAMLET)
    assert first.action == ["Enter FRANCISCO and BARNARDO, two sentinels.", "Enter HORATIO and MARCELLUS.",
                            "Exit FRANCISCO.", "Enter Ghost.", "Exit Ghost."]
    assert second.action == ["Re-enter Ghost.", "The cock crows.", "Exit Ghost.", "Exeunt."]


def test_notes_and_boneyard_never_show():
    scenes = read_screenplay(HAMLET)
    text = " ".join(" ".join(s.action + [x.text + " " + x.parenthetical for x in s.speeches]) for s in scenes)
    for hidden in ("Gutenberg", "Cut for", "Good now, sit down", "public domain", "[[", "/*", "*"):
        assert hidden not in text


def test_notes_and_boneyard_do_not_end_a_speech(tmp_path):
    path = write(tmp_path, """
        INT. ROOM - DAY

        BOB
        Hello.
        [[check this line]]
        Still me.
        /* an old line */
        And me.

        He sits.
        """)
    scene = read_screenplay(path)[0]
    assert said(scene) == [("BOB", "Hello. Still me. And me.")]
    assert scene.action == ["He sits."]


def test_speeches_are_placed_after_the_action_sentence_they_follow():
    first, _ = read_screenplay(HAMLET)
    where = {speech.text: speech.after for speech in first.speeches}
    assert where["Who's there?"] == 0
    assert where["I think I hear them. Stand, ho! Who is there?"] == 1
    assert where["Holla, Barnardo!"] == 2
    assert where["In the same figure, like the King that's dead."] == 3
    assert where["'Tis gone, and will not answer."] == 4


def test_a_speech_before_any_action_comes_before_the_first_sentence(tmp_path):
    path = write(tmp_path, """
        EXT. STREET - DAY

        ANA
        Wait!

        Ana runs. The bus leaves

        ANA
        No.
        """)
    scene = read_screenplay(path)[0]
    assert scene.action == ["Ana runs. The bus leaves."]  # a paragraph without an end mark gets one
    assert [s.after for s in scene.speeches] == [-1, 1]


def test_crlf_and_cr_line_ends_read_the_same(tmp_path):
    text = HAMLET.read_text(encoding="utf-8")
    expected = read_screenplay(HAMLET)
    for newline in ("\r\n", "\r"):
        path = tmp_path / "hamlet.fountain"
        path.write_bytes(text.replace("\n", newline).encode("utf-8"))
        assert read_screenplay(path) == expected
        assert scene_from_screenplay(path, 1) == scene_from_screenplay(HAMLET, 1)


def test_a_one_line_capitals_speech_stays_a_speech(tmp_path):
    path = write(tmp_path, """
        INT. ROOM - NIGHT

        BOB
        NO.

        He leaves.

        ANA
        STOP.
        Please.
        """)
    scene = read_screenplay(path)[0]
    assert said(scene) == [("BOB", "NO."), ("ANA", "STOP. Please.")]
    assert scene.action == ["He leaves."]


def test_stacked_extensions_and_mid_speech_directions(tmp_path):
    path = write(tmp_path, """
        INT. ROOM - NIGHT

        BOB (O.S.) (CONT'D)
        (quietly)
        Hello.
        (louder)
        Anyone?
        (beat)
        """)
    speeches = read_screenplay(path)[0].speeches
    assert [(s.character, s.extensions, s.parenthetical, s.text) for s in speeches] == [
        ("BOB", ["O.S.", "CONT'D"], "quietly", "Hello."), ("BOB", ["O.S.", "CONT'D"], "louder", "Anyone? (beat)")]


def test_sung_lines_join_the_speech_and_transitions_are_left_out(tmp_path):
    path = write(tmp_path, """
        INT. BAR - NIGHT

        BOB
        Listen.
        ~Happy birthday to you

        ~A song on the radio

        He drinks.

        CUT TO:

        >THE END<
        """)
    scene = read_screenplay(path)[0]
    assert said(scene) == [("BOB", "Listen. Happy birthday to you")]
    assert scene.action == ["He drinks."]


def test_cues_outside_ascii_are_speakers(tmp_path):
    path = write(tmp_path, """
        INT. CAFÉ - DAY

        ZOË (V.O.)
        Bonjour.

        JOSÉ
        Hola.
        """)
    scene = scene_from_screenplay(path, 1)
    assert [(s.character, s.text) for s in scene.dialogue] == [("ZOË", "Bonjour."), ("JOSÉ", "Hola.")]
    assert [(c.name, c.aliases) for c in scene.characters] == [("zoe", ["Zoë", "ZOË"]), ("jose", ["José", "JOSÉ"])]


# Turning a scene into a Scene

def test_hamlet_scene_maps_to_a_storyboard_scene():
    scene = scene_from_screenplay(HAMLET, 1)
    script = read_screenplay(HAMLET)[0]
    assert scene.title == "Hamlet: EXT. ELSINORE CASTLE - PLATFORM - NIGHT"
    assert scene.description == " ".join(script.action)
    assert (scene.setting, scene.lighting, scene.frames) == ("the platform at elsinore castle", "cold moonlight", 12)
    assert [c.name for c in scene.characters] == ["barnardo", "francisco", "horatio", "marcellus"]
    assert {c.class_word for c in scene.characters} == {"person"}
    assert scene.characters[2].aliases == ["Horatio", "HORATIO"]
    assert [(d.character, d.text, d.parenthetical, d.after) for d in scene.dialogue] == [
        (s.character, s.text, s.parenthetical, s.after) for s in script.speeches]
    assert max(d.after for d in scene.dialogue) < len(split_sentences(scene.description))
    assert Scene.model_validate(scene.model_dump()) == scene
    assert scene_from_screenplay(HAMLET, 2).lighting == "pale dawn light"


def test_headings_give_setting_and_light(tmp_path):
    path = write(tmp_path, """
        INT. HOUSE - KITCHEN - DAY #10#

        Ana cooks.

        EXT. STREET - CONTINUOUS #11#

        Ana runs.

        INT. JOHN'S APARTMENT - NIGHT #12#

        John sleeps.

        .DREAM SEQUENCE #12A#

        John floats.
        """)
    scenes = read_screenplay(path)
    assert [s.label for s in scenes] == ["10", "11", "12", "12A"]
    got = [(s.setting, s.lighting) for s in (scene_from_screenplay(path, label) for label in (10, 11, 12, "12a"))]
    assert got == [("the kitchen in the house", "soft daylight"), ("the street", "soft daylight"),
                   ("john's apartment", "dim night light"), ("the dream sequence", "")]
    with pytest.raises(SceneError, match="no scene 1;"):  # a numbered script is picked by its numbers
        scene_from_screenplay(path, 1)


def test_frame_count_follows_the_scene_size(tmp_path):
    path = write(tmp_path, """
        INT. ROOM - DAY

        Ana waits.

        ANA
        Well?
        """)
    assert scene_from_screenplay(path, 1).frames == 3
    assert scene_from_screenplay(path, 1, frames=7).frames == 7
    assert scene_from_screenplay(HAMLET, 2).frames == 10  # four action sentences and twelve speeches


def test_a_scene_without_action_is_described_by_who_speaks(tmp_path):
    path = write(tmp_path, """
        INT. LIBRARY - NIGHT

        HORATIO
        Who goes there?

        MARCELLUS
        A friend.

        HORATIO
        Come in.
        Sit.

        EXT. GATE - NIGHT
        """)
    scene = scene_from_screenplay(path, 1)
    assert scene.description == "Horatio speaks. Marcellus answers Horatio. Horatio answers Marcellus."
    assert [d.after for d in scene.dialogue] == [0, 1, 2]
    empty = scene_from_screenplay(path, 2)
    assert (empty.description, empty.dialogue, empty.characters) == ("The gate.", [], [])


def test_tokens_come_from_the_names(tmp_path):
    path = write(tmp_path, """
        INT. HALL - DAY

        MRS. HUDSON
        Tea?

        R2D2
        Beep.

        BOB
        Yes.

        B.O.B.
        No.
        """)
    assert [c.name for c in scene_from_screenplay(path, 1).characters] == ["mrshudson", "r2d2", "bob", "bob2"]


def test_a_cast_file_gives_tokens_class_words_and_loras(tmp_path):
    cast = write(tmp_path, """
        [characters.HORATIO]
        token = "horatiosk"
        class = "man"
        lora = "loras/horatio.safetensors"
        description = "young scholar in a dark cloak"

        [characters.Ghost]
        class = "ghost"

        [characters.OPHELIA]
        class = "woman"
        """, "cast/cast.toml")
    scene = scene_from_screenplay(HAMLET, 1, cast_file=cast)
    people = {c.name: c for c in scene.characters}
    assert list(people) == ["barnardo", "francisco", "horatiosk", "marcellus", "ghost"]  # Ophelia is not here
    horatio = people["horatiosk"]
    assert (horatio.class_word, horatio.description) == ("man", "young scholar in a dark cloak")
    assert horatio.lora == str((tmp_path / "cast" / "loras" / "horatio.safetensors").resolve())
    assert horatio.aliases == ["Horatio", "HORATIO"] and people["ghost"].class_word == "ghost"
    assert speaker_token("HORATIO", scene.characters) == "horatiosk"
    assert any("horatiosk man" in spec.prompt for spec in RulesPlanner().plan(scene))


# One-line errors

@pytest.mark.parametrize("content, words", [
    (None, "no such screenplay file"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a text file"),
    ("INT. CAF\u00c9 - DAY\n\nHi.\n".encode("latin-1"), "not UTF-8"),
    (b"Title: Nothing\n\nJust some words.\n\nBOB\nHi.\n", "no scene headings"),
    (b"", "no scene headings"),
])
def test_unusable_screenplays_give_one_line(tmp_path, content, words):
    path = tmp_path / "bad.fountain"
    if content is not None:
        path.write_bytes(content)
    for read in (read_screenplay, lambda p: scene_from_screenplay(p, 1)):
        with pytest.raises(SceneError) as error:
            read(path)
        message = str(error.value)
        assert words in message and message.startswith(str(path)) and "\n" not in message


def test_a_missing_scene_lists_the_scenes():
    with pytest.raises(SceneError) as error:
        scene_from_screenplay(HAMLET, 99)
    message = str(error.value)
    assert "no scene 99" in message and "2 scenes" in message and "\n" not in message
    assert "1 EXT. ELSINORE CASTLE - PLATFORM - NIGHT; 2 EXT. ELSINORE CASTLE - PLATFORM - DAWN" in message


@pytest.mark.parametrize("text, words", [
    ('[characters.HORATIO]\ntoken = "horatio sk"\n', "characters.HORATIO.token: expected one space-free token"),
    ('[characters.HORATIO]\ncolour = "red"\n', "unknown key 'colour'"),
    ('[characters.HORATIO]\nclass = 3\n', "characters.HORATIO.class: expected text"),
    ('[characters]\nHORATIO = "man"\n', "characters.HORATIO: expected a table"),
    ('characters = 3\n', "characters: expected tables"),
    ('[cast.HORATIO]\nclass = "man"\n', "unknown key 'cast'"),
    ('[characters.A]\ntoken = "same"\n[characters.B]\ntoken = "same"\n', "already another character's token"),
    ('[characters.HORATIO\n', "not valid TOML"),
])
def test_bad_cast_files_give_one_line(tmp_path, text, words):
    cast = write(tmp_path, text, "cast.toml")
    for read in (read_cast, lambda p: scene_from_screenplay(HAMLET, 1, cast_file=p)):
        with pytest.raises(SceneError) as error:
            read(cast)
        message = str(error.value)
        assert words in message and message.startswith(str(cast)) and "\n" not in message
    with pytest.raises(SceneError, match="no such cast file"):
        read_cast(tmp_path / "missing.toml")


# End to end: planned frames carry every speech

@pytest.mark.parametrize("number, frames", [(1, None), (1, 3), (1, 5), (1, 30), (2, None), (2, 4), (2, 20)])
def test_every_speech_lands_on_one_frame(number, frames):
    scene = scene_from_screenplay(HAMLET, number, frames=frames)
    specs = attach(scene, RulesPlanner().plan(scene))
    heard = [(line.character, line.text) for spec in specs for line in spec.dialogue]
    assert Counter(heard) == Counter((d.character, d.text) for d in scene.dialogue)
    assert heard == [(d.character, d.text) for d in scene.dialogue]  # every speech once, in script order
    order = {(d.character, d.text): d.after for d in scene.dialogue}
    assert [order[line] for line in heard] == sorted(order[line] for line in heard)  # sentence order is kept


def test_speeches_keep_their_order_when_frames_outnumber_sentences():
    scene = scene_from_screenplay(HAMLET, 1)
    specs = attach(scene, RulesPlanner().plan(scene))
    assert [line.text for spec in specs for line in spec.dialogue] == [d.text for d in scene.dialogue]
