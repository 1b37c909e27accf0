"""The planner prompt file and the strict template renderer."""

import pytest

from prompts.template import MissingVariable, load, render

VALUES = dict(frame_request="8 frames", title="T", description="D", cast="kaitoyosuke man", style="noir",
              shot_types="1. Extreme close-up")


def test_planner_template_renders_with_every_value_and_states_the_rules():
    text = render(load("planner.txt"), **VALUES)
    assert "$" not in text
    assert "kaitoyosuke man" in text and "noir" in text
    for rule in range(1, 11):
        assert f"\n{rule}. " in text


def test_a_missing_value_names_the_placeholder():
    values = {k: v for k, v in VALUES.items() if k != "cast"}
    with pytest.raises(MissingVariable, match="'cast'"):
        render(load("planner.txt"), **values)


def test_escaped_dollars_are_left_alone():
    assert render("costs $$5 for $who", who="Kaito") == "costs $5 for Kaito"
