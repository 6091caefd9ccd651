"""Errors, class trainables, ``tuneflows.report`` and pinned objects on real Ray + Prefect."""

from __future__ import annotations

import json
import os
import uuid

import numpy as np
import pytest

import tuneflows
from tuneflows.trial import ERROR, TERMINATED
from tuneflows.util import get_pinned_object, pin_in_object_store


def maybe_fails(config, reporter):
    for i in range(1, 6):
        if config["fail"] and i == 3:
            raise RuntimeError(f"diverged at step {i}")
        reporter(mean_accuracy=i)


def _flow_run_state(name):
    """The final state of the flow run named ``name`` (one per test: names are unique)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    with get_client(sync_client=True) as client:
        [run] = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name])))
    return run.state


def test_erroring_trial_ends_in_error_and_others_go_on(tune_env):
    name = f"errors_{uuid.uuid4().hex[:6]}"
    with pytest.raises(tuneflows.TuneError) as info:
        tuneflows.run_experiments({
            name: {
                "run": maybe_fails,
                "config": {"fail": tuneflows.grid_search([False, True, False])},
                "max_failures": 1,
            }
        }, verbose=False)
    message = str(info.value)
    assert "1 trial(s) did not complete" in message
    assert "RuntimeError: diverged at step 3" in message
    error_file = message.split("(see ")[1].rstrip(")")
    assert os.path.exists(error_file)
    text = open(error_file).read()
    assert "Traceback" in text and "maybe_fails" in text and text.count("Failure ") == 2
    # the Prefect flow run failed too, saying why, and still holds the best trial
    state = _flow_run_state(name)
    assert state.is_failed() and state.message == message
    result = state.result(raise_on_failure=False)
    assert result["outcomes"]["errored"] == 1 and result["trials"] == 3


def test_raise_on_failed_trial_false_returns_trials(tune_env):
    name = f"errors_no_raise_{uuid.uuid4().hex[:6]}"
    trials = tuneflows.run_experiments({
        name: {
            "run": maybe_fails,
            "config": {"fail": tuneflows.grid_search([True, False])},
            "max_failures": 0,
        }
    }, verbose=False, raise_on_failed_trial=False)
    failed, ok = trials
    assert failed.status == ERROR and ok.status == TERMINATED
    assert failed.error_file == os.path.join(failed.logdir, "error.txt")
    assert "diverged" in failed.error_msg
    # results recorded before the failure are kept, and not duplicated
    rows = [json.loads(line) for line in open(os.path.join(failed.logdir, "result.json"))]
    assert [r["training_iteration"] for r in rows] == [1, 2]
    assert ok.last_result["training_iteration"] == 5
    assert _flow_run_state(name).is_completed()  # errored trials were accepted


def test_restarted_trial_records_no_duplicate_rows(tune_env):
    trials = tuneflows.run_experiments({
        "errors_restarted": {"run": maybe_fails, "config": {"fail": True}, "max_failures": 2}
    }, verbose=False, raise_on_failed_trial=False)
    trial = trials[0]
    assert trial.status == ERROR and trial.num_failures == 3
    rows = [json.loads(line) for line in open(os.path.join(trial.logdir, "result.json"))]
    assert [r["training_iteration"] for r in rows] == [1, 2]


class Quadratic(tuneflows.Trainable):
    def _setup(self):
        self.x = self.config["x0"]

    def _train(self):
        self.x -= 0.5 * self.x
        return {"neg_loss": -self.x ** 2, "timesteps_this_iter": 5}

    def _save(self, checkpoint_dir):
        path = os.path.join(checkpoint_dir, "x.txt")
        with open(path, "w") as f:
            f.write(repr(self.x))
        return path

    def _restore(self, path):
        with open(path) as f:
            self.x = float(f.read())


def test_class_trainable_with_checkpoints(tune_env):
    [trial] = tuneflows.run_experiments(
        tuneflows.Experiment("class_trainable", run=Quadratic, config={"x0": 8.0},
                             stop={"training_iteration": 6}, checkpoint_freq=2,
                             checkpoint_at_end=True),
        verbose=False,
    )
    assert trial.status == TERMINATED
    assert trial.last_result["training_iteration"] == 6
    assert trial.last_result["timesteps_total"] == 30
    assert trial.last_result["neg_loss"] == pytest.approx(-(8.0 / 64) ** 2)
    checkpoints = sorted(d for d in os.listdir(trial.logdir) if d.startswith("checkpoint_"))
    assert checkpoints == ["checkpoint_000002", "checkpoint_000004", "checkpoint_000006"]


def report_style(config):
    for step in range(4):
        tuneflows.report(loss=config["scale"] / (step + 1))


def test_report_api_and_num_samples(tune_env):
    trials = tuneflows.run_experiments({
        "report_api": {
            "run": report_style,
            "num_samples": 3,
            "config": {"scale": tuneflows.uniform(1, 2), "double": lambda spec: spec.config.scale * 2},
        }
    }, verbose=False)
    assert len(trials) == 3 and all(t.status == TERMINATED for t in trials)
    for trial in trials:
        assert 1 <= trial.config["scale"] <= 2
        assert trial.config["double"] == pytest.approx(2 * trial.config["scale"])
        assert trial.last_result["loss"] == pytest.approx(trial.config["scale"] / 4)


def test_pinned_object_reaches_trials(tune_env):
    data_id = pin_in_object_store(np.arange(1000.0))

    def uses_pinned(config, reporter):
        data = get_pinned_object(data_id)
        reporter(total=float(data.sum()))

    [trial] = tuneflows.run_experiments({"pinned": {"run": uses_pinned}}, verbose=False)
    assert trial.last_result["total"] == pytest.approx(499500.0)
