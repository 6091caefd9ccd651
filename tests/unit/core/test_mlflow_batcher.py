"""MlflowBatcher: which store calls a stream of recording commands turns into.

The store here is an in-memory stand-in that records calls, since the batcher's job is
the call pattern; the real MLflow store is exercised in
tests/integration/test_mlflow_process.py."""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import pytest

from tuneflows.recording.mlflow import batcher as batcher_module
from tuneflows.recording.mlflow.batcher import MlflowBatcher
from tuneflows.recording.mlflow.bulk_runs import NewRun
from tuneflows.recording.mlflow.values import MAX_METRICS_PER_BATCH, MetricRow, metric_rows, param_strings


class CallLog:
    """Records store calls; ``fail`` makes the named method raise that many times."""

    bulk = None  # no bulk writer: every run is written call by call

    def __init__(self, fail: Optional[dict[str, int]] = None) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.runs: set[str] = set()
        self.fail = dict(fail or {})

    def _record(self, name: str, *args: Any) -> None:
        if self.fail.get(name, 0) > 0:
            self.fail[name] -= 1
            raise RuntimeError(f"{name} is down")
        self.calls.append((name, args))

    def has_trial(self, trial_id: str) -> bool:
        return trial_id in self.runs

    def create_trial_run(self, trial_id: str, run_name: str, tags: Mapping[str, str],
                         start_time_ms: Optional[int] = None) -> str:
        self._record("create_trial_run", trial_id)
        self.runs.add(trial_id)
        return f"run-{trial_id}"

    def trial_run_id(self, trial_id: str) -> Optional[str]:
        return f"run-{trial_id}" if trial_id in self.runs else None

    def write(self, trial_id: Optional[str], rows: Sequence[MetricRow] = (),
              params: Optional[Mapping[str, str]] = None,
              tags: Optional[Mapping[str, str]] = None) -> None:
        self._record("write", trial_id, list(rows), dict(params or {}), dict(tags or {}))

    def backfill(self, trial_id: str, rows: Sequence[MetricRow]) -> None:
        self._record("backfill", trial_id, list(rows))

    def reopen_trial(self, trial_id: str) -> None:
        self._record("reopen_trial", trial_id)

    def log_artifacts(self, trial_id: str, local_dir: str, artifact_path: str) -> None:
        self._record("log_artifacts", trial_id, artifact_path)

    def terminate_trial(self, trial_id: str, status: str,
                        end_time_ms: Optional[int] = None) -> None:
        self._record("terminate_trial", trial_id, status)

    def end_experiment(self, status: str, summary: Mapping[str, Any]) -> None:
        self._record("end_experiment", status)

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


class BulkCallLog(CallLog):
    """A store that writes whole runs (held by the batcher until due)."""

    bulk = object()

    def new_trial_run(self, trial_id: str, run_name: str, tags: Mapping[str, str],
                      start_time_ms: Optional[int] = None) -> NewRun:
        return NewRun(f"run-{trial_id}", run_name, dict(tags), start_time_ms or 1)

    def write_new_runs(self, runs: Mapping[str, NewRun]) -> None:
        self._record("write_new_runs", {t: (r.status, len(r.metrics), dict(r.params),
                                            dict(r.tags)) for t, r in runs.items()})
        self.runs.update(runs)


def rows(first: int, last: int) -> list[MetricRow]:
    return metric_rows([{"training_iteration": i, "timestamp": 1000.0 + i, "loss": 1.0 / i}
                        for i in range(first, last + 1)])


def test_a_short_trial_costs_create_one_batch_and_terminate():
    store = CallLog()
    writer = MlflowBatcher(store)
    writer.start_trial("t1", "trial 1", {"lr": "0.1"}, {"logdir": "/x"})
    writer.log_results("t1", rows(1, 1))
    writer.set_tags("t1", {"note": "a"})
    writer.end_trial("t1", "TERMINATED", {"num_failures": "1"})
    assert store.names() == ["create_trial_run", "write", "terminate_trial"]
    _, (trial_id, written_rows, params, tags) = store.calls[1]
    assert trial_id == "t1"
    assert [step for step, _, _ in written_rows] == [1]
    assert params == {"lr": "0.1"}
    assert tags == {"note": "a", "status": "TERMINATED", "num_failures": "1"}


