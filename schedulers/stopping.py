"""Stoppers: Ray Tune 1.x/2.x's pure stop rules, ``stopper(trial_id, result) -> bool``
(stop this trial) and ``stopper.stop_all() -> bool`` (stop the experiment).

A stopper reads results only; the experiment's driver asks it about every result in
order (:class:`~tuneflows.schedulers.experiment_stops.ExperimentStops`), so one object
sees the whole experiment, as in Ray Tune.

Example:
    >>> stopper = TrialPlateauStopper("loss", std=0.01, num_results=3, grace_period=3)
    >>> [stopper("t0", {"loss": v}) for v in (0.5, 0.3, 0.3, 0.3)]
    [False, False, False, True]
    >>> CombinedStopper(MaximumIterationStopper(2), stopper)("t1", {"training_iteration": 2})
    True
"""

from __future__ import annotations

import datetime
import math
import time
from collections import defaultdict, deque
from typing import Any, Callable, Mapping, Optional, Union

import numpy as np


class Stopper:
    """Base class of stop rules.

    Subclasses override :meth:`__call__` (whether ``trial_id`` stops at ``result``) and
    :meth:`stop_all` (whether every trial stops and no new one starts).

    Example:
        >>> class AtAccuracy(Stopper):
        ...     def __call__(self, trial_id, result):
        ...         return result["acc"] >= 0.9
        >>> AtAccuracy()("t0", {"acc": 0.95}), AtAccuracy().stop_all()
        (True, False)
    """

    def __call__(self, trial_id: str, result: Mapping[str, Any]) -> bool:
        """Whether trial ``trial_id`` stops at ``result``."""
        raise NotImplementedError

    def stop_all(self) -> bool:
        """Whether the whole experiment stops (checked after every result)."""
        return False


class NoopStopper(Stopper):
    """Never stops anything."""

    def __call__(self, trial_id: str, result: Mapping[str, Any]) -> bool:
        return False


class FunctionStopper(Stopper):
    """A plain function ``f(trial_id, result) -> bool`` as a stopper.

    Args:
        function: The function.

    Raises:
        ValueError: ``function`` is not callable.
    """

    def __init__(self, function: Callable[[str, Mapping[str, Any]], bool]) -> None:
        if not callable(function):
            raise ValueError(f"FunctionStopper needs a callable, got {function!r}.")
        self._function = function

    def __call__(self, trial_id: str, result: Mapping[str, Any]) -> bool:
        return bool(self._function(trial_id, result))


class MaximumIterationStopper(Stopper):
    """Stops a trial at ``training_iteration`` ``max_iter``.

    ``tuneflows.run`` and ``Tuner`` turn it into the stop criterion
    ``{"training_iteration": max_iter}``, checked in the trial's actor after every result.

    Args:
        max_iter: The last iteration.
    """

    def __init__(self, max_iter: int) -> None:
        if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
            raise ValueError(f"max_iter must be an integer >= 1, got {max_iter=!r}.")
        self.max_iter = max_iter

    def __call__(self, trial_id: str, result: Mapping[str, Any]) -> bool:
        return int(result.get("training_iteration", 0)) >= self.max_iter


class TrialPlateauStopper(Stopper):
    """Stops a trial whose ``metric`` has flattened: the standard deviation of its last
    ``num_results`` values is under ``std``, after at least ``grace_period`` results
    (and, with ``metric_threshold``, once the value is at least that good).

    Args:
        metric: The result key watched.
        std: Standard deviation under which the metric counts as flat.
        num_results: How many of the latest values are compared.
        grace_period: Results before the trial may stop.
        metric_threshold: Stop only when the value is this good or better.
        mode: ``"min"`` or ``"max"``; needed with ``metric_threshold``.
    """

    def __init__(self, metric: str, std: float = 0.01, num_results: int = 4,
                 grace_period: int = 4, metric_threshold: Optional[float] = None,
                 mode: Optional[str] = None) -> None:
        if metric_threshold is not None and mode not in ("min", "max"):
            raise ValueError(f"TrialPlateauStopper with metric_threshold needs mode 'min' or "
                             f"'max', got {mode=!r}.")
        self.metric, self.std, self.mode = metric, std, mode
        self.num_results, self.grace_period = num_results, grace_period
        self.metric_threshold = metric_threshold
        self._seen: dict[str, int] = defaultdict(int)
        self._values: dict[str, deque] = defaultdict(lambda: deque(maxlen=self.num_results))

    def __call__(self, trial_id: str, result: Mapping[str, Any]) -> bool:
        value = result.get(self.metric)
        self._values[trial_id].append(value)
        self._seen[trial_id] += 1
        if self._seen[trial_id] < self.grace_period:
            return False
        if len(self._values[trial_id]) < self.num_results:
            return False
        if self.metric_threshold is not None and value is not None:
            if (value > self.metric_threshold if self.mode == "min"
                    else value < self.metric_threshold):
                return False
        try:
            spread = float(np.std(np.asarray(self._values[trial_id], dtype=float)))
        except (TypeError, ValueError):
            return False  # a value that is not a number: never flat
        return spread < self.std


