"""Trial runs written whole (:mod:`tuneflows.recording.mlflow.bulk_runs`) read back
through ``MlflowClient`` exactly as runs written call by call: the same trials go through
two real SQLite stores, one each way, and every field a user reads is compared. An MLflow
whose tables the bulk writer was not checked against gets no bulk writer."""

from __future__ import annotations

import contextlib
import math
import sqlite3

import pytest

from tuneflows.recording.mlflow import bulk_runs
from tuneflows.recording.mlflow.batcher import MlflowBatcher
from tuneflows.recording.mlflow.store import MlflowStore


def copy_store(uri: str, path) -> str:
    """A new store file with ``uri``'s schema (its data too): no second migration."""
    with contextlib.closing(sqlite3.connect(uri[len("sqlite:///"):])) as source, \
            contextlib.closing(sqlite3.connect(str(path))) as target:
        source.backup(target)
    return f"sqlite:///{path}"


def play(batcher: MlflowBatcher) -> None:
    """The same trials, whichever way they are written: tiny ones, one that errors with
    odd values, one that outlives the hold (created RUNNING, later records call by call),
    one still running, one whose config a scheduler changed, a long param."""
    t0 = 1_700_000_000_000
    rows = lambda step, **values: (step, t0 + 100 * step, values)  # noqa: E731
    for i in range(3):
        batcher.start_trial(f"tiny{i}", f"trial_tiny{i}", {"lr": str(0.1 * (i + 1)), "x": "a"},
                            {"experiment_tag": f"{i}_lr={i}", "logdir": f"/r/tiny{i}"}, t0 + i)
        batcher.log_results(f"tiny{i}", [rows(1, loss=1.0 / (i + 1), acc=0.5 + i / 10)])
        batcher.end_trial(f"tiny{i}", "TERMINATED", {"outcome": "completed"}, (), t0 + 50 + i)
    batcher.start_trial("odd", "trial_odd", {"lr": "0.5", "long": "v" * 7000}, {}, t0 + 5)
    batcher.log_results("odd", [rows(1, loss=math.nan, acc=math.inf),
                                rows(2, loss=0.5, acc=-math.inf), rows(2, loss=0.5),
                                rows(3, loss=0.25), rows(1, loss=9.0)])
    batcher.end_trial("odd", "ERROR", {"error": "ValueError: boom"}, (), t0 + 90)
    batcher.start_trial("long", "trial_long", {"lr": "0.9"}, {}, t0 + 6)
    batcher.log_results("long", [rows(1, loss=0.9)])
    batcher.flush_all()  # the trial outlived the hold
    batcher.log_results("long", [rows(2, loss=0.8), rows(3, loss=0.85)])
    batcher.set_tags("long", {"config/lr": "0.95"})
    batcher.end_trial("long", "TERMINATED", {"outcome": "stopped-early"}, (), t0 + 200)
    batcher.start_trial("open", "trial_open", {"lr": "0.2"}, {}, t0 + 7)
    batcher.log_results("open", [rows(1, loss=0.7)])
    batcher.start_trial("pbt", "trial_pbt", {"lr": "0.3"}, {}, t0 + 8)
    batcher.set_tags("pbt", {"config/lr": "0.6"})
    batcher.log_results("pbt", [rows(s, loss=1.0 / s) for s in range(1, 6)])
    batcher.end_trial("pbt", "KILLED", {"outcome": "unfinished"}, (), t0 + 300)
    batcher.flush_all()


def write_both_ways(uri, copy_path, name):
    """The trials of :func:`play` in a store written call by call and in a copy of it
    written whole; returns both stores."""
    call_by_call = MlflowStore(f"{name}_calls", "/unused", tracking_uri=uri)
    whole = MlflowStore(f"{name}_whole", "/unused", tracking_uri=copy_store(uri, copy_path))
    assert whole.bulk is not None
    call_by_call.bulk = None  # the public path, as for a store bulk_runs does not know
    for store in (call_by_call, whole):
        store.open_experiment("e1", "parent", {})
        play(MlflowBatcher(store))
    return call_by_call, whole


def comparable(value: float):
    return "nan" if math.isnan(value) else value


def readable(store: MlflowStore) -> dict:
    """Everything MlflowClient shows of the experiment's trial runs, by trial id; each
    run's own id and its parent's replaced by placeholders."""
    client = store.client
    runs = {}
    for run in client.search_runs([store.experiment_id], "tags.mlflow.parentRunId != ''"):
        info, run_id = run.info, run.info.run_id
        history = {key: [(m.key, comparable(m.value), m.step, m.timestamp)
                         for m in client.get_metric_history(run_id, key)]
                   for key in run.data.metrics}
        experiment_root = client.get_experiment(store.experiment_id).artifact_location
        fetched = client.get_run(run_id)
        assert fetched.data.to_dictionary() == run.data.to_dictionary()
        runs[run.data.tags["trial_id"]] = {
            "status": info.status, "start": info.start_time, "end": info.end_time,
            "name": info.run_name, "lifecycle": info.lifecycle_stage, "user": info.user_id,
            "artifact_uri": info.artifact_uri.replace(experiment_root, "<exp>").replace(
                run_id, "<run>"),
            "tags": {k: v.replace(store.parent_run_id, "<parent>") for k, v in
                     run.data.tags.items()},
            "params": run.data.params, "history": history,
            "metrics": {k: comparable(v) for k, v in run.data.metrics.items()},
            "artifacts": [a.path for a in client.list_artifacts(run_id)],
        }
    return runs


