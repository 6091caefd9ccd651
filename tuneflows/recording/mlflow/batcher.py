"""Merges an experiment's queued MLflow writes into few ``log_batch`` calls.

Each MLflow call costs a store transaction, so the writer process hands every command
to a :class:`MlflowBatcher`: params, metrics and tags for a run are held until the
command queue runs dry (``flush_all``), a batch is full, or the run ends, and then go to
MLflow together. A one-result trial costs three calls (create, one batch, terminate),
and a backlog of results one call per 1,000 values.

Where the store can write whole runs (``store.bulk``: a SQL store,
:mod:`~tuneflows.recording.mlflow.bulk_runs`), a new trial's run is held instead of
created: it gets its id at once, and is written whole (run, params, metrics, tags and,
if the trial ended by then, its end) once it is :data:`NEW_RUN_WAIT_S` old, together
with every other held run, in one transaction. A trial that outlives the wait is
then in MLflow as RUNNING and its later records go call by call.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Protocol, Sequence

from tuneflows.recording.mlflow import tags as mlflow_tags
from tuneflows.recording.mlflow.bulk_runs import BulkRunWriter, NewRun
from tuneflows.recording.mlflow.store import STATUS_TO_MLFLOW
from tuneflows.recording.mlflow.values import MAX_METRICS_PER_BATCH, MetricRow
from tuneflows.recording.retry import Outage, call_with_retries

#: How long a held new run waits (seconds after its trial started) before it is written:
#: a trial that ends within it costs no MLflow call of its own.
NEW_RUN_WAIT_S = 0.5
#: Held runs written at once, due or not, when this many are held (a writer that never
#: finds its queue empty still writes them).
MAX_HELD_RUNS = 500


class RunStore(Protocol):
    """What the batcher writes to (:class:`~tuneflows.recording.mlflow.store.MlflowStore`)."""

    bulk: Optional[BulkRunWriter]

    def has_trial(self, trial_id: str) -> bool: ...
    def new_trial_run(self, trial_id: str, run_name: str, tags: Mapping[str, str],
                      start_time_ms: Optional[int] = None) -> NewRun: ...
    def write_new_runs(self, runs: Mapping[str, NewRun]) -> None: ...
    def create_trial_run(self, trial_id: str, run_name: str, tags: Mapping[str, str],
                         start_time_ms: Optional[int] = None) -> str: ...
    def trial_run_id(self, trial_id: str) -> Optional[str]: ...
    def write(self, trial_id: Optional[str], rows: Sequence[MetricRow] = (),
              params: Optional[Mapping[str, str]] = None,
              tags: Optional[Mapping[str, str]] = None) -> None: ...
    def backfill(self, trial_id: str, rows: Sequence[MetricRow]) -> int: ...
    def reopen_trial(self, trial_id: str) -> None: ...
    def log_artifacts(self, trial_id: str, local_dir: str, artifact_path: str) -> None: ...
    def log_file(self, trial_id: str, path: str) -> None: ...
    def log_parent(self, params: Mapping[str, str], metrics: Mapping[str, float],
                   tags: Mapping[str, str], texts: Mapping[str, str]) -> None: ...
    def terminate_trial(self, trial_id: str, status: str,
                        end_time_ms: Optional[int] = None) -> None: ...
    def end_experiment(self, status: str, summary: Mapping[str, Any]) -> None: ...


@dataclass
class PendingWrites:
    """What is queued for one run: metric rows, params and tags."""

    rows: list[MetricRow] = field(default_factory=list)
    values: int = 0
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


class MlflowBatcher:
    """Applies recording commands to a store, merging each run's writes.

    A failing store call is retried (``retries`` times, with a growing pause) and then
    logged as a warning with its data dropped: MLflow being down never fails a trial,
    and the trial's files keep every result (``tuneflows sync-mlflow`` replays them).
    Once a call has failed for good, the store counts as down (:class:`Outage`): calls
    are skipped for a few seconds, then tried once each until one succeeds, so a dead
    tracking server costs seconds, not retries times calls. What was dropped is kept
    in :attr:`lost_trials` and :attr:`parent_lost`.

    Args:
        store: Where runs are written.
        retries: Extra attempts of a failing call.
        backoff_s: Pause before the first retry (doubled per attempt).
        owns_parent: This batcher created (or reopened) the parent run, which
            :meth:`kill_open_runs` then ends.
        outage: Tracks whether the store is down (a new one by default).

    Attributes:
        lost_trials: Ids of the trials some of whose records were dropped.
        parent_lost: Some records of the parent run were dropped.
    """

    def __init__(self, store: RunStore, retries: int = 2, backoff_s: float = 0.5,
                 owns_parent: bool = False, outage: Optional[Outage] = None) -> None:
        self._store = store
        self._retries = retries
        self._backoff_s = backoff_s
        self._owns_parent = owns_parent
        self._outage = outage or Outage()
        self._pending: dict[str, PendingWrites] = {}
        self._open: set[str] = set()
        self._new: dict[str, tuple[NewRun, float]] = {}  # trial -> held run, when held
        self.failures = 0
        self.lost_trials: set[str] = set()
        self.parent_lost = False

    def start_trial(self, trial_id: str, run_name: str, params: Mapping[str, str],
                    tags: Mapping[str, str], start_time_ms: Optional[int] = None) -> Optional[str]:
        """Creates the trial's run (started at ``start_time_ms``, default now) unless it
        has one (a resumed trial) and queues its params; returns the run's id (None:
        MLflow could not create it)."""
        if self._store.has_trial(trial_id):
            return self._store.trial_run_id(trial_id)
        if trial_id in self._new:
            return self._new[trial_id][0].run_id
        if self._store.bulk is not None:
            run = self._store.new_trial_run(trial_id, run_name, tags, start_time_ms)
            run.add_params(params)
            self._new[trial_id] = (run, time.monotonic())
            self._open.add(trial_id)
            if len(self._new) >= MAX_HELD_RUNS:
                self._write_new(list(self._new))
            return run.run_id
        if self._call(trial_id, self._store.create_trial_run, trial_id, run_name, tags,
                      start_time_ms):
            self._open.add(trial_id)
            self._pending_of(trial_id).params.update(params)
            return self._store.trial_run_id(trial_id)
        return None

    def log_results(self, trial_id: str, rows: Sequence[MetricRow]) -> None:
        """Queues metric rows; a full batch is written at once."""
        held = self._new.get(trial_id)
        if held is not None:
            held[0].add_rows(rows)
            if len(held[0].metrics) >= MAX_METRICS_PER_BATCH:
                self.flush(trial_id)
            return
        pending = self._pending_of(trial_id)
        pending.rows.extend(rows)
        pending.values += sum(len(values) for _, _, values in rows)
        if pending.values >= MAX_METRICS_PER_BATCH:
            self.flush(trial_id)

    def set_tags(self, trial_id: str, tags: Mapping[str, str]) -> None:
        """Queues tags (a later value of a key replaces an earlier one)."""
        held = self._new.get(trial_id)
        (held[0].tags if held is not None else self._pending_of(trial_id).tags).update(tags)

    def log_artifacts(self, trial_id: str, local_dir: str, artifact_path: str) -> None:
        """Copies a checkpoint directory into the run's artifacts now."""
        self._write_new([trial_id])
        if self._store.has_trial(trial_id):
            self._call(trial_id, self._store.log_artifacts, trial_id, local_dir, artifact_path)

    def backfill(self, trial_id: str, rows: Sequence[MetricRow]) -> None:
        """Logs the rows a resumed trial's run lacks."""
        self._write_new([trial_id])
        if self._store.has_trial(trial_id):
            self.flush(trial_id)
            self._call(trial_id, self._store.backfill, trial_id, rows)

    def reopen_trial(self, trial_id: str) -> None:
        """Marks a resumed trial's run RUNNING."""
        self._write_new([trial_id])
        if self._store.has_trial(trial_id) and self._call(
                trial_id, self._store.reopen_trial, trial_id):
            self._open.add(trial_id)

    def end_trial(self, trial_id: str, status: str, tags: Mapping[str, str],
                  files: Sequence[str] = (), end_time_ms: Optional[int] = None) -> None:
        """Writes what is queued for the trial with its final tags and copies ``files``
        (its ``error.txt``) into its artifacts, then ends its run (at ``end_time_ms``,
        default now); a held run is ended where it is held, and written later."""
        self.set_tags(trial_id, {mlflow_tags.STATUS: status, **tags})
        held = self._new.get(trial_id)
        if held is not None:
            held[0].end(STATUS_TO_MLFLOW.get(status, "KILLED"),
                        end_time_ms or int(time.time() * 1000))
            held[0].files.extend(files)
            self._open.discard(trial_id)
            return
        self.flush(trial_id)
        if self._store.has_trial(trial_id):
            for path in files:
                self._call(trial_id, self._store.log_file, trial_id, path)
            self._call(trial_id, self._store.terminate_trial, trial_id, status, end_time_ms)
        self._open.discard(trial_id)

    def log_parent(self, params: Mapping[str, str], metrics: Mapping[str, float],
                   tags: Mapping[str, str], texts: Mapping[str, str]) -> None:
        """Writes params, metrics, tags and text artifacts on the parent run now."""
        self._call(None, self._store.log_parent, params, metrics, tags, texts)

    def end_experiment(self, status: str, summary: Mapping[str, Any]) -> None:
        """Writes everything queued, then tags and ends the parent run."""
        self.flush_all()
        self._call(None, self._store.end_experiment, status, summary)
        self._owns_parent = False

    def kill_open_runs(self, reason: str) -> int:
        """The driver is gone: writes what is queued, then marks every run still open
        (the trials' and, if this batcher owns it, the parent's) KILLED, tagged with
        ``reason``; returns how many runs that was."""
        self.flush_all()
        runs = sorted(self._open)
        for trial_id in runs:
            self.end_trial(trial_id, "KILLED", {mlflow_tags.KILLED_BECAUSE: reason})
        owned_parent = self._owns_parent
        if owned_parent:
            self.end_experiment("KILLED", {mlflow_tags.KILLED_BECAUSE: reason})
        return len(runs) + int(owned_parent)

    def flush(self, trial_id: str) -> None:
        """Writes what is queued for one trial in one batch (or as few as limits allow)."""
        if trial_id in self._new:
            self._write_new([trial_id])
            return
        pending = self._pending.pop(trial_id, None)
        if pending is None or not self._store.has_trial(trial_id):
            return
        if pending.rows or pending.params or pending.tags:
            self._call(trial_id, self._store.write, trial_id, pending.rows, pending.params,
                       pending.tags)

    def flush_all(self) -> None:
        """Writes everything queued, and every held run."""
        self._write_new(list(self._new))
        for trial_id in list(self._pending):
            self.flush(trial_id)

    def flush_due(self) -> Optional[float]:
        """Writes what is queued for runs in the store and, once a held run is
        :data:`NEW_RUN_WAIT_S` old, it and every held run that ended, in one
        transaction; returns the seconds until the next held run is due (None: none)."""
        for trial_id in list(self._pending):
            self.flush(trial_id)
        if not self._new:
            return None
        now = time.monotonic()
        due = [t for t, (run, held_at) in self._new.items()
               if now - held_at >= NEW_RUN_WAIT_S]
        if due:
            self._write_new(due + [t for t, (run, _) in self._new.items()
                                   if run.ended and t not in due])
        if not self._new:
            return None
        return max(0.0, min(at for _, at in self._new.values()) + NEW_RUN_WAIT_S - now)

    def _write_new(self, trial_ids: Sequence[str]) -> None:
        """Writes held runs in one transaction (the ended ones whole, the others
        RUNNING), then copies the files of the ended ones into their artifacts."""
        runs = {t: self._new.pop(t)[0] for t in trial_ids if t in self._new}
        if not runs:
            return
        first, *others = runs
        if not self._call(first, self._store.write_new_runs, runs):
            self.lost_trials.update(others)
            return
        for trial_id, run in runs.items():
            for path in run.files:
                self._call(trial_id, self._store.log_file, trial_id, path)

    def _pending_of(self, trial_id: str) -> PendingWrites:
        pending = self._pending.get(trial_id)
        if pending is None:
            pending = self._pending[trial_id] = PendingWrites()
        return pending

    def _call(self, owner: Optional[str], fn: Callable[..., Any], *args: Any) -> bool:
        """Calls the store for ``owner`` (a trial id; None: the parent run), unless it is
        down; what fails or is skipped is counted as lost."""
        ok = not self._outage.skipping() and call_with_retries(
            fn, *args, retries=self._outage.retries(self._retries), backoff_s=self._backoff_s,
            what="MLflow call")
        if ok:
            self._outage.succeeded()
            return True
        if not self._outage.skipping():
            self._outage.failed()
        self.failures += 1
        if owner is None:
            self.parent_lost = True
        else:
            self.lost_trials.add(owner)
        return False
