"""MLflow records: one parent run per experiment, one nested run per trial."""

from __future__ import annotations

import logging
import math
import numbers
import os
import time
from typing import Any, Mapping, Optional, Sequence

from tuneflows.loggers.files import flatten

logger = logging.getLogger(__name__)

_MAX_METRICS_PER_BATCH = 1000
_MAX_PARAMS_PER_BATCH = 100
_MAX_PARAM_LENGTH = 6000
_SKIPPED_METRICS = {"training_iteration", "timestamp", "pid", "done"}

STATUS_TO_MLFLOW = {"TERMINATED": "FINISHED", "ERROR": "FAILED"}


def tracking_uri_for(local_dir: str) -> str:
    """``MLFLOW_TRACKING_URI`` if set, else a SQLite store ``<local_dir>/mlflow.db``."""
    return os.environ.get("MLFLOW_TRACKING_URI") or (
        "sqlite:///" + os.path.join(os.path.abspath(local_dir), "mlflow.db")
    )


def numeric_metrics(result: Mapping[str, Any]) -> dict[str, float]:
    """The finite numeric values of a result, flattened, without bookkeeping keys."""
    metrics = {}
    for key, value in flatten({k: v for k, v in result.items() if k != "config"}).items():
        if key in _SKIPPED_METRICS or isinstance(value, bool):
            continue
        if isinstance(value, numbers.Real) and math.isfinite(float(value)):
            metrics[key] = float(value)
    return metrics


class MlflowRecorder:
    """Writes an experiment's runs through ``MlflowClient`` (no global fluent state).

    Args:
        experiment_name: Name of the MLflow experiment (the tuneflows experiment's).
        local_dir: Results root; holds ``mlflow.db`` and ``mlartifacts/`` by default.
        tracking_uri: Overrides ``MLFLOW_TRACKING_URI``.
    """

    def __init__(self, experiment_name: str, local_dir: str, tracking_uri: Optional[str] = None):
        from mlflow.tracking import MlflowClient

        self.tracking_uri = tracking_uri or tracking_uri_for(local_dir)
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
        self.parent_run_id: Optional[str] = None
        self.trial_runs: dict[str, str] = {}

    def start_experiment(self, run_name: str, tags: Mapping[str, str]) -> str:
        """Creates the parent run and returns its id."""
        run = self.client.create_run(self.experiment_id, run_name=run_name, tags=dict(tags))
        self.parent_run_id = run.info.run_id
        return self.parent_run_id

    def resume_experiment(self, parent_run_id: str, trial_runs: Mapping[str, str]) -> None:
        """Continues an experiment's existing parent run and trial runs."""
        self.parent_run_id = parent_run_id
        self.trial_runs = dict(trial_runs)
        self.client.update_run(parent_run_id, status="RUNNING")

    def reopen_trial(self, trial_id: str) -> None:
        """Marks a resumed trial's run RUNNING again."""
        self.client.update_run(self.trial_runs[trial_id], status="RUNNING")

    def find_trial_run(self, trial_id: str) -> Optional[str]:
        """The run of ``trial_id`` under the current parent run, if one exists."""
        runs = self.client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.trial_id = '{trial_id}' and "
                          f"tags.mlflow.parentRunId = '{self.parent_run_id}'",
            max_results=1,
        )
        if runs:
            self.trial_runs[trial_id] = runs[0].info.run_id
            return runs[0].info.run_id
        return None

    def backfill(self, trial_id: str, results: Sequence[Mapping[str, Any]]) -> None:
        """Logs the results whose steps the run lacks (lost when a driver was killed)."""
        history = self.client.get_metric_history(self.trial_runs[trial_id], "time_total_s")
        logged = max((m.step for m in history), default=0)
        missing = [r for r in results if int(r.get("training_iteration", 0)) > logged]
        if missing:
            self.log_results(trial_id, missing)

    def start_trial(self, trial_id: str, run_name: str, config: Mapping[str, Any],
                    tags: Mapping[str, str]) -> str:
        """Creates a trial's nested run with its config as params."""
        from mlflow.entities import Param

        all_tags = {"mlflow.parentRunId": self.parent_run_id or "", "trial_id": trial_id}
        all_tags.update(tags)
        run = self.client.create_run(self.experiment_id, run_name=run_name, tags=all_tags)
        run_id = run.info.run_id
        self.trial_runs[trial_id] = run_id
        params = [Param(k, str(v)[:_MAX_PARAM_LENGTH]) for k, v in flatten(config).items()]
        for i in range(0, len(params), _MAX_PARAMS_PER_BATCH):
            self.client.log_batch(run_id, params=params[i:i + _MAX_PARAMS_PER_BATCH])
        return run_id

    def log_results(self, trial_id: str, results: Sequence[Mapping[str, Any]]) -> None:
        """Logs every numeric value of ``results`` with its iteration as step, batched."""
        from mlflow.entities import Metric

        metrics = []
        for result in results:
            step = int(result.get("training_iteration", 0))
            stamp = int(float(result.get("timestamp", time.time())) * 1000)
            metrics.extend(Metric(k, v, stamp, step) for k, v in numeric_metrics(result).items())
        run_id = self.trial_runs[trial_id]
        for i in range(0, len(metrics), _MAX_METRICS_PER_BATCH):
            self.client.log_batch(run_id, metrics=metrics[i:i + _MAX_METRICS_PER_BATCH])

    def log_params(self, trial_id: str, config: Mapping[str, Any]) -> None:
        """Logs changed params (PBT) as tags, since MLflow params are immutable."""
        from mlflow.entities import RunTag

        tags = [RunTag(f"config/{k}", str(v)[:_MAX_PARAM_LENGTH]) for k, v in flatten(config).items()]
        self.client.log_batch(self.trial_runs[trial_id], tags=tags)

    def set_tags(self, trial_id: Optional[str], tags: Mapping[str, str]) -> None:
        """Sets tags on a trial's run (or the parent run when ``trial_id`` is None)."""
        from mlflow.entities import RunTag

        run_id = self.trial_runs[trial_id] if trial_id else self.parent_run_id
        self.client.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def log_artifacts(self, trial_id: str, local_dir: str, artifact_path: str) -> None:
        """Copies a directory (a checkpoint) into the trial run's artifacts."""
        self.client.log_artifacts(self.trial_runs[trial_id], local_dir, artifact_path)

    def end_trial(self, trial_id: str, status: str, tags: Optional[Mapping[str, Any]] = None) -> None:
        """Tags the trial's final status (and ``tags``) and terminates its run."""
        run_id = self.trial_runs[trial_id]
        self.set_tags(trial_id, {"status": status, **(tags or {})})
        self.client.set_terminated(run_id, STATUS_TO_MLFLOW.get(status, "KILLED"))

    def end_experiment(self, status: str, summary: Mapping[str, Any]) -> None:
        """Logs the best result's metrics on the parent run and terminates it."""
        from mlflow.entities import RunTag

        tags = [RunTag(k, str(v)[:_MAX_PARAM_LENGTH]) for k, v in summary.items()]
        self.client.log_batch(self.parent_run_id, tags=tags)
        self.client.set_terminated(self.parent_run_id, status)
