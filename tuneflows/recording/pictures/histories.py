"""The trials of a run as the pictures need them: each trial's config, its metric at
every iteration, the decisions that marked it (early stop, pause, perturbation,
restart, with the iteration and reason) and when it ended, read from the run
directory's trial files (``params.json``, ``result.json``, ``events.json``), which the
recorder writes as the experiment runs.

Example:
    >>> histories = read_histories("~/ray_results/my_exp/2026-12-06_16-00-00_ab12",
    ...                            "mean_accuracy")            # doctest: +SKIP
    >>> histories[0].curve[:2]                                  # doctest: +SKIP
    [(1, 0.81), (2, 0.86)]
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Optional

from tuneflows.model.codes import EventKind
from tuneflows.recording.trial_dirs import read_results, read_trial_dirs
from tuneflows.result import EARLY_STOPPED

#: ``events.json`` kinds drawn on the learning curves (a stop is an ending event
#: marked ``early_stopped``).
MARKED_EVENTS = (EventKind.PAUSE, EventKind.PERTURB, EventKind.RESTART)
STOP = "stop"


@dataclass(frozen=True)
class Decision:
    """A decision drawn on a trial's learning curve."""

    kind: str  # "stop", "pause", "perturb" or "restart"
    iteration: int
    reason: str


@dataclass
class TrialHistory:
    """One trial, for the pictures.

    Attributes:
        trial_id: Its id.
        name: Its display name.
        config: Its (latest) config.
        status: TERMINATED, ERROR, RUNNING or PENDING.
        curve: ``(training_iteration, metric)`` for every result reporting the metric.
        decisions: What was decided about it, oldest first.
        ended_at: When it ended (a Unix time; None while it runs).
    """

    trial_id: str
    name: str
    config: dict[str, Any]
    status: str
    curve: list[tuple[int, float]] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    ended_at: Optional[float] = None

    @property
    def final(self) -> Optional[float]:
        """The metric of its last result that reported it."""
        return self.curve[-1][1] if self.curve else None


def read_histories(run_dir: str, metric: str) -> list[TrialHistory]:
    """Every trial under ``run_dir`` with its ``metric`` curve and decisions, in the
    order trials were created."""
    histories = []
    for found in read_trial_dirs(run_dir):
        trial = found.trial
        history = TrialHistory(trial.trial_id, found.name, dict(trial.config), trial.status,
                               curve=metric_curve(read_results(trial.logdir), metric))
        _add_events(history, os.path.join(trial.logdir, "events.json"))
        histories.append(history)
    return histories


def metric_curve(results: list[dict[str, Any]], metric: str) -> list[tuple[int, float]]:
    """``(training_iteration, value)`` of each result with a finite ``metric``.

    Example:
        >>> metric_curve([{"training_iteration": 1, "acc": 0.5}, {"training_iteration": 2}], "acc")
        [(1, 0.5)]
    """
    curve = []
    for index, result in enumerate(results, start=1):
        value = result.get(metric)
        if isinstance(value, (int, float)) and not isinstance(value, bool) \
                and math.isfinite(value):
            curve.append((int(result.get("training_iteration", index)), float(value)))
    return curve


def _add_events(history: TrialHistory, path: str) -> None:
    if not os.path.exists(path):
        return
    with open(path) as f:
        lines = f.readlines()
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a line cut short by a kill
        kind = event.get("event")
        iteration = int(event.get("iteration") or 0)
        reason = str(event.get("reason", ""))
        if kind in MARKED_EVENTS:
            history.decisions.append(Decision(str(kind), iteration, reason))
        elif kind in (EventKind.TERMINATED, EventKind.ERROR):
            history.ended_at = float(event.get("time") or 0.0)
            if kind == EventKind.TERMINATED and event.get(EARLY_STOPPED):
                history.decisions.append(Decision(STOP, iteration, reason))
