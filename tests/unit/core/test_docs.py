"""The docstring examples of the engine-free core modules run."""

import doctest
import importlib

import pytest

MODULES = [
    "tuneflows.orchestration.algorithm_choice",
    "tuneflows.model.best_trial",
    "tuneflows.control.controller",
    "tuneflows.control.trial_factory",
    "tuneflows.control.resumed_trials",
    "tuneflows.recording.recording_thread",
    "tuneflows.recording.retry",
    "tuneflows.recording.trial_files",
    "tuneflows.runs.lock",
    "tuneflows.runs.run_dirs",
    "tuneflows.search.yaml_domains",
    "tuneflows.orchestration.warm_start",
    "tuneflows.services.startup_timeline",
    "tuneflows.model.trial_outcome",
    "tuneflows.recording.round_report",
    "tuneflows.recording.experiment_report",
    "tuneflows.recording.where_to_look",
    "tuneflows.recording.status_block",
    "tuneflows.recording.prefect_reports",
    "tuneflows.execution.result_deadline",
    "tuneflows.recording.mlflow.limits",
    "tuneflows.recording.mlflow.gaps",
    "tuneflows.recording.mlflow.sync",
    "tuneflows.orchestration.stop_signals",
    "tuneflows.execution.ray_session",
    "tuneflows.services.orphan_guard",
    "tuneflows.spec",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
