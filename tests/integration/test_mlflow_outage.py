"""A tracking server that dies mid-run, and one that was never there, probed as a user
would meet them: a real ``mlflow server`` killed by pid, a driver in a subprocess, and
``tuneflows sync-mlflow`` replaying the trial files into a new store afterwards."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from mlflow_server_process import MlflowServer, free_port
from tuneflows import latest_run_dir
from tuneflows.error import TuneError
from tuneflows.recording.trial_files import count_results

DRIVER = os.path.join(os.path.dirname(__file__), "recording_driver.py")
TRIALS, ITERATIONS = 2, 30
DEADLINE_S = 15


def _iterations(trial_dir: str) -> list[int]:
    with open(os.path.join(trial_dir, "result.json")) as f:
        return [json.loads(line)["training_iteration"] for line in f]


def _trial_dirs(experiment_dir: str) -> list[str]:
    return sorted(os.path.join(experiment_dir, d) for d in os.listdir(experiment_dir)
                  if os.path.isdir(os.path.join(experiment_dir, d)))


def _sync(experiment_dir: str, uri: str, capsys) -> str:
    """``tuneflows sync-mlflow`` (in this process: no second start-up of MLflow)."""
    from tuneflows.cli import main

    assert main(["sync-mlflow", experiment_dir, "--tracking-uri", uri]) == 0
    return capsys.readouterr().out


def test_a_tracking_server_killed_mid_run_costs_a_bounded_wait_and_no_result(
        prefect_server, local_dir, tmp_path, capsys):
    from mlflow.tracking import MlflowClient
    from prefect.settings import PREFECT_API_URL

    server = MlflowServer(str(tmp_path / "server"))
    name = "outage"
    experiment_dir = os.path.join(local_dir, name)  # its run's directory once it is made
    env = dict(os.environ, TUNE_RESULT_DIR=local_dir, MLFLOW_TRACKING_URI=server.uri,
               PREFECT_API_URL=PREFECT_API_URL.value(), TUNEFLOWS_MLFLOW_DEADLINE_S=str(DEADLINE_S))
    driver = subprocess.Popen(
        [sys.executable, DRIVER, name, str(tmp_path / "pids.json"), "--trials", str(TRIALS),
         "--iterations", str(ITERATIONS)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 180
        while count_results(experiment_dir) < 6 and driver.poll() is None:
            assert time.monotonic() < deadline, "no results within 180 s"
            time.sleep(0.1)
        server.kill()  # mid-run: the trials go on
        while count_results(experiment_dir) < TRIALS * ITERATIONS and driver.poll() is None:
            assert time.monotonic() < deadline, "the trials did not end within 180 s"
            time.sleep(0.1)
        last_result = time.time()
        out, _ = driver.communicate(timeout=DEADLINE_S + 60)
    finally:
        if driver.poll() is None:
            driver.kill()
        server.kill()
    assert driver.returncode == 0, out[-3000:]
    experiment_dir = latest_run_dir(local_dir, name)
    [returned] = [float(line.split()[1]) for line in out.splitlines() if line.startswith("RETURNED")]
    # The writers' deadline, plus the flow run's own end (Prefect, Ray): measured ≈ 11 s.
    assert returned - last_result < DEADLINE_S + 20, out[-3000:]
    assert "MLflow lacks records of 2 trial(s) (Ticks_0_index=0, Ticks_1_index=1)" in out
    assert f"tuneflows sync-mlflow {experiment_dir}" in out
    for trial_dir in _trial_dirs(experiment_dir):
        assert _iterations(trial_dir) == list(range(1, ITERATIONS + 1))  # nothing lost

    uri = f"sqlite:///{tmp_path / 'replayed.db'}"
    first = _sync(experiment_dir, uri, capsys)
    again = _sync(experiment_dir, uri, capsys)  # idempotent: nothing is written twice
    assert "2 run(s) created, 60 step(s) logged" in first
    assert "0 run(s) created, 0 step(s) logged, 0 run(s) ended" in again
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(name)
    runs = client.search_runs([experiment.experiment_id])
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(runs) == 3 and len(children) == 2
    for run in children:
        assert run.info.status == "FINISHED"
        assert run.data.params["sleep"] == "0.2"
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "count")]
        assert sorted(steps) == list(range(1, ITERATIONS + 1))


def test_a_tracking_uri_with_nothing_behind_it_fails_fast_naming_it(tune_env, monkeypatch):
    import tuneflows

    uri = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)

    def never_runs(config, reporter):
        raise AssertionError("no trial may start")

    started = time.monotonic()
    with pytest.raises(TuneError, match="Cannot record experiment 'nobody_home' in MLflow") as info:
        tuneflows.run_experiments({"nobody_home": {"run": never_runs}}, verbose=False)
    assert time.monotonic() - started < 30  # was 251 s with MLflow's own retries
    assert uri in str(info.value) and "Start the tracking server" in str(info.value)
