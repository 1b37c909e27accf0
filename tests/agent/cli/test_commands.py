"""How the commands are put together: `shotsmith script` and `shotsmith run` share one plain function whose
defaults are the run command's, and both train commands list their shared options in the same order."""

from __future__ import annotations

import inspect
from dataclasses import fields

import typer

from agent.cli.run import Run, run
from agent.cli.train import character, shot
from agent.cli.training import Options


def test_a_run_request_defaults_to_the_run_commands_defaults():
    declared = inspect.signature(run).parameters
    request = Run(scene=None)
    for item in fields(Run):
        expected = declared[item.name].default
        if item.name == "scene":
            assert expected is inspect.Parameter.empty
        elif item.name == "then":  # the command's None becomes the request's empty list
            assert expected is None and request.then == []
        else:
            assert getattr(request, item.name) == expected, item.name


def test_the_run_command_and_the_request_name_the_same_things_in_the_same_order():
    assert list(inspect.signature(run).parameters) == [item.name for item in fields(Run)]


def test_both_train_commands_take_every_shared_option_in_the_same_order():
    shared = [item.name for item in fields(Options)]
    assert list(inspect.signature(character).parameters) == ["token", "class_word", *shared]
    assert list(inspect.signature(shot).parameters) == ["slug", *shared]


def test_prior_and_steps_keep_each_commands_own_default():
    assert inspect.signature(character).parameters["prior"].default is True
    assert inspect.signature(character).parameters["steps"].default == 800
    assert inspect.signature(shot).parameters["prior"].default is False
    assert inspect.signature(shot).parameters["steps"].default == 1000


def test_the_shared_options_come_from_one_declaration():
    for command in (character, shot):
        rank = inspect.signature(command).parameters["rank"]
        assert rank.annotation is inspect.signature(character).parameters["rank"].annotation
        assert any(isinstance(meta, typer.models.OptionInfo) for meta in rank.annotation.__metadata__)
