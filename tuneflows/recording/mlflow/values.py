"""Results and configs as the plain data MLflow takes: metric rows (finite numbers,
flattened, the training iteration as step) and param strings, under names MLflow
accepts (:class:`~tuneflows.recording.mlflow.names.MlflowNames`). Used by the driver,
which never imports MLflow, before records go to the writer processes."""

from __future__ import annotations

import time
from typing import Any, Mapping, Optional, Sequence

from tuneflows.recording.mlflow.names import MlflowNames
from tuneflows.recording.trial_files import flatten

MAX_METRICS_PER_BATCH = 1000  # MLflow's log_batch limits
MAX_PARAMS_PER_BATCH = 100
MAX_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000  # metrics, params and tags together
SKIPPED_METRICS = frozenset({"training_iteration", "timestamp", "pid", "done"})

MetricRow = tuple[int, int, dict[str, float]]
"""One result as MLflow metrics: (step, timestamp in ms, key to value)."""


def numeric_metrics(result: Mapping[str, Any],
                    names: Optional[MlflowNames] = None) -> dict[str, float]:
    """The numeric values of a result MLflow can store, flattened, without bookkeeping
    keys; names MLflow rejects are mended or dropped, with a warning."""
    flat = flatten({k: v for k, v in result.items() if k != "config"})
    return (names or MlflowNames()).metrics(
        {k: v for k, v in flat.items() if k not in SKIPPED_METRICS})


def metric_rows(results: Sequence[Mapping[str, Any]],
                names: Optional[MlflowNames] = None) -> list[MetricRow]:
    """Results as metric rows, with the training iteration as step."""
    names = names or MlflowNames()
    return [
        (int(r.get("training_iteration", 0)),
         int(float(r.get("timestamp", time.time())) * 1000),
         numeric_metrics(r, names))
        for r in results
    ]


def param_strings(config: Mapping[str, Any], prefix: str = "",
                  names: Optional[MlflowNames] = None, kind: str = "param") -> dict[str, str]:
    """A config flattened into MLflow param (or, with ``kind="tag"``, tag) strings."""
    return (names or MlflowNames()).strings(
        {f"{prefix}{k}": v for k, v in flatten(config).items()}, kind)
