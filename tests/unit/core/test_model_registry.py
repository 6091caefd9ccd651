"""The champion rule of the tune-then-train pipeline (pure parts) and the digits example."""

import doctest
import importlib

import pytest

from tuneflows.recording.mlflow.model_registry import HeldOutScore, Registration


@pytest.mark.parametrize("mode, new, champion, promoted", [
    ("max", 0.95, 0.93, True), ("max", 0.93, 0.95, False), ("max", 0.95, 0.95, False),
    ("min", 0.2, 0.3, True), ("min", 0.3, 0.2, False), ("max", 0.1, None, True),
])
def test_a_version_takes_the_alias_only_when_strictly_better(mode, new, champion, promoted):
    assert HeldOutScore("m", new, mode).beats(champion) is promoted


def test_a_bad_score_is_refused():
    with pytest.raises(ValueError, match="mode must be 'max' or 'min', got mode='up'"):
        HeldOutScore("m", 0.5, "up")
    with pytest.raises(ValueError, match="held-out m must be a finite number"):
        HeldOutScore("m", float("nan"))


def registration(promoted, champion_version, champion_value):
    return Registration("digits", "2", "champion", promoted, HeldOutScore("test_accuracy", 0.95),
                        champion_version, champion_value, "run-1")


def test_the_summary_says_what_happened_to_the_alias():
    assert registration(True, None, None).describe() == (
        "Version 2 of 'digits' (test_accuracy 0.95) is the first: alias 'champion' set to "
        "version 2.")
    assert registration(True, "1", 0.9).describe() == (
        "Version 2 of 'digits' (test_accuracy 0.95) beat champion version 1 (test_accuracy "
        "0.9): alias 'champion' moved to version 2.")
    assert registration(False, "1", None).describe().endswith(
        "(no held-out test_accuracy recorded, so it keeps the alias): alias 'champion' stays "
        "on version 1.")
    summary = registration(False, "1", 0.97).as_dict()
    assert summary["summary"].endswith("stays on version 1.")
    assert summary["score"] == {"metric": "test_accuracy", "value": 0.95, "mode": "max"}


@pytest.mark.parametrize("name", ["tuneflows.recording.mlflow.model_registry", "flows.digits"])
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
