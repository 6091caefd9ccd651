"""The Client API on real Ray + Prefect + MLflow: an experiment runs with
``with_server=True`` in a background thread while the test drives it with TuneClient."""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest

import tuneflows
from tuneflows.trial import PENDING, RUNNING, TERMINATED
from tuneflows.web_server import TuneClient, TuneClientError


def slow_counter(config, reporter):
    """Reports every 0.1 s; stops by itself after ``steps`` (client-added trials)."""
    for i in range(1, config.get("steps", 10**6) + 1):
        time.sleep(0.1)
        reporter(score=i * config["rate"])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(what: str, predicate, timeout: float = 45.0):
    """Polls ``predicate`` until truthy, tolerating a server not up yet (no status)
    or an experiment not started yet (503)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except TuneClientError as exc:
            if exc.status_code not in (None, 503):
                raise
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_client_api_lists_adds_and_stops_trials(tune_env):
    port = _free_port()
    outcome: dict = {}

    def run():
        try:
            outcome["trials"] = tuneflows.run_experiments({
                "client_api": {
                    "run": slow_counter,
                    "stop": {"training_iteration": 100},
                    "config": {"rate": tuneflows.grid_search([1, 2])},
                }
            }, with_server=True, server_port=port, verbose=False, round_seconds=0.5)
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            outcome["error"] = exc

    experiment = threading.Thread(target=run, daemon=True)
    experiment.start()
    client = TuneClient(f"localhost:{port}", shapes="tuneflows")

    # both grid trials run and stream results
    trials = _wait("two RUNNING trials with results", lambda: (
        ts if len(ts := client.get_all_trials()) == 2
        and all(t["status"] == RUNNING and t["last_result"] for t in ts) else None))
    assert [t["config"] for t in trials] == [{"rate": 1}, {"rate": 2}]
    assert all(t["experiment"] == "client_api" and t["name"].startswith("slow_counter_") for t in trials)
    first, second = (t["trial_id"] for t in trials)
    one = client.get_trial(first)
    assert one["last_result"]["training_iteration"] >= 1
    assert one["last_result"]["score"] == one["last_result"]["training_iteration"]

    # unknown ids and unresolved configs are refused with the server's message
    with pytest.raises(TuneClientError, match=r"\(404\): No trial 'no_such_trial' in experiment 'client_api'"):
        client.get_trial("no_such_trial")
    with pytest.raises(TuneClientError, match="404") as info:
        client.stop_trial("no_such_trial")
    assert info.value.status_code == 404
    with pytest.raises(TuneClientError, match="config key 'rate' is a grid_search"):
        client.add_trial("client_api", {"config": {"rate": {"grid_search": [3, 4]}}})

    # a client-added trial waits for a slot (both CPUs are busy) ...
    added = client.add_trial("client_api", {"config": {"rate": 10, "steps": 5}})
    assert added["status"] == PENDING and added["config"] == {"rate": 10, "steps": 5}
    assert added["trial_id"] in {t["trial_id"] for t in client.get_all_trials()}
    assert "client_api" in client.get_status()

    # ... which stopping the first trial frees
    client.stop_trial(first)
    stopped = _wait("the first trial to stop", lambda: (
        t if (t := client.get_trial(first))["status"] == TERMINATED else None))
    assert stopped["status_reason"] == "stopped by client"
    assert stopped["last_result"]["training_iteration"] < 100

    done = _wait("the added trial to finish", lambda: (
        t if (t := client.get_trial(added["trial_id"]))["status"] == TERMINATED else None))
    assert done["last_result"]["training_iteration"] == 5
    assert done["last_result"]["score"] == 50

    client.stop_trial(second)
    experiment.join(30)
    assert not experiment.is_alive()
    assert "error" not in outcome, outcome.get("error")

    by_id = {t.trial_id: t for t in outcome["trials"]}
    assert set(by_id) == {first, second, added["trial_id"]}
    assert by_id[first].status == by_id[second].status == TERMINATED
    assert by_id[second].status_reason == "stopped by client"
    assert by_id[second].last_result["training_iteration"] < 100
    assert by_id[added["trial_id"]].config == {"rate": 10, "steps": 5}
    assert os.path.exists(os.path.join(by_id[added["trial_id"]].logdir, "result.json"))

    # the server is gone with the experiment
    with pytest.raises(TuneClientError, match="Cannot reach the TuneServer"):
        client.get_all_trials()

    # the added trial is an MLflow run like any other
    from mlflow.tracking import MlflowClient

    mlflow = MlflowClient(tracking_uri=os.environ["MLFLOW_TRACKING_URI"])
    exp = mlflow.get_experiment_by_name("client_api")
    runs = mlflow.search_runs([exp.experiment_id], max_results=100)
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(children) == 3
    added_run = [r for r in children if r.data.params.get("steps") == "5"]
    assert len(added_run) == 1 and added_run[0].data.metrics["score"] == 50