def test_queued_writes_wait_for_flush_and_keep_their_order():
    store = CallLog()
    writer = MlflowBatcher(store)
    writer.start_trial("t1", "trial 1", {}, {})
    writer.log_results("t1", rows(1, 3))
    writer.log_results("t1", rows(4, 5))
    writer.set_tags("t1", {"phase": "warmup"})
    writer.set_tags("t1", {"phase": "main"})
    assert store.names() == ["create_trial_run"]
    writer.flush_all()
    _, (_, written_rows, _, tags) = store.calls[-1]
    assert [step for step, _, _ in written_rows] == [1, 2, 3, 4, 5]
    assert tags == {"phase": "main"}
    writer.flush_all()
    assert store.names() == ["create_trial_run", "write"]  # nothing left to write


def test_a_full_batch_is_written_without_waiting_for_flush():
    store = CallLog()
    writer = MlflowBatcher(store)
    writer.start_trial("t1", "trial 1", {}, {})
    writer.log_results("t1", rows(1, MAX_METRICS_PER_BATCH - 1))
    assert store.names() == ["create_trial_run"]
    writer.log_results("t1", rows(MAX_METRICS_PER_BATCH, MAX_METRICS_PER_BATCH))
    assert store.names() == ["create_trial_run", "write"]
    assert len(store.calls[-1][1][1]) == MAX_METRICS_PER_BATCH


def test_each_trial_is_flushed_into_its_own_run():
    store = CallLog()
    writer = MlflowBatcher(store)
    for trial_id in ("a", "b"):
        writer.start_trial(trial_id, trial_id, {}, {})
        writer.log_results(trial_id, rows(1, 2))
    writer.end_trial("a", "ERROR", {})
    assert [c for c in store.calls if c[0] == "write"][0][1][0] == "a"
    assert ("terminate_trial", ("a", "ERROR")) in store.calls
    assert not any(c[0] == "write" and c[1][0] == "b" for c in store.calls)
    writer.end_experiment("FINISHED", {})
    assert store.names()[-2:] == ["write", "end_experiment"]
    assert store.calls[-2][1][0] == "b"


def test_a_resumed_trial_keeps_its_run_and_is_backfilled_after_queued_rows():
    store = CallLog()
    store.runs.add("t1")  # found by tag when the experiment was reopened
    writer = MlflowBatcher(store)
    writer.start_trial("t1", "trial 1", {"lr": "0.1"}, {})
    writer.reopen_trial("t1")
    writer.log_results("t1", rows(3, 3))
    writer.backfill("t1", rows(1, 2))
    assert store.names() == ["reopen_trial", "write", "backfill"]


def test_commands_for_a_trial_without_run_are_dropped():
    store = CallLog(fail={"create_trial_run": 3})
    writer = MlflowBatcher(store, retries=2, backoff_s=0)
    writer.start_trial("t1", "trial 1", {"lr": "0.1"}, {})
    writer.log_results("t1", rows(1, 2))
    writer.log_artifacts("t1", "/ckpt", "checkpoints/1")
    writer.end_trial("t1", "TERMINATED", {})
    assert store.calls == []
    assert writer.failures == 1


@pytest.mark.parametrize("failures, written", [(2, True), (3, False)])
def test_a_failing_write_is_retried_then_given_up(failures, written):
    store = CallLog(fail={"write": failures})
    writer = MlflowBatcher(store, retries=2, backoff_s=0)
    writer.start_trial("t1", "trial 1", {}, {})
    writer.log_results("t1", rows(1, 1))
    writer.end_trial("t1", "TERMINATED", {})
    assert ("write" in store.names()) is written
    assert writer.failures == (0 if written else 1)
    assert store.names()[-1] == "terminate_trial"  # the run still ends


