"""The docstring examples of the engine-free core modules run."""

import doctest
import importlib

import pytest

MODULES = [
    "tuneflows.algorithm_choice",
    "tuneflows.best_trial",
    "tuneflows.control.controller",
    "tuneflows.control.trial_factory",
    "tuneflows.recording.recording_thread",
    "tuneflows.recording.retry",
    "tuneflows.recording.trial_files",
    "tuneflows.experiment_lock",
    "tuneflows.startup_timeline",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
