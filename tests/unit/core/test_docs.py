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
    "tuneflows.run_dirs",
    "tuneflows.yaml_domains",
    "tuneflows.warm_start",
    "tuneflows.startup_timeline",
    "tuneflows.trial_outcome",
    "tuneflows.control.round_report",
    "tuneflows.recording.experiment_report",
    "tuneflows.recording.where_to_look",
    "tuneflows.recording.status_block",
    "tuneflows.recording.prefect_reports",
    "tuneflows.execution.result_deadline",
    "tuneflows.recording.mlflow_limits",
    "tuneflows.recording.mlflow_gaps",
    "tuneflows.mlflow_sync",
    "tuneflows.stop_signals",
    "tuneflows.execution.ray_session",
    "tuneflows.orphan_guard",
    "tuneflows.spec",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