def test_metric_rows_skip_bookkeeping_and_non_finite_values():
    [(step, stamp, values)] = metric_rows([{
        "training_iteration": 4, "timestamp": 12.5, "done": False, "pid": 7,
        "loss": 0.5, "nan": float("nan"), "flag": True, "name": "x", "nested": {"acc": 1},
        "config": {"lr": 0.1},
    }])
    assert (step, stamp) == (4, 12500)
    assert values == {"loss": 0.5, "nested/acc": 1.0}


def test_param_strings_flatten_and_prefix():
    assert param_strings({"a": {"b": 1}, "c": [1, 2]}, prefix="config/") == {
        "config/a/b": "1", "config/c": "[1, 2]",
    }


def test_tiny_trials_are_held_and_written_whole_together(monkeypatch):
    monkeypatch.setattr(batcher_module, "NEW_RUN_WAIT_S", 60.0)
    store = BulkCallLog()
    writer = MlflowBatcher(store)
    for trial in ("t1", "t2"):
        assert writer.start_trial(trial, trial, {"lr": "0.1"}, {"logdir": "/x"}) == f"run-{trial}"
        writer.log_results(trial, rows(1, 1))
        writer.end_trial(trial, "TERMINATED" if trial == "t1" else "ERROR", {"n": "1"})
    assert 0 < writer.flush_due() <= 60.0 and store.names() == []  # held until due
    writer.start_trial("t3", "t3", {}, {})  # still running when written
    writer.flush_all()
    [(name, (runs,))] = store.calls
    assert runs == {"t1": ("FINISHED", 1, {"lr": "0.1"}, {"logdir": "/x", "n": "1",
                                                          "status": "TERMINATED"}),
                    "t2": ("FAILED", 1, {"lr": "0.1"}, {"logdir": "/x", "n": "1",
                                                        "status": "ERROR"}),
                    "t3": ("RUNNING", 0, {}, {})}
    writer.log_results("t3", rows(2, 2))  # later records go call by call
    writer.end_trial("t3", "TERMINATED", {})
    assert store.names() == ["write_new_runs", "write", "terminate_trial"]


def test_a_due_run_takes_the_ended_ones_with_it(monkeypatch):
    monkeypatch.setattr(batcher_module, "NEW_RUN_WAIT_S", 0.0)
    store = BulkCallLog()
    writer = MlflowBatcher(store)
    writer.start_trial("t1", "t1", {}, {})
    assert writer.flush_due() is None  # due at once: written RUNNING
    monkeypatch.setattr(batcher_module, "NEW_RUN_WAIT_S", 60.0)
    writer.start_trial("t2", "t2", {}, {})
    writer.end_trial("t2", "TERMINATED", {})
    writer.start_trial("t3", "t3", {}, {})
    assert writer.flush_due() > 0 and len(store.calls) == 1
    writer.kill_open_runs("driver gone")  # held runs written, then the open ones killed
    assert store.names() == ["write_new_runs", "write_new_runs", "write", "terminate_trial",
                             "write", "terminate_trial"]
    assert set(store.calls[1][1][0]) == {"t2", "t3"}


def test_a_failed_whole_write_counts_every_trial_in_it_lost():
    store = BulkCallLog(fail={"write_new_runs": 9})
    writer = MlflowBatcher(store, retries=0, backoff_s=0)
    for trial in ("t1", "t2"):
        writer.start_trial(trial, trial, {}, {})
        writer.end_trial(trial, "TERMINATED", {})
    writer.flush_all()
    assert writer.lost_trials == {"t1", "t2"}


def test_a_writer_that_is_never_idle_still_writes_its_held_runs(monkeypatch):
    monkeypatch.setattr(batcher_module, "NEW_RUN_WAIT_S", 60.0)
    monkeypatch.setattr(batcher_module, "MAX_HELD_RUNS", 3)
    store = BulkCallLog()
    writer = MlflowBatcher(store)
    for trial in ("t1", "t2", "t3", "t4"):
        writer.start_trial(trial, trial, {}, {})
    [(name, (runs,))] = store.calls
    assert sorted(runs) == ["t1", "t2", "t3"]
