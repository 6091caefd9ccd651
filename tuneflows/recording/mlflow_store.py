"""The MLflow store of an experiment: one parent run per experiment, one nested run
per trial, written through ``MlflowClient`` in an MLflow writer process
(:mod:`tuneflows.recording.mlflow_writer_process`)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from typing import Any, ContextManager, Mapping, Optional, Sequence

from tuneflows.recording.mlflow_values import (
    MAX_METRICS_PER_BATCH, MAX_PARAM_LENGTH, MAX_PARAMS_PER_BATCH, MAX_TAGS_PER_BATCH, MetricRow,
)

EXPERIMENT_ID_TAG = "tuneflows.experiment_id"
STATUS_TO_MLFLOW = {"TERMINATED": "FINISHED", "ERROR": "FAILED"}


def default_tracking_uri(local_dir: str) -> str:
    """The embedded store: SQLite file ``<local_dir>/mlflow.db``."""
    return "sqlite:///" + os.path.join(os.path.abspath(local_dir), "mlflow.db")


def tracking_uri_for(local_dir: str) -> str:
    """``MLFLOW_TRACKING_URI`` if set, else the embedded store (:func:`default_tracking_uri`)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri(local_dir)


def _sqlite_path(tracking_uri: str) -> str:
    return tracking_uri[len("sqlite:///"):].split("?", 1)[0]


def _store_creation_lock(tracking_uri: str) -> ContextManager[Any]:
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
    ``python -m benchmarks.mlflow_calls``. Only the embedded store gets it: WAL needs
    every process on one host, which a user's own SQLite URI need not promise.

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
        with _store_creation_lock(self.tracking_uri):
            self.client = MlflowClient(tracking_uri=self.tracking_uri)
            existing = self.client.get_experiment_by_name(experiment_name)
            if existing is not None:
                self.experiment_id = existing.experiment_id
            else:
                artifact_location = None
                if self.tracking_uri.startswith("sqlite:"):
                    artifact_location = "file://" + os.path.join(
                        os.path.abspath(local_dir), "mlartifacts", experiment_name
                    )
                self.experiment_id = self.client.create_experiment(
                    experiment_name, artifact_location=artifact_location
                )
            if self.tracking_uri == default_tracking_uri(local_dir):
                use_write_ahead_log(self.tracking_uri)
        self.parent_run_id: Optional[str] = None
        self.trial_runs: dict[str, str] = {}

    def open_experiment(self, experiment_id: str, run_name: str, tags: Mapping[str, str],
                        parent_run_id: Optional[str] = None) -> str:
        """Creates the parent run of tuneflows experiment ``experiment_id``, or, when it
        exists (a resumed experiment), marks it RUNNING and finds its trial runs.

        Args:
            experiment_id: The tuneflows experiment id (the parent run's
                ``tuneflows.experiment_id`` tag).
            run_name: The parent run's name, if it is created.
            tags: The parent run's tags, if it is created.
            parent_run_id: The parent run another writer process opened: this
                recorder then only finds its trial runs.

        Returns:
            The parent run's id.
        """
        if parent_run_id is not None:
            self.parent_run_id = parent_run_id
            self._find_trial_runs()
            return parent_run_id
        found = self.client.search_runs(
            [self.experiment_id], filter_string=f"tags.`{EXPERIMENT_ID_TAG}` = '{experiment_id}'",
            max_results=1,
        )
        if not found:
            run = self.client.create_run(
                self.experiment_id, run_name=run_name,
                tags={EXPERIMENT_ID_TAG: experiment_id, **tags},
            )
            self.parent_run_id = run.info.run_id
            return self.parent_run_id
        self.parent_run_id = found[0].info.run_id
        self.client.update_run(self.parent_run_id, status="RUNNING")
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
                trial_id = run.data.tags.get("trial_id")
                if trial_id:
                    self.trial_runs[trial_id] = run.info.run_id
            page_token = page.token
            if not page_token:
                return

    def has_trial(self, trial_id: str) -> bool:
        """Whether ``trial_id`` has a run (created now or before a resume)."""
        return trial_id in self.trial_runs

    def create_trial_run(self, trial_id: str, run_name: str, tags: Mapping[str, str]) -> str:
        """Creates a trial's run, nested under the parent run."""
        all_tags = {"mlflow.parentRunId": self.parent_run_id or "", "trial_id": trial_id, **tags}
        run = self.client.create_run(self.experiment_id, run_name=run_name, tags=all_tags)
        self.trial_runs[trial_id] = run.info.run_id
        return run.info.run_id

    def write(self, trial_id: Optional[str], rows: Sequence[MetricRow] = (),
              params: Optional[Mapping[str, str]] = None,
              tags: Optional[Mapping[str, str]] = None) -> None:
        """Logs metric rows, params and tags on a trial's run (the parent's when
        ``trial_id`` is None) in as few ``log_batch`` calls as MLflow's limits allow."""
        from mlflow.entities import Metric, Param, RunTag

        run_id = self.trial_runs[trial_id] if trial_id else self.parent_run_id
        metrics = [Metric(k, v, stamp, step) for step, stamp, values in rows
                   for k, v in values.items()]
        param_list = [Param(k, v) for k, v in (params or {}).items()]
        tag_list = [RunTag(k, str(v)) for k, v in (tags or {}).items()]
        while metrics or param_list or tag_list:
            self.client.log_batch(
                run_id,
                metrics=metrics[:MAX_METRICS_PER_BATCH],
                params=param_list[:MAX_PARAMS_PER_BATCH],
                tags=tag_list[:MAX_TAGS_PER_BATCH],
            )
            metrics = metrics[MAX_METRICS_PER_BATCH:]
            param_list = param_list[MAX_PARAMS_PER_BATCH:]
            tag_list = tag_list[MAX_TAGS_PER_BATCH:]

    def backfill(self, trial_id: str, rows: Sequence[MetricRow]) -> None:
        """Logs the rows whose steps the run lacks (lost when a driver was killed)."""
        history = self.client.get_metric_history(self.trial_runs[trial_id], "time_total_s")
        logged = max((m.step for m in history), default=0)
        missing = [row for row in rows if row[0] > logged]
        if missing:
            self.write(trial_id, missing)

    def reopen_trial(self, trial_id: str) -> None:
        """Marks a resumed trial's run RUNNING again."""
        self.client.update_run(self.trial_runs[trial_id], status="RUNNING")

    def log_artifacts(self, trial_id: str, local_dir: str, artifact_path: str) -> None:
        """Copies a directory (a checkpoint) into the trial run's artifacts."""
        self.client.log_artifacts(self.trial_runs[trial_id], local_dir, artifact_path)

    def terminate_trial(self, trial_id: str, status: str) -> None:
        """Terminates a trial's run with the MLflow status of tuneflows ``status``."""
        self.client.set_terminated(self.trial_runs[trial_id], STATUS_TO_MLFLOW.get(status, "KILLED"))

    def end_experiment(self, status: str, summary: Mapping[str, Any]) -> None:
        """Tags the parent run with ``summary`` and terminates it with ``status``."""
        self.write(None, tags={k: str(v)[:MAX_PARAM_LENGTH] for k, v in summary.items()})
        self.client.set_terminated(self.parent_run_id, status)
