"""The MLflow store of an experiment: one parent run per experiment, one nested run
per trial, written through ``MlflowClient`` in an MLflow writer process
(:mod:`tuneflows.recording.mlflow.writer_child`)."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from typing import Any, ContextManager, Mapping, Optional, Sequence

from tuneflows.recording.mlflow import tags as mlflow_tags
from tuneflows.model.codes import TrialStatus
from tuneflows.recording.mlflow.bulk_runs import (
    BulkRunWriter, NewRun, bulk_writer_for, new_run_id,
)
from tuneflows.recording.mlflow.values import (
    MAX_ENTITIES_PER_BATCH, MAX_PARAMS_PER_BATCH, MAX_TAGS_PER_BATCH, MetricRow,
)
from tuneflows.services.schema_snapshots import MLFLOW
from tuneflows.services.startup_timeline import mark

logger = logging.getLogger(__name__)

STATUS_TO_MLFLOW = {TrialStatus.TERMINATED: "FINISHED", TrialStatus.ERROR: "FAILED"}
#: The experiment kind that opens an experiment in MLflow's model-training view (runs,
#: params, metrics) rather than GenAI's.
MODEL_TRAINING_KIND = "custom_model_development"


def default_tracking_uri(local_dir: str) -> str:
    """The embedded store: SQLite file ``<local_dir>/mlflow.db``."""
    return "sqlite:///" + os.path.join(os.path.abspath(local_dir), "mlflow.db")


def tracking_uri_for(local_dir: str) -> str:
    """``MLFLOW_TRACKING_URI`` if set, else the embedded store (:func:`default_tracking_uri`)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri(local_dir)


def _sqlite_path(tracking_uri: str) -> str:
    return tracking_uri[len("sqlite:///"):].split("?", 1)[0]


def store_creation_lock(tracking_uri: str) -> ContextManager[Any]:
    """Serialises opening a SQLite store across processes: MLflow's schema migration of a
    new database fails (and can leave it half-migrated) when two processes run it at once."""
    if not tracking_uri.startswith("sqlite:///"):
        return contextlib.nullcontext()
    from filelock import FileLock

    database = _sqlite_path(tracking_uri)
    os.makedirs(os.path.dirname(os.path.abspath(database)), exist_ok=True)
    return FileLock(database + ".lock")


def use_write_ahead_log(tracking_uri: str) -> None:
    """Switches a SQLite store to write-ahead logging (a setting kept in the file).

    Each MLflow call commits several times; in SQLite's default rollback-journal mode
    every commit creates, syncs and deletes a journal file. In WAL mode a commit appends
    to one log, and readers (the MLflow UI) no longer wait for writers. Measured with
    ``python -m benchmarks.mlflow_calls``. Every ``sqlite:///`` store tuneflows writes
    gets it, the embedded one and a user's own: WAL needs every process using the file
    on one host, and a SQLite file already does (SQLite's locking is not safe over a
    network filesystem in either mode). The other settings MLflow gives its SQLite
    connections (``foreign_keys``, ``busy_timeout``) are MLflow's, per connection.
    Prefect's database is Prefect's own: its server puts it in WAL mode with
    ``synchronous=NORMAL`` on every connection.

    Args:
        tracking_uri: A ``sqlite:///`` URI of an existing store.
    """
    with contextlib.closing(sqlite3.connect(_sqlite_path(tracking_uri), timeout=20)) as db:
        db.execute("PRAGMA journal_mode=WAL")


