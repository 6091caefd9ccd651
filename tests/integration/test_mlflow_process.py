"""The MLflow writer processes against a real MLflow SQLite store (no Ray or Prefect)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time

import pytest

from tuneflows.error import TuneError
from tuneflows.recording.mlflow.writer_pool import MlflowWriterPool
from tuneflows.recording.trial_dirs import find_trial_dirs


def results(first: int, last: int) -> list[dict]:
    return [{"training_iteration": i, "timestamp": 1_000.0 + i, "loss": 1.0 / i, "acc": i / 10}
            for i in range(first, last + 1)]


@pytest.fixture
def store(tmp_path, mlflow_uri, monkeypatch):
    """(results dir, client, a fresh experiment name) on the session's MLflow store."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_uri)
    from mlflow.tracking import MlflowClient

    return str(tmp_path), MlflowClient(tracking_uri=mlflow_uri), f"exp_{tmp_path.name}"


def open_with_results(local_dir, name, last_step):
    """A new writer process with experiment ``e1`` open and trial ``t1`` logged up to
    ``last_step``."""
    process = MlflowWriterPool(1)
    log = process.open_experiment(name, local_dir, "e1", "exp-e1", {})
    log.start_trial("t1", "trial_1", {"lr": 0.1}, {})
    log.log_results("t1", results(1, last_step))
    return process


def journal_mode(database):
    with contextlib.closing(sqlite3.connect(database)) as db:
        return db.execute("PRAGMA journal_mode").fetchone()[0]


def runs_of(client, name):
    experiment = client.get_experiment_by_name(name)
    runs = client.search_runs([experiment.experiment_id], max_results=100)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = {r.data.tags["trial_id"]: r for r in runs if "mlflow.parentRunId" in r.data.tags}
    return parents, children


def test_every_record_of_two_writers_is_written_when_the_experiment_ends(store):
    local_dir, client, name = store
    writers = MlflowWriterPool(2)
    try:
        writers.prepare(name, local_dir)
        log = writers.open_experiment(name, local_dir, "e1", "exp-e1", {"k": "v"})
        for trial in ("t1", "t2"):
            log.start_trial(trial, f"trial_{trial}", {"lr": 0.1, "net": {"depth": 3}}, {"logdir": "/x"})
        assert log.writer_of("t1") is not log.writer_of("t2")
        for first in range(1, 1201, 100):  # 1,200 results: several full batches
            for trial in ("t1", "t2"):
                log.log_results(trial, results(first, first + 99))
        log.log_params("t2", {"lr": 0.2, "net": {"depth": 3}})
        for trial in ("t1", "t2"):
            log.end_trial(trial, "TERMINATED", {"num_failures": 1})
        log.end_experiment("FINISHED", {"trials.TERMINATED": 2})
        [parent], children = runs_of(client, name)  # complete before close()
    finally:
        writers.close()
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["tuneflows.experiment_id"] == "e1"
    assert parent.data.tags["trials.TERMINATED"] == "2"
    assert sorted(children) == ["t1", "t2"]
    for trial, run in children.items():
        assert run.info.status == "FINISHED"
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.data.params == {"lr": "0.1", "net/depth": "3"}
        assert run.data.tags["status"] == "TERMINATED"
        assert run.data.tags["num_failures"] == "1"
        history = client.get_metric_history(run.info.run_id, "loss")
        assert sorted(m.step for m in history) == list(range(1, 1201))
        assert "training_iteration" not in run.data.metrics
    assert children["t2"].data.tags["config/lr"] == "0.2"
    assert "config/lr" not in children["t1"].data.tags
    # a user's own SQLite store gets the embedded store's settings
    assert journal_mode(client.tracking_uri[len("sqlite:///"):]) == "wal"