class ExperimentPlateauStopper(Stopper):
    """Stops the experiment when the ``top`` best values of ``metric`` over all results
    have a standard deviation of at most ``std``, for ``patience`` results more.

    Args:
        metric: The result key watched.
        std: Standard deviation at or under which the best values count as flat.
        top: How many of the best values are compared (> 1).
        mode: ``"min"`` or ``"max"``: which values are best.
        patience: Results to wait once flat.
    """

    def __init__(self, metric: str, std: float = 0.001, top: int = 10, mode: str = "min",
                 patience: int = 0) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode=!r}.")
        if isinstance(top, bool) or not isinstance(top, int) or top <= 1:
            raise ValueError(f"top must be an integer > 1, got {top=!r}.")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"patience must be an integer >= 0, got {patience=!r}.")
        if not isinstance(std, float) or std <= 0:
            raise ValueError(f"std must be a positive float, got {std=!r}.")
        self.metric, self.std, self.top, self.mode, self.patience = metric, std, top, mode, patience
        self._best: list[float] = []
        self._flat_for = 0

    def __call__(self, trial_id: str, result: Mapping[str, Any]) -> bool:
        value = result.get(self.metric)
        if value is not None:
            ranked = sorted([*self._best, float(value)], reverse=self.mode == "max")
            self._best = ranked[:self.top]
        self._flat_for = self._flat_for + 1 if self._flat() else 0
        return self.stop_all()

    def _flat(self) -> bool:
        return len(self._best) == self.top and float(np.std(self._best)) <= self.std

    def stop_all(self) -> bool:
        return self._flat() and self._flat_for >= self.patience


class TimeoutStopper(Stopper):
    """Stops the experiment ``timeout`` after the stopper was made (what
    ``time_budget_s`` builds when the experiment starts).

    Args:
        timeout: Seconds, or a ``datetime.timedelta``.
        clock: Seconds now (default ``time.monotonic``; tests pass their own).
    """

    def __init__(self, timeout: Union[int, float, datetime.timedelta],
                 clock: Callable[[], float] = time.monotonic) -> None:
        seconds = timeout.total_seconds() if isinstance(timeout, datetime.timedelta) else timeout
        if (isinstance(seconds, bool) or not isinstance(seconds, (int, float))
                or not math.isfinite(seconds) or seconds <= 0):
            raise ValueError(f"timeout must be a positive number of seconds or a timedelta, "
                             f"got {timeout=!r}.")
        self.timeout_s = float(seconds)
        self._clock = clock
        self._start = clock()

    def __call__(self, trial_id: str, result: Mapping[str, Any]) -> bool:
        return False

    def stop_all(self) -> bool:
        return self._clock() - self._start >= self.timeout_s


class CombinedStopper(Stopper):
    """Stops what any of ``stoppers`` stops.

    Args:
        *stoppers: The stoppers, each asked about every result.
    """

    def __init__(self, *stoppers: Stopper) -> None:
        self.stoppers = stoppers

    def __call__(self, trial_id: str, result: Mapping[str, Any]) -> bool:
        return any([stopper(trial_id, result) for stopper in self.stoppers])  # each sees it

    def stop_all(self) -> bool:
        return any(stopper.stop_all() for stopper in self.stoppers)


__all__ = [
    "CombinedStopper", "ExperimentPlateauStopper", "FunctionStopper", "MaximumIterationStopper",
    "NoopStopper", "Stopper", "TimeoutStopper", "TrialPlateauStopper",
]