class MlflowStore:
    """Writes an experiment's runs through ``MlflowClient`` (no global fluent state).

    Args:
        experiment_name: Name of the MLflow experiment (the tuneflows experiment's).
        local_dir: Results root; holds ``mlflow.db`` and ``mlartifacts/`` by default.
        tracking_uri: Overrides ``MLFLOW_TRACKING_URI``.
    """

    def __init__(self, experiment_name: str, local_dir: str, tracking_uri: Optional[str] = None):
        from mlflow.tracking import MlflowClient

        self.tracking_uri = tracking_uri or tracking_uri_for(local_dir)
        with store_creation_lock(self.tracking_uri):
            if self.tracking_uri.startswith("sqlite:///") and MLFLOW.create(
                    _sqlite_path(self.tracking_uri)):
                mark("MLflow store made from its schema snapshot")
            self.client = MlflowClient(tracking_uri=self.tracking_uri)
            existing = self.client.get_experiment_by_name(experiment_name)
            if existing is not None:
                self.experiment_id = existing.experiment_id
                if mlflow_tags.EXPERIMENT_KIND not in existing.tags:
                    self.client.set_experiment_tag(self.experiment_id, mlflow_tags.EXPERIMENT_KIND,
                                                   MODEL_TRAINING_KIND)
            else:
                artifact_location = None
                if self.tracking_uri.startswith("sqlite:"):
                    artifact_location = "file://" + os.path.join(
                        os.path.abspath(local_dir), "mlartifacts", experiment_name
                    )
                self.experiment_id = self.client.create_experiment(
                    experiment_name, artifact_location=artifact_location,
                    tags={mlflow_tags.EXPERIMENT_KIND: MODEL_TRAINING_KIND},
                )
            if self.tracking_uri.startswith("sqlite:///"):
                use_write_ahead_log(self.tracking_uri)
        self.parent_run_id: Optional[str] = None
        self.trial_runs: dict[str, str] = {}
        self._killed_trials: set[str] = set()  # trial runs an earlier driver ended KILLED
        #: Writes whole trial runs in one transaction (None: not a SQL store MLflow
        #: serves with the models :mod:`~tuneflows.recording.mlflow.bulk_runs` knows).
        self.bulk: Optional[BulkRunWriter] = bulk_writer_for(self.client, self.experiment_id)

    def open_experiment(self, experiment_id: str, run_name: str, tags: Mapping[str, str],
                        parent_run_id: Optional[str] = None, reopen: bool = True) -> str:
        """Creates the parent run of tuneflows experiment ``experiment_id``, or, when it
        exists (a resumed experiment), marks it RUNNING (unless not ``reopen``) and
        finds its trial runs.

        Args:
            experiment_id: The tuneflows experiment id (the parent run's
                ``tuneflows.experiment_id`` tag).
            run_name: The parent run's name, if it is created.
            tags: The parent run's tags, if it is created.
            parent_run_id: The parent run another writer process opened: this
                recorder then only finds its trial runs.
            reopen: Mark an existing parent run RUNNING (a replay of the trial files
                keeps its status).

        Returns:
            The parent run's id.
        """
        if parent_run_id is not None:
            self.parent_run_id = parent_run_id
            self._find_trial_runs()
            return parent_run_id
        found = self.client.search_runs(
            [self.experiment_id], filter_string=f"tags.`{mlflow_tags.EXPERIMENT_ID}` = '{experiment_id}'",
            max_results=1,
        )
        if not found:
            run = self.client.create_run(
                self.experiment_id, run_name=run_name,
                tags={mlflow_tags.EXPERIMENT_ID: experiment_id, **tags},
            )
            self.parent_run_id = run.info.run_id
            return self.parent_run_id
        self.parent_run_id = found[0].info.run_id
        if reopen:
            self.client.update_run(self.parent_run_id, status="RUNNING")
            if mlflow_tags.KILLED_BECAUSE in found[0].data.tags:  # why an earlier driver stopped
                self.client.delete_tag(self.parent_run_id, mlflow_tags.KILLED_BECAUSE)
        self._find_trial_runs()
        return self.parent_run_id

    def _find_trial_runs(self) -> None:
        page_token = None
        while True:
            page = self.client.search_runs(
                [self.experiment_id],
                filter_string=f"tags.mlflow.parentRunId = '{self.parent_run_id}'",
                max_results=1000, page_token=page_token,
            )
            for run in page:
                trial_id = run.data.tags.get(mlflow_tags.TRIAL_ID)
                if trial_id:
                    self.trial_runs[trial_id] = run.info.run_id
                    if mlflow_tags.KILLED_BECAUSE in run.data.tags:
                        self._killed_trials.add(trial_id)
            page_token = page.token
            if not page_token:
                return

    def has_trial(self, trial_id: str) -> bool:
        """Whether ``trial_id`` has a run (created now or before a resume)."""
        return trial_id in self.trial_runs

    def create_trial_run(self, trial_id: str, run_name: str, tags: Mapping[str, str],
                         start_time_ms: Optional[int] = None) -> str:
        """Creates a trial's run, nested under the parent run, started at
        ``start_time_ms`` (milliseconds since the epoch; default now)."""
        run = self.client.create_run(self.experiment_id, start_time=start_time_ms,
                                     run_name=run_name, tags=self._trial_tags(trial_id, tags))
        self.trial_runs[trial_id] = run.info.run_id
        return run.info.run_id

    def new_trial_run(self, trial_id: str, run_name: str, tags: Mapping[str, str],
                      start_time_ms: Optional[int] = None) -> NewRun:
        """A trial's run, with the tags :meth:`create_trial_run` gives it and an id of
        its own, held until :meth:`write_new_runs` writes it (started at
        ``start_time_ms``; default now)."""
        return NewRun(new_run_id(), run_name, self._trial_tags(trial_id, tags),
                      start_time_ms or int(time.time() * 1000))

    def _trial_tags(self, trial_id: str, tags: Mapping[str, str]) -> dict[str, str]:
        return {mlflow_tags.PARENT_RUN_ID: self.parent_run_id or "",
                mlflow_tags.TRIAL_ID: trial_id, **tags}

    def write_new_runs(self, runs: Mapping[str, NewRun]) -> None:
        """Writes trial runs that are not in the store yet (trial id -> run), whole and
        in one transaction (:attr:`bulk`, which must not be None)."""
        self.bulk.write(list(runs.values()))
        self.trial_runs.update((trial_id, run.run_id) for trial_id, run in runs.items())

    def trial_run_id(self, trial_id: str) -> Optional[str]:
        """The id of the trial's run (None: it has none)."""
        return self.trial_runs.get(trial_id)

    def write(self, trial_id: Optional[str], rows: Sequence[MetricRow] = (),
              params: Optional[Mapping[str, str]] = None,
              tags: Optional[Mapping[str, str]] = None) -> None:
        """Logs metric rows, params and tags on a trial's run (the parent's when
        ``trial_id`` is None) in as few ``log_batch`` calls as MLflow's limits allow.
        A value MLflow rejects is dropped with a warning; the rest of its batch is kept."""
        from mlflow.entities import Metric, Param, RunTag

        run_id = self.trial_runs[trial_id] if trial_id else self.parent_run_id
        metrics = [Metric(k, v, stamp, step) for step, stamp, values in rows
                   for k, v in values.items()]
        param_list = [Param(k, v) for k, v in (params or {}).items()]
        tag_list = [RunTag(k, str(v)) for k, v in (tags or {}).items()]
        while metrics or param_list or tag_list:
            batch_params = param_list[:MAX_PARAMS_PER_BATCH]
            batch_tags = tag_list[:MAX_TAGS_PER_BATCH]
            room = MAX_ENTITIES_PER_BATCH - len(batch_params) - len(batch_tags)
            self._log_batch(run_id, metrics[:room], batch_params, batch_tags)
            metrics = metrics[room:]
            param_list = param_list[MAX_PARAMS_PER_BATCH:]
            tag_list = tag_list[MAX_TAGS_PER_BATCH:]

    def _log_batch(self, run_id: str, metrics: list, params: list, tags: list) -> None:
        """One ``log_batch``; when MLflow rejects a value in it, the halves are tried in
        turn, down to the one value that is dropped (and named in a warning)."""
        from mlflow.exceptions import MlflowException

        try:
            self.client.log_batch(run_id, metrics=metrics, params=params, tags=tags)
            return
        except MlflowException as exc:
            if exc.error_code != "INVALID_PARAMETER_VALUE":
                raise
            problem = exc.message
        entities = [("metric", m) for m in metrics] + [("param", p) for p in params] + [
            ("tag", t) for t in tags]
        if len(entities) == 1:
            kind, entity = entities[0]
            logger.warning("MLflow rejected %s %r of run %s, which is dropped (the rest "
                           "of its batch is kept): %s", kind, entity.key, run_id, problem)
            return
        middle = len(entities) // 2
        for half in (entities[:middle], entities[middle:]):
            self._log_batch(run_id, *[[e for k, e in half if k == kind]
                                      for kind in ("metric", "param", "tag")])

    def log_parent(self, params: Mapping[str, str], metrics: Mapping[str, float],
                   tags: Mapping[str, str], texts: Mapping[str, str]) -> None:
        """Logs params, metrics (at step 0), tags and text artifacts on the parent run.

        MLflow's params cannot change: a param a resumed experiment's parent run already
        holds with another value goes to the run's tags under the same name."""
        held = self.client.get_run(self.parent_run_id).data.params if params else {}
        changed = {k: v for k, v in params.items() if k in held and held[k] != v}
        if changed:
            logger.warning("The parent run of this resumed experiment keeps its first "
                           "params; the new values of %s are in its tags.", sorted(changed))
        rows = [(0, int(time.time() * 1000), dict(metrics))] if metrics else []
        self.write(None, rows, {k: v for k, v in params.items() if k not in changed},
                   {**tags, **changed})
        for artifact_file, text in texts.items():
            self.client.log_text(self.parent_run_id, text, artifact_file)

    def backfill(self, trial_id: str, rows: Sequence[MetricRow]) -> int:
        """Logs the rows whose steps the run lacks (lost when a driver was killed, or
        while MLflow was down) and returns how many."""
        history = self.client.get_metric_history(self.trial_runs[trial_id], "time_total_s")
        logged = max((m.step for m in history), default=0)
        missing = [row for row in rows if row[0] > logged]
        if missing:
            self.write(trial_id, missing)
        return len(missing)

    def reopen_trial(self, trial_id: str) -> None:
        """Marks a resumed trial's run RUNNING again, without the tag saying why an
        earlier driver ended it KILLED."""
        self.client.update_run(self.trial_runs[trial_id], status="RUNNING")
        if trial_id in self._killed_trials:
            self._killed_trials.discard(trial_id)
            self.client.delete_tag(self.trial_runs[trial_id], mlflow_tags.KILLED_BECAUSE)

    def log_artifacts(self, trial_id: str, local_dir: str, artifact_path: str) -> None:
        """Copies a directory (a checkpoint) into the trial run's artifacts."""
        self.client.log_artifacts(self.trial_runs[trial_id], local_dir, artifact_path)

    def log_file(self, trial_id: str, path: str) -> None:
        """Copies a file (a trial's ``error.txt``) into the trial run's artifacts."""
        self.client.log_artifact(self.trial_runs[trial_id], path)

    def terminate_trial(self, trial_id: str, status: str, end_time_ms: Optional[int] = None) -> None:
        """Terminates a trial's run with the MLflow status of tuneflows ``status``, ended
        at ``end_time_ms`` (milliseconds since the epoch; default now)."""
        self.client.set_terminated(self.trial_runs[trial_id], STATUS_TO_MLFLOW.get(status, "KILLED"),
                                   end_time=end_time_ms)

    def end_experiment(self, status: str, summary: Mapping[str, Any]) -> None:
        """Tags the parent run with ``summary`` and terminates it with ``status``
        (FINISHED, FAILED or KILLED)."""
        self.write(None, tags={k: str(v) for k, v in summary.items()})
        self.client.set_terminated(self.parent_run_id, status)
