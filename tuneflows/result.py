"""Result keys that every result is completed with (the seed's names)."""

from __future__ import annotations

import datetime
import os
import socket
import time
from typing import Any, Mapping, Optional

TRAINING_ITERATION = "training_iteration"
TIMESTEPS_TOTAL = "timesteps_total"
TIMESTEPS_THIS_ITER = "timesteps_this_iter"
TIME_THIS_ITER_S = "time_this_iter_s"
TIME_TOTAL_S = "time_total_s"
DONE = "done"
EXPERIMENT_ID = "experiment_id"
TRIAL_ID = "trial_id"
DATE = "date"
TIMESTAMP = "timestamp"
HOSTNAME = "hostname"
NODE_IP = "node_ip"
PID = "pid"
CONFIG = "config"


_HOSTNAME = socket.gethostname()


def _node_ip() -> str:
    try:
        import ray

        if ray.is_initialized():
            return ray.util.get_node_ip_address()
    except Exception:  # noqa: BLE001 - any failure means "not on a Ray node"
        pass
    return "127.0.0.1"


def complete_result(
    metrics: Mapping[str, Any],
    *,
    iteration: int,
    time_this_iter: float,
    time_total: float,
    timesteps_total: Optional[int],
    experiment_id: str,
    trial_id: str,
    config: Mapping[str, Any],
) -> dict[str, Any]:
    """Returns ``metrics`` completed with the automatic keys.

    Keys the trainable reported itself win, except ``training_iteration`` and the
    identity keys, which tuneflows owns.
    """
    now = time.time()
    result = {
        TIMESTEPS_TOTAL: timesteps_total,
        TIME_THIS_ITER_S: time_this_iter,
        TIME_TOTAL_S: time_total,
        DONE: False,
    }
    result.update(metrics)
    result.update(
        {
            TRAINING_ITERATION: iteration,
            EXPERIMENT_ID: experiment_id,
            TRIAL_ID: trial_id,
            DATE: datetime.datetime.fromtimestamp(now).strftime("%Y-%m-%d_%H-%M-%S"),
            TIMESTAMP: int(now),
            HOSTNAME: _HOSTNAME,
            NODE_IP: _node_ip(),
            PID: os.getpid(),
            CONFIG: dict(config),
        }
    )
    return result


def reached(result: Mapping[str, Any], criteria: Mapping[str, float]) -> Optional[str]:
    """The first ``key`` of ``criteria`` whose result value is ``>=`` its threshold."""
    for key, threshold in criteria.items():
        value = result.get(key)
        if value is not None and value >= threshold:
            return key
    return None


def missing_keys(result: Mapping[str, Any], criteria: Mapping[str, Any]) -> list[str]:
    """The keys of ``criteria`` a result does not report (a stop that can never fire).

    Example:
        >>> missing_keys({"acc": 0.5, "training_iteration": 1}, {"accuracy": 0.9, "acc": 1})
        ['accuracy']
    """
    return [key for key in criteria if key not in result]
