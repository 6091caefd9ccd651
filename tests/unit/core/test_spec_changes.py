"""Resume tells the truth: the saved spec record against a new one (pure), and
``saved_state_to_resume`` refusing nothing-to-resume and changed specs before any
engine starts (files only)."""

from __future__ import annotations

import doctest
import os

import pytest

import tuneflows.runs.spec_changes
from tuneflows.runs.state import ExperimentState, save_state
from tuneflows.orchestration.resume import saved_state_to_resume
from tuneflows.search import grid_search, sample_from, uniform
from tuneflows.spec import Experiment
from tuneflows.runs.spec_changes import check_spec_unchanged, spec_changes, spec_record


def train(config, reporter):
    reporter(acc=1)


def other(config, reporter):
    reporter(acc=2)


def exp(local_dir="/r", run=train, **spec):
    return Experiment("e", run, local_dir=local_dir, **spec)


def test_doctests():
    assert doctest.testmod(tuneflows.runs.spec_changes).failed == 0


def test_the_same_spec_has_no_changes_even_with_functions_and_domains():
    def spec():
        return exp(config={"lr": uniform(0, 1), "bs": grid_search([16, 32]),
                           "w": sample_from(lambda s: s.config.bs * 2), "nan": float("nan")},
                   stop={"acc": 0.9}, repeat=2, resources_per_trial={"cpu": 1})
    assert spec_changes(spec_record(spec()), spec_record(spec())) == []


def test_each_changed_setting_is_listed():
    old = spec_record(exp(config={"lr": grid_search([0.1, 0.2]), "bs": 32}, stop={"acc": 1},
                          num_samples=2))
    new = spec_record(exp(run=other, config={"lr": grid_search([0.1, 0.3]), "wd": 0.1},
                          stop={"acc": 2}, repeat=3, checkpoint_freq=5))
    assert spec_changes(old, new) == [
        'run: "test_spec_changes.train" -> "test_spec_changes.other"',
        'config.bs: 32 -> (absent)',
        'config.lr: "GridSearch(values=[0.1, 0.2])" -> "GridSearch(values=[0.1, 0.3])"',
        'config.wd: (absent) -> 0.1',
        'stop: {"acc": 1} -> {"acc": 2}',
        'num_samples: 2 -> 3',
        'checkpoint_freq: 0 -> 5',
    ]


def test_spellings_and_the_time_limit_are_no_change():
    old = spec_record(exp(repeat=2, trial_resources={"cpu": 1}))
    new = spec_record(exp(num_samples=2, resources_per_trial={"cpu": 1.0, "gpu": 0},
                          max_seconds_without_result=30))
    assert spec_changes(old, new) == []


def test_a_record_without_a_key_is_not_compared_on_it():
    new = spec_record(exp(stop={"acc": 1}))
    old = {k: v for k, v in new.items() if k != "stop"}
    assert spec_changes(old, spec_record(exp(stop={"acc": 2}))) == []


def test_without_a_saved_record_the_trials_trainable_is_compared():
    check_spec_unchanged({}, ["train", "train"], exp())
    with pytest.raises(ValueError, match=r'run: "other" -> "train"'):
        check_spec_unchanged({}, ["other"], exp())


def _saved(local_dir, experiment):
    os.makedirs(experiment.dir, exist_ok=True)
    save_state(experiment.dir, ExperimentState(
        experiment_id="abc", trials=[], trial_order=[], spec=spec_record(experiment)))


@pytest.mark.parametrize("mode, message", [
    (True, r"resume=True: experiment 'e' has no unfinished run .* \(pass resume='AUTO'"),
    ("ERRORED_ONLY", r"resume='ERRORED_ONLY': the experiment has no run to re-run"),
])
def test_strict_resume_with_nothing_saved_is_an_error(tmp_path, mode, message):
    with pytest.raises(ValueError, match=message):
        saved_state_to_resume(exp(str(tmp_path)), mode)
    assert saved_state_to_resume(exp(str(tmp_path)), "AUTO") is None
    assert saved_state_to_resume(exp(str(tmp_path)), False) is None


@pytest.mark.parametrize("mode", [True, "AUTO", "ERRORED_ONLY"])
def test_a_changed_spec_is_refused_listing_the_differences(tmp_path, mode):
    _saved(tmp_path, exp(str(tmp_path), config={"lr": grid_search([1, 2])}))
    assert saved_state_to_resume(exp(str(tmp_path), config={"lr": grid_search([1, 2])}),
                                 mode).experiment_id == "abc"
    with pytest.raises(ValueError) as info:
        saved_state_to_resume(exp(str(tmp_path), run=other, config={"lr": grid_search([1, 3])},
                                  stop={"acc": 1}), mode)
    message = str(info.value)
    assert message.startswith("Cannot resume experiment 'e' with a changed spec")
    assert '  - run: "test_spec_changes.train" -> "test_spec_changes.other"' in message
    assert '  - config.lr: "GridSearch(values=[1, 2])" -> "GridSearch(values=[1, 3])"' in message
    assert '  - stop: {} -> {"acc": 1}' in message