def test_two_writers_create_a_new_sqlite_store_together(tmp_path, monkeypatch):
    """MLflow's schema migration of a new SQLite file fails when two processes run it at
    once; the writers take turns."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    local_dir = str(tmp_path / "results")
    writers = MlflowWriterPool(2)
    try:
        writers.prepare("fresh", local_dir)
        assert writers.sync()
        log = writers.open_experiment("fresh", local_dir, "e1", "exp-e1", {})
        assert log.writer_of("a") is not log.writer_of("b")
        for trial in ("a", "b"):
            log.start_trial(trial, trial, {"x": 1}, {})
            log.log_results(trial, results(1, 2))
            log.end_trial(trial, "TERMINATED")
        log.end_experiment("FINISHED", {})
    finally:
        writers.close()
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{local_dir}/mlflow.db")
    [parent], children = runs_of(client, "fresh")
    assert sorted(children) == ["a", "b"]
    assert all(len(client.get_metric_history(r.info.run_id, "loss")) == 2 for r in children.values())
    # The embedded store logs ahead (and a user's own SQLite store: the first test).
    assert journal_mode(os.path.join(local_dir, "mlflow.db")) == "wal"


def test_a_bad_tracking_uri_fails_when_the_experiment_opens(tmp_path, monkeypatch):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    uri = f"sqlite:///{not_a_dir}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    process = MlflowWriterPool(2)
    try:
        process.prepare("exp", str(tmp_path))
        with pytest.raises(TuneError, match="Cannot record experiment 'exp' in MLflow") as info:
            process.open_experiment("exp", str(tmp_path), "e1", "exp-e1", {})
        assert uri in str(info.value)
    finally:
        process.close()


def test_queued_records_are_written_when_the_driver_goes_away(store):
    local_dir, client, name = store
    process = open_with_results(local_dir, name, 50)
    process.close()  # the pipe closes, as when the driver is killed: no end_experiment
    [parent], children = runs_of(client, name)
    assert parent.info.status == "KILLED"  # the writer ends the runs it held open
    assert children["t1"].info.status == "KILLED"
    assert "driver exited" in children["t1"].data.tags["tuneflows.killed_because"]
    history = client.get_metric_history(children["t1"].info.run_id, "loss")
    assert sorted(m.step for m in history) == list(range(1, 51))

    # resumed: the runs are RUNNING again and no longer say why the earlier driver went
    process = MlflowWriterPool(1)
    try:
        log = process.open_experiment(name, local_dir, "e1", "exp-e1", {})
        log.reopen_trial("t1")
        assert process.sync()
        [parent], children = runs_of(client, name)
        assert parent.info.status == children["t1"].info.status == "RUNNING"
        assert "tuneflows.killed_because" not in parent.data.tags
        assert "tuneflows.killed_because" not in children["t1"].data.tags
    finally:
        process.close()


def test_a_running_trial_s_metrics_reach_mlflow_before_it_ends(store):
    """The writer merges writes but does not hold them for the trial's end: its metrics
    show in MLflow while it runs, as the UI needs."""
    local_dir, client, name = store
    process = open_with_results(local_dir, name, 3)
    try:
        deadline = time.monotonic() + 30
        while True:
            _, children = runs_of(client, name)
            history = (client.get_metric_history(children["t1"].info.run_id, "loss")
                       if "t1" in children else [])
            if len(history) == 3:
                break
            assert time.monotonic() < deadline, history
            time.sleep(0.1)
        run = client.get_run(children["t1"].info.run_id)
        assert run.info.status == "RUNNING"
        assert run.data.params == {"lr": "0.1"}
    finally:
        process.close()


def test_a_resumed_experiment_reuses_its_runs_and_backfills_missing_steps(store):
    local_dir, client, name = store
    open_with_results(local_dir, name, 3).close()

    second = MlflowWriterPool(2)
    try:
        log = second.open_experiment(name, local_dir, "e1", "exp-e1", {})
        log.start_trial("t1", "trial_1", {"lr": 0.1}, {})  # already has a run: no new one
        log.reopen_trial("t1")
        log.backfill("t1", results(1, 5))  # steps 4 and 5 were lost with the driver
        log.log_results("t1", results(6, 6))
        log.end_trial("t1", "TERMINATED")
        log.end_experiment("FINISHED", {})
    finally:
        second.close()
    [parent], children = runs_of(client, name)
    assert list(children) == ["t1"]
    assert parent.info.status == "FINISHED"
    history = client.get_metric_history(children["t1"].info.run_id, "loss")
    assert sorted(m.step for m in history) == [1, 2, 3, 4, 5, 6]


def test_a_dead_writer_never_fails_the_driver(store):
    local_dir, _, name = store
    process = MlflowWriterPool(1)
    try:
        log = process.open_experiment(name, local_dir, "e1", "exp-e1", {})
        [writer] = process.processes
        os.kill(writer.pid, 9)
        writer._process.wait()
        for i in range(1, 200):  # fills the pipe unless sends stop after the failure
            log.log_results("t1", results(i, i))
        log.end_experiment("FINISHED", {})  # warns instead of raising
    finally:
        process.close()


def test_run_experiments_with_a_bad_tracking_uri_fails_before_any_trial(tune_env, tmp_path, monkeypatch):
    import tuneflows

    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    uri = f"sqlite:///{not_a_dir}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)

    def never_runs(config, reporter):
        raise AssertionError("no trial may start")

    with pytest.raises(TuneError, match="Cannot record experiment 'bad_store' in MLflow") as info:
        tuneflows.run_experiments({"bad_store": {"run": never_runs, "config": {"x": 1}}},
                                  verbose=False)
    assert uri in str(info.value)
    experiment_dir = os.path.join(tune_env, "bad_store")
    assert not os.path.isdir(experiment_dir) or find_trial_dirs(experiment_dir) == []
