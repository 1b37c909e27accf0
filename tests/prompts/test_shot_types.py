"""Tests for the nine shot types as data: numbering, lookup, negative prompts and camera ranks."""

from __future__ import annotations

import pytest

from prompts.shot_types import (
    BY_NUMBER,
    BY_SLUG,
    DEFAULT_BASE_NEGATIVE,
    SHOT_TYPES,
    find_shot,
    negative_prompt,
    shot_by_slug,
)

ORDER = ["extreme_close_up", "close_up", "medium_close_up", "medium", "american", "full", "long",
         "extreme_long", "detail"]
"""The study's numbering: shot type n is ORDER[n - 1]."""


def test_nine_types_numbered_one_to_nine_in_order():
    assert len(SHOT_TYPES) == 9
    assert [shot.number for shot in SHOT_TYPES] == list(range(1, 10))
    assert [shot.slug for shot in SHOT_TYPES] == ORDER


def test_slugs_names_and_phrases_are_unique():
    for field in ("slug", "name", "phrase"):
        values = [getattr(shot, field) for shot in SHOT_TYPES]
        assert len(set(values)) == len(values), field
    assert set(BY_SLUG) == set(ORDER)
    assert set(BY_NUMBER) == set(range(1, 10))
    for shot in SHOT_TYPES:
        assert BY_SLUG[shot.slug] is shot
        assert BY_NUMBER[shot.number] is shot


@pytest.mark.parametrize("number, slug", [(n, slug) for n, slug in enumerate(ORDER, start=1)])
def test_find_shot_by_number_int_and_text(number, slug):
    assert find_shot(number).slug == slug
    assert find_shot(str(number)).slug == slug
    assert find_shot(f" {number} ").slug == slug


@pytest.mark.parametrize("slug", ORDER)
def test_find_shot_by_slug_name_and_phrase(slug):
    shot = BY_SLUG[slug]
    assert find_shot(slug) is shot
    assert find_shot(slug.upper()) is shot
    assert find_shot(shot.name) is shot
    assert find_shot(shot.name.lower()) is shot
    assert find_shot(shot.phrase) is shot


@pytest.mark.parametrize("text, slug", [
    ("close-up", "close_up"),
    ("Close-Up", "close_up"),
    ("close up", "close_up"),
    ("closeup", "close_up"),
    ("CU", "close_up"),
    ("cu", "close_up"),
    ("ECU", "extreme_close_up"),
    ("extreme close-up", "extreme_close_up"),
    ("medium close-up", "medium_close_up"),
    ("MCU", "medium_close_up"),
    ("medium", "medium"),
    ("mid shot", "medium"),
    ("cowboy shot", "american"),
    ("american", "american"),
    ("full body", "full"),
    ("full", "full"),
    ("wide", "long"),
    ("wide shot", "long"),
    ("long", "long"),
    ("extreme wide", "extreme_long"),
    ("establishing", "extreme_long"),
    ("establishing shot", "extreme_long"),
    ("extreme long", "extreme_long"),
    ("insert", "detail"),
    ("insert shot", "detail"),
    ("detail", "detail"),
])
def test_find_shot_aliases(text, slug):
    found = find_shot(text)
    assert found is not None, text
    assert found.slug == slug


@pytest.mark.parametrize("junk", ["", "   ", "0", "10", 0, 10, -1, "banana", "close-upp", "medium-ish",
                                  "shot", "extreme", "9 9", "long long"])
def test_find_shot_returns_none_for_junk(junk):
    assert find_shot(junk) is None


def test_shot_by_slug_returns_the_type():
    for slug in ORDER:
        assert shot_by_slug(slug) is BY_SLUG[slug]


@pytest.mark.parametrize("bad", ["closeup", "Close-up", "wide", "7", ""])
def test_shot_by_slug_raises_with_valid_slugs_listed(bad):
    with pytest.raises(ValueError) as info:
        shot_by_slug(bad)
    message = str(info.value)
    assert repr(bad) in message
    for slug in ORDER:
        assert slug in message


def test_negative_prompt_medium_has_the_study_terms():
    text = negative_prompt("medium")
    assert "legs, feet, lower body, full body" in text
    assert text.startswith(DEFAULT_BASE_NEGATIVE + ", ")


def test_negative_prompt_full_has_the_study_terms():
    text = negative_prompt("full")
    assert "cut-off feet" in text
    assert "missing head" in text
    # a full shot wants the legs and feet: they must not be negated
    terms = [t.strip() for t in text.split(",")]
    assert "legs" not in terms and "feet" not in terms


@pytest.mark.parametrize("slug", ORDER)
def test_negative_prompt_is_base_plus_own_terms(slug):
    shot = BY_SLUG[slug]
    assert negative_prompt(slug) == ", ".join([DEFAULT_BASE_NEGATIVE, *shot.negative])
    assert negative_prompt(slug, base="ugly") == ", ".join(["ugly", *shot.negative])


def test_negative_prompt_with_empty_base_has_no_leading_comma():
    text = negative_prompt("close_up", base="  ")
    assert text == ", ".join(BY_SLUG["close_up"].negative)
    assert not text.startswith(",")


def test_negative_prompt_unknown_slug_raises():
    with pytest.raises(ValueError):
        negative_prompt("wide")


def test_close_shots_negate_lower_body():
    for slug in ("extreme_close_up", "close_up", "medium_close_up", "medium"):
        assert {"legs", "feet"} <= set(BY_SLUG[slug].negative), slug


def test_detail_has_no_trigger_and_others_do():
    assert BY_SLUG["detail"].trigger is None
    for shot in SHOT_TYPES:
        if shot.slug != "detail":
            assert isinstance(shot.trigger, str) and shot.trigger.strip(), shot.slug


def test_ranks_strictly_increase_from_extreme_close_up_to_extreme_long():
    ranked = [shot for shot in SHOT_TYPES if shot.slug != "detail"]
    assert [shot.rank for shot in ranked] == list(range(1, 9))
    assert BY_SLUG["extreme_close_up"].rank == 1
    assert BY_SLUG["extreme_long"].rank == 8
    ranks = [BY_SLUG[slug].rank for slug in ORDER[:8]]
    assert all(a < b for a, b in zip(ranks, ranks[1:]))
    assert BY_SLUG["detail"].rank == 0


def test_definitions_are_filled():
    for shot in SHOT_TYPES:
        assert shot.definition.strip(), shot.slug
        assert shot.negative, shot.slug
