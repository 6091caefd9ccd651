"""Results and configs as the plain data MLflow takes: metric rows (finite numbers,
flattened, the training iteration as step) and param strings. Used by the driver, which
never imports MLflow, before records go to the writer processes."""

from __future__ import annotations

import math
import numbers
import time
from typing import Any, Mapping, Sequence

from tuneflows.recording.trial_files import flatten

MAX_METRICS_PER_BATCH = 1000  # MLflow's log_batch limits
MAX_PARAMS_PER_BATCH = 100
MAX_TAGS_PER_BATCH = 100
MAX_PARAM_LENGTH = 6000
SKIPPED_METRICS = frozenset({"training_iteration", "timestamp", "pid", "done"})

MetricRow = tuple[int, int, dict[str, float]]
"""One result as MLflow metrics: (step, timestamp in ms, key to value)."""


def numeric_metrics(result: Mapping[str, Any]) -> dict[str, float]:
    """The finite numeric values of a result, flattened, without bookkeeping keys."""
    metrics = {}
    for key, value in flatten({k: v for k, v in result.items() if k != "config"}).items():
        if key in SKIPPED_METRICS or isinstance(value, bool):
            continue
        if isinstance(value, numbers.Real) and math.isfinite(float(value)):
            metrics[key] = float(value)
    return metrics


def metric_rows(results: Sequence[Mapping[str, Any]]) -> list[MetricRow]:
    """Results as metric rows, with the training iteration as step."""
    return [
        (int(r.get("training_iteration", 0)),
         int(float(r.get("timestamp", time.time())) * 1000),
         numeric_metrics(r))
        for r in results
    ]


def param_strings(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """A config flattened into MLflow param (or tag) strings."""
    return {f"{prefix}{k}": str(v)[:MAX_PARAM_LENGTH] for k, v in flatten(config).items()}
