"""The seed's quick start, end to end on real Ray, Prefect and MLflow."""

from __future__ import annotations

import csv
import json
import math
import os
import time

import pytest

import tuneflows
from tuneflows.runs.state import load_state
from tuneflows.trial import TERMINATED


def train_func(config, reporter):
    rate = config["lr"] * (1 + config["momentum"])
    for step in range(1, 500):
        reporter(timesteps_total=step * 10, mean_accuracy=100 * (1 - math.exp(-rate * step / 4)))


@pytest.fixture(scope="module")
def quickstart(prefect_server, ray_session, tmp_path_factory):
    local_dir = str(tmp_path_factory.mktemp("quickstart"))
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    tuneflows.register_trainable("train_func", train_func)
    trials = tuneflows.run_experiments({
        "seed_quickstart": {
            "run": "train_func",
            "stop": {"mean_accuracy": 99},
            "local_dir": local_dir,
            "config": {
                "lr": tuneflows.grid_search([0.2, 0.4, 0.6]),
                "momentum": tuneflows.grid_search([0.1, 0.2]),
            },
        }
    }, verbose=False)
    return trials, local_dir


def expected_iterations(lr, momentum):
    rate = lr * (1 + momentum)
    return next(s for s in range(1, 500) if 100 * (1 - math.exp(-rate * s / 4)) >= 99)


def test_six_terminated_trials_with_grid_configs(quickstart):
    trials, _ = quickstart
    assert [t.status for t in trials] == [TERMINATED] * 6
    configs = [(t.config["lr"], t.config["momentum"]) for t in trials]
    assert configs == [(0.2, 0.1), (0.4, 0.1), (0.6, 0.1), (0.2, 0.2), (0.4, 0.2), (0.6, 0.2)]
    for trial in trials:
        result = trial.last_result
        assert result["mean_accuracy"] >= 99
        assert result["training_iteration"] == expected_iterations(*configs[trials.index(trial)])
        assert result["done"] is True
        assert result["timesteps_total"] == 10 * result["training_iteration"]
        assert trial.experiment_tag.startswith(f"{trials.index(trial)}_lr=")


def test_files_hold_every_result_once(quickstart):
    trials, local_dir = quickstart
    for trial in trials:
        assert trial.logdir.startswith(os.path.join(local_dir, "seed_quickstart"))
        with open(os.path.join(trial.logdir, "params.json")) as f:
            assert json.load(f) == trial.config
        with open(os.path.join(trial.logdir, "result.json")) as f:
            rows = [json.loads(line) for line in f]
        assert [r["training_iteration"] for r in rows] == list(
            range(1, trial.last_result["training_iteration"] + 1)
        )
        with open(os.path.join(trial.logdir, "progress.csv")) as f:
            progress = list(csv.DictReader(f))
        assert len(progress) == len(rows)
        assert float(progress[-1]["mean_accuracy"]) == pytest.approx(rows[-1]["mean_accuracy"])


def test_prefect_shows_completed_flow_run_with_a_task_run_per_round(quickstart):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    trials, _ = quickstart
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=["seed_quickstart"]))
        )
        assert len(runs) == 1 and runs[0].state.is_completed()
        # Task-run states arrive through the server's task-run recorder, which tuneflows
        # sets to write in batches at least once a second, behind whatever earlier tests
        # sent to the same server.
        rounds = load_state(os.path.dirname(trials[0].logdir)).rounds
        deadline = time.monotonic() + 90
        while True:
            task_runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id={"any_": [runs[0].id]})
            )
            completed = (len(task_runs) == sum(rounds.values())
                         and all(tr.state.is_completed() for tr in task_runs))
            if completed or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    assert completed, [(tr.name, tr.state.type) for tr in task_runs]
    by_trial: dict[str, list[int]] = {}
    for tr in task_runs:
        name, _, index = tr.name.rpartition("/round-")
        by_trial.setdefault(name, []).append(int(index))
    assert sorted(by_trial) == sorted(t.name for t in trials)
    for indices in by_trial.values():
        assert sorted(indices) == list(range(1, len(indices) + 1))


def test_mlflow_has_parent_and_nested_runs_with_histories(quickstart):
    from mlflow.tracking import MlflowClient

    trials, local_dir = quickstart
    client = MlflowClient(tracking_uri=f"sqlite:///{local_dir}/mlflow.db")
    experiment = client.get_experiment_by_name("seed_quickstart")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 6
    assert parents[0].info.status == "FINISHED"
    by_trial = {r.data.tags["trial_id"]: r for r in children}
    for trial in trials:
        run = by_trial[trial.trial_id]
        assert run.data.tags["mlflow.parentRunId"] == parents[0].info.run_id
        assert float(run.data.params["lr"]) == trial.config["lr"]
        assert float(run.data.params["momentum"]) == trial.config["momentum"]
        assert run.data.tags["status"] == "TERMINATED" and run.info.status == "FINISHED"
        history = client.get_metric_history(run.info.run_id, "mean_accuracy")
        assert [m.step for m in history] == list(range(1, trial.iteration + 1))
