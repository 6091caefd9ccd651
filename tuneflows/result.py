"""Result keys that every result is completed with (the seed's names), the seed's
``TrainingResult`` and the dict that ``trial.last_result`` is."""

from __future__ import annotations

import datetime
import numbers
import os
import socket
import time
from collections import namedtuple
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

#: Result key the experiment loop sets (True) in the last result of a trial a scheduler stopped early,
#: before :meth:`Searcher.on_trial_complete`: that result is at a lower budget, not a final
#: score (HyperOptSearch ranks such trials after finished ones; see its module docstring).
EARLY_STOPPED = "early_stopped"


#: The seed's default results directory: ``$TUNE_RESULT_DIR`` as the process started,
#: else ``~/ray_results`` (an experiment reads ``$TUNE_RESULT_DIR`` when it is made).
DEFAULT_RESULTS_DIR = os.path.expanduser(os.environ.get("TUNE_RESULT_DIR") or "~/ray_results")

_HOSTNAME = socket.gethostname()


_node_ip = "127.0.0.1"


def set_node_ip(ip: str) -> None:
    """Sets the ``node_ip`` that this process's results carry; the execution layer
    calls it in each trial actor, where Ray knows the node's address."""
    global _node_ip
    _node_ip = ip


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
    identity keys, which tuneflows owns. A ``mean_loss`` gets its ``neg_mean_loss`` (the
    seed's advice: stop on ``neg_mean_loss`` for a loss), whatever kind the trainable is.
    """
    now = time.time()
    result = {
        TIMESTEPS_TOTAL: timesteps_total,
        TIME_THIS_ITER_S: time_this_iter,
        TIME_TOTAL_S: time_total,
        DONE: False,
    }
    result.update(metrics)
    loss = result.get("mean_loss")
    if (isinstance(loss, numbers.Real) and not isinstance(loss, bool)
            and "neg_mean_loss" not in metrics):
        result["neg_mean_loss"] = -loss  # the seed's stop key for losses
    result.update(
        {
            TRAINING_ITERATION: iteration,
            EXPERIMENT_ID: experiment_id,
            TRIAL_ID: trial_id,
            DATE: datetime.datetime.fromtimestamp(now).strftime("%Y-%m-%d_%H-%M-%S"),
            TIMESTAMP: int(now),
            HOSTNAME: _HOSTNAME,
            NODE_IP: _node_ip,
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


#: The seed's result fields, in its order (``ray/tune/result.py`` of the ray 0.5.0 wheel).
TRAINING_RESULT_FIELDS = (
    "timesteps_total", "done", "info", "episode_reward_mean", "episode_reward_min",
    "episode_reward_max", "episode_len_mean", "episodes_total", "policy_reward_mean",
    "mean_accuracy", "mean_validation_accuracy", "mean_loss", "neg_mean_loss",
    "experiment_id", "training_iteration", "timesteps_this_iter", "time_this_iter_s",
    "time_total_s", "pid", "date", "timestamp", "hostname", "node_ip", "config",
)

TrainingResult = namedtuple("TrainingResult", TRAINING_RESULT_FIELDS,
                            defaults=(None,) * len(TRAINING_RESULT_FIELDS))
TrainingResult.__doc__ = """The seed's result record: every field optional (None).

A trainable's ``_train`` may return one, and a function trainable may pass one to its
reporter (``reporter(TrainingResult(...))``); the fields that are set become the
result's keys (``neg_mean_loss`` is filled from ``mean_loss`` when the result is
completed, as the seed did).

Example:
    >>> as_metrics(TrainingResult(timesteps_total=10, mean_loss=0.5))
    {'timesteps_total': 10, 'mean_loss': 0.5}
"""


def as_metrics(value: Any) -> Any:
    """A result as a dict when it is a :class:`TrainingResult` (its fields that are
    set); any other value is returned as it is."""
    if not isinstance(value, TrainingResult):
        return value
    return {k: v for k, v in value._asdict().items() if v is not None}


class ResultDict(dict):
    """A result readable by key and, as the seed's ``TrainingResult``, by attribute.

    A field of :class:`TrainingResult` that the result lacks reads as None (the seed's
    default); any other missing attribute raises ``AttributeError``. It pickles and
    serialises to JSON as the dict it is.

    Example:
        >>> r = ResultDict({"timesteps_total": 100, "acc": 0.9})
        >>> r.timesteps_total, r["acc"], r.acc, r.episode_reward_mean
        (100, 0.9, 0.9, None)
    """

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        if name in self:
            return self[name]
        if name in TRAINING_RESULT_FIELDS:
            return None
        raise AttributeError(f"result has no key {name!r}; keys: {sorted(self)}")