def searched(store: MlflowStore, filter_string: str, order_by: list) -> list:
    return [r.data.tags.get("trial_id", "parent") for r in store.client.search_runs(
        [store.experiment_id], filter_string, order_by=order_by)]


def test_whole_runs_read_back_as_runs_written_call_by_call(tmp_path, mlflow_uri):
    call_by_call, whole = write_both_ways(mlflow_uri, tmp_path / "copy.db", tmp_path.name)
    expected, found = readable(call_by_call), readable(whole)
    assert sorted(found) == ["long", "odd", "open", "pbt", "tiny0", "tiny1", "tiny2"]
    for trial_id in expected:
        assert found[trial_id] == expected[trial_id], trial_id
    assert found["open"]["status"] == "RUNNING" and found["open"]["end"] is None
    assert found["odd"]["status"] == "FAILED" and found["pbt"]["status"] == "KILLED"
    assert len(found["odd"]["params"]["long"]) == 6000  # truncated as log_batch does
    for query in (("metrics.loss < 0.6", ["metrics.loss ASC"]),
                  ("params.lr = '0.2'", []),
                  ("attributes.status = 'FINISHED' and params.x = 'a'", ["params.lr DESC"]),
                  ("tags.`config/lr` = '0.6'", []),
                  ("", ["metrics.acc DESC", "attributes.start_time ASC"])):
        assert searched(whole, *query) == searched(call_by_call, *query), query


def test_held_runs_are_written_together_once_due(tmp_path, mlflow_uri, monkeypatch):
    store = MlflowStore(f"due_{tmp_path.name}", "/unused", tracking_uri=mlflow_uri)
    store.open_experiment("e1", "parent", {})
    batcher = MlflowBatcher(store)
    monkeypatch.setattr("tuneflows.recording.mlflow.batcher.NEW_RUN_WAIT_S", 3600.0)
    run_id = batcher.start_trial("a", "trial_a", {"x": "1"}, {})
    batcher.log_results("a", [(1, 1, {"loss": 1.0})])
    batcher.end_trial("a", "TERMINATED", {})
    assert 3000 < batcher.flush_due() <= 3600  # held: nothing written yet
    assert not store.client.search_runs([store.experiment_id], "tags.trial_id = 'a'")
    monkeypatch.setattr("tuneflows.recording.mlflow.batcher.NEW_RUN_WAIT_S", 0.0)
    batcher.start_trial("b", "trial_b", {"x": "2"}, {})
    assert batcher.flush_due() is None
    runs = {r.data.tags["trial_id"]: r for r in
            store.client.search_runs([store.experiment_id], "tags.trial_id != ''")}
    assert runs["a"].info.run_id == run_id and runs["a"].info.status == "FINISHED"
    assert runs["b"].info.status == "RUNNING" and runs["b"].data.params == {"x": "2"}


def test_the_mlflow_it_was_checked_against_and_the_fallback_for_another(tmp_path, mlflow_uri,
                                                                        monkeypatch):
    import mlflow
    from packaging.specifiers import SpecifierSet

    assert mlflow.__version__ in SpecifierSet(",".join(bulk_runs.CHECKED_MLFLOW))
    store = MlflowStore(f"fallback_{tmp_path.name}", "/unused", tracking_uri=mlflow_uri)
    assert bulk_runs.schema_problem(store.client._tracking_client.store) is None
    sql_store = store.client._tracking_client.store
    assert "revision" in bulk_runs.schema_problem(sql_store, revisions=frozenset({"a1b2"}))
    grown = {**bulk_runs.CHECKED_COLUMNS,
             "metrics": bulk_runs.CHECKED_COLUMNS["metrics"] | {"dataset_uuid"}}
    assert "'metrics' table" in bulk_runs.schema_problem(sql_store, columns=grown)
    # a newer MLflow's store: no bulk writer, and the runs are written call by call
    monkeypatch.setattr(bulk_runs, "CHECKED_REVISIONS", frozenset({"a1b2"}))
    newer = MlflowStore(f"newer_{tmp_path.name}", "/unused", tracking_uri=mlflow_uri)
    assert newer.bulk is None
    newer.open_experiment("e1", "parent", {})
    batcher = MlflowBatcher(newer)
    run_id = batcher.start_trial("a", "trial_a", {"x": "1"}, {})
    assert newer.trial_run_id("a") == run_id  # created at once, by create_run
    batcher.log_results("a", [(1, 1, {"loss": 1.0})])
    batcher.end_trial("a", "TERMINATED", {})
    run = newer.client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.metrics == {"loss": 1.0}


@pytest.mark.parametrize("uri", ["http://127.0.0.1:9"])
def test_only_sql_stores_get_a_bulk_writer(uri):
    from mlflow.tracking import MlflowClient

    assert bulk_runs.bulk_writer_for(MlflowClient(tracking_uri=uri), "0") is None
