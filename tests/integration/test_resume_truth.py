"""Resume tells the truth on real Ray + Prefect + MLflow: a changed grid or another
trainable is refused before anything runs (ERRORED_ONLY never mixes two trainables'
results), and the unchanged spec resumes."""

from __future__ import annotations

import json
import os

import pytest

import tuneflows
from tuneflows.trial import ERROR, TERMINATED


def fails_on_two(config, reporter):
    for i in range(3):
        if config["x"] == 2 and i == 1:
            raise ValueError("x=2 fails")
        reporter(score=config["x"] * 10 + i)


def another_trainable(config, reporter):
    for i in range(3):
        reporter(other=i)


def _results(logdir):
    with open(os.path.join(logdir, "result.json")) as f:
        return [json.loads(line) for line in f]


def test_a_changed_spec_is_refused_and_errored_only_never_mixes_trainables(tune_env):
    spec = {"run": fails_on_two, "max_failures": 0,
            "config": {"x": tuneflows.grid_search([1, 2])}}
    first = tuneflows.run_experiments({"truth": spec}, verbose=0, raise_on_failed_trial=False)
    failed = [t for t in first if t.status == ERROR]
    assert len(failed) == 1
    before = _results(failed[0].logdir)

    with pytest.raises(ValueError, match=r'(?s)changed spec.*run: "test_resume_truth'
                                         r'.fails_on_two" -> '
                                         r'"test_resume_truth.another_trainable"'):
        tuneflows.run_experiments({"truth": dict(spec, run=another_trainable)}, verbose=0,
                                  resume="ERRORED_ONLY")
    with pytest.raises(ValueError, match=r"config.x: \"GridSearch\(values=\[1, 2\]\)\" -> "
                                         r"\"GridSearch\(values=\[1, 2, 3\]\)\""):
        tuneflows.run_experiments({"truth": dict(spec, config={
            "x": tuneflows.grid_search([1, 2, 3])})}, verbose=0, resume="ERRORED_ONLY")
    assert _results(failed[0].logdir) == before  # nothing ran into the saved trial
    assert all("other" not in row for row in before)

    again = tuneflows.run_experiments({"truth": dict(spec, max_failures=0)}, verbose=0,
                                      resume="ERRORED_ONLY", raise_on_failed_trial=False)
    assert sorted(t.status for t in again) == [ERROR, TERMINATED]
    assert {t.trial_id for t in again} == {t.trial_id for t in first}


def test_strict_resume_with_nothing_saved_is_an_error(tune_env):
    with pytest.raises(ValueError, match="resume=True: experiment 'nothing' has no unfinished run"):
        tuneflows.run_experiments({"nothing": {"run": another_trainable}}, verbose=0,
                                  resume=True)
    assert not os.path.exists(os.path.join(tune_env, "nothing"))
    [trial] = tuneflows.run_experiments({"nothing": {"run": another_trainable}}, verbose=0,
                                        resume="AUTO")
    assert trial.status == TERMINATED
