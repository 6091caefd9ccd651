"""Cancelling a script-started experiment as its user can (issue 20, finding 1): the
flow run is set to Cancelling through the Prefect API (what ``prefect flow-run cancel``
does); the experiment notices, stops its trials as SIGTERM does, ends its flow run
Cancelled and its MLflow runs KILLED with the reason, and ``run_experiments`` says how
to resume; ``tuneflows resume`` then finishes the run exactly and says which run it
continues."""

from __future__ import annotations

import contextvars
import json
import os
import threading
import time
import uuid

import pytest

import tuneflows
from tuneflows.error import ExperimentCancelled
from tuneflows.recording.trial_files import count_results
from tuneflows.runs.state import load_state

ITERATIONS = 60


class SlowCount(tuneflows.Trainable):
    """Counts, 0.1 s an iteration; checkpoints its count."""

    def _setup(self, config):
        self.count = 0

    def _train(self):
        time.sleep(0.1)
        self.count += 1
        return {"count": self.count}

    def _save(self, checkpoint_dir):
        return {"count": self.count}

    def _restore(self, state):
        self.count = state["count"]


def _flow_run(client, name: str):
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name])))
    return runs[0] if runs else None


def _cancel_once_running(experiment_dir: str, name: str, done: dict) -> None:
    """Sets the experiment's flow run Cancelling once its trials have results."""
    from prefect.client.orchestration import get_client
    from prefect.states import Cancelling

    deadline = time.monotonic() + 120
    while count_results(experiment_dir) < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    with get_client(sync_client=True) as client:
        run = _flow_run(client, name)
        done["flow_run_id"] = str(run.id)
        done["results_at_cancel"] = count_results(experiment_dir)
        client.set_flow_run_state(run.id, Cancelling(message="cancelled by the test"))


def test_a_cancelled_flow_run_stops_the_experiment_and_resume_finishes_it(tune_env, capsys):
    from mlflow.tracking import MlflowClient
    from prefect.client.orchestration import get_client

    from tuneflows.cli.main import main as cli

    name = f"cancelled_{uuid.uuid4().hex[:6]}"
    experiment_dir = os.path.join(tune_env, name)
    seen: dict = {}
    canceller = threading.Thread(target=contextvars.copy_context().run,
                                 args=(_cancel_once_running, experiment_dir, name, seen))
    canceller.start()
    spec = {name: {"run": SlowCount, "config": {"i": tuneflows.grid_search([0, 1])},
                   "stop": {"training_iteration": ITERATIONS}, "checkpoint_freq": 5}}
    with pytest.raises(ExperimentCancelled) as raised:
        tuneflows.run_experiments(spec, verbose=0, round_seconds=0.5)
    canceller.join(30)
    run_dir = tuneflows.latest_run_dir(tune_env, name)
    message = str(raised.value)
    assert "cancelled" in message and seen["flow_run_id"] in message, message
    assert f"tuneflows resume {run_dir}" in message, message
    assert f"resume={os.path.basename(run_dir)!r}" in message, message

    with get_client(sync_client=True) as client:
        assert client.read_flow_run(seen["flow_run_id"]).state.type.value == "CANCELLED"
    state = load_state(run_dir)
    assert sorted(t["status"] for t in state.trials) == ["RUNNING", "RUNNING"]  # resumable
    mlflow = MlflowClient(os.environ["MLFLOW_TRACKING_URI"])
    experiment = mlflow.get_experiment_by_name(name)
    runs = mlflow.search_runs([experiment.experiment_id])
    assert {r.info.status for r in runs} == {"KILLED"} and len(runs) == 3
    for trial_run in (r for r in runs if "trial_id" in r.data.tags):
        assert "cancelled" in trial_run.data.tags["stop_reason"], trial_run.data.tags

    capsys.readouterr()
    assert cli(["resume", run_dir]) == 0
    out, err = capsys.readouterr()
    assert f"Resuming run {os.path.basename(run_dir)} of experiment {name!r} ({run_dir})" in \
        out + err, (out + err)[-2000:]
    state = load_state(run_dir)
    assert [t["status"] for t in state.trials] == ["TERMINATED", "TERMINATED"]
    for trial in state.trials:
        with open(os.path.join(trial["logdir"], "result.json")) as f:
            iterations = [json.loads(line)["training_iteration"] for line in f]
        assert iterations == list(range(1, ITERATIONS + 1))  # each result once
