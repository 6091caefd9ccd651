"""Median stopping rule (Golovin et al., "Google Vizier", KDD 2017)."""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional

import numpy as np

from tuneflows.schedulers.metric_spec import MetricSpec
from tuneflows.schedulers.trial_scheduler import Decision, TrialScheduler, make_rng
from tuneflows.trial import TrialSnapshot


class MedianStoppingRule(TrialScheduler):
    """Stops a trial whose best result is below the median of the others' running averages.

    At a decision point at time ``t`` (the trial's ``time_attr`` value), the trial's best
    score so far is compared with the median, over the *other* trials that have results
    at or before ``t``, of their running averages up to ``t``. It is stopped (or PAUSED
    when ``hard_stop=False``) when it is worse, provided ``t >= grace_period`` and at
    least ``min_samples_required`` other trials contribute. Trials that ended in ERROR do
    not contribute. A stopped trial stays stopped (any later result gets STOP again).

    Decision points: the rule is evaluated at the first result with
    ``time_attr >= grace_period``, then at ``grace_period + k * eval_interval``
    (``eval_interval`` defaults to ``grace_period``, or 1 when that is 0), so a round is
    one evaluation interval long. Results in between are recorded, never acted upon.
    A trial that errored and runs again (``on_trial_rerun``) keeps its results up to its
    restart point and is evaluated at the decision points after it.

    A PAUSED trial is resumed by the default ``choose_trial_to_run`` (PENDING trials
    first, then PAUSED ones) and re-evaluated at its next decision point.

    Args:
        time_attr: Result key measuring training progress (non-decreasing).
        reward_attr: The seed's name for the metric to maximise.
        grace_period: ``time_attr`` a trial always gets before it can be stopped.
        min_samples_required: Other trials needed for the median to be used.
        hard_stop: STOP a trial below the median; if False, PAUSE it instead.
        metric: Modern spelling of ``reward_attr``.
        mode: ``"max"`` or ``"min"`` (for a loss; no negation needed).
        seed: Seed of the scheduler's RNG.
        eval_interval: Spacing of decision points after the grace period.

    Example:
        >>> from tuneflows.schedulers import MedianStoppingRule
        >>> from tuneflows.trial import TrialSnapshot
        >>> s = MedianStoppingRule(time_attr="training_iteration", metric="loss",
        ...                        mode="min", grace_period=2, min_samples_required=2)
        >>> trials = [TrialSnapshot.make(f"t{i}", {}) for i in range(3)]
        >>> for t in trials:
        ...     s.on_trial_add(t)
        >>> for it in (1, 2):
        ...     for i, t in enumerate(trials):
        ...         d = s.on_trial_result(t, {"training_iteration": it, "loss": i + 1.0})
        >>> d.action, d.reason
        ('STOP', "stopped at training_iteration=2: best loss 3 > median 1.5 of 2 other trials' running averages")

    Reference:
        Golovin et al., "Google Vizier: A Service for Black-Box Optimization", KDD 2017.
    """

    _STATE_ATTRS = ("_trials", "_rng")

    def __init__(
        self,
        time_attr: str = "time_total_s",
        reward_attr: str = "episode_reward_mean",
        grace_period: float = 60.0,
        min_samples_required: int = 3,
        hard_stop: bool = True,
        metric: Optional[str] = None,
        mode: Optional[str] = None,
        seed: Optional[int] = None,
        eval_interval: Optional[float] = None,
    ) -> None:
        if not grace_period >= 0:
            raise ValueError(f"grace_period must be >= 0, got {grace_period=}.")
        if not isinstance(min_samples_required, int) or min_samples_required < 1:
            raise ValueError(
                f"min_samples_required must be an int >= 1, got {min_samples_required=}."
            )
        if eval_interval is None:
            eval_interval = float(grace_period) if grace_period > 0 else 1.0
        if not eval_interval > 0:
            raise ValueError(f"eval_interval must be > 0, got {eval_interval=}.")
        self._time_attr = time_attr
        self._spec = MetricSpec.resolve(metric, mode, reward_attr, "episode_reward_mean",
                                 type(self).__name__)
        self.metric, self.mode = self._spec.metric, self._spec.mode
        self._grace_period = float(grace_period)
        self._min_samples = min_samples_required
        self._hard_stop = bool(hard_stop)
        self._eval_interval = float(eval_interval)
        # trial_id -> {"times": [...], "scores": [...], "next_eval": t, "status": str}
        self._trials: dict[str, dict[str, Any]] = {}
        self._rng = make_rng(seed)

    def _info(self, trial_id: str) -> dict[str, Any]:
        if trial_id not in self._trials:
            self._trials[trial_id] = {
                "times": [], "scores": [], "next_eval": self._grace_period, "status": "live"
            }
        return self._trials[trial_id]

    def _next_eval_after(self, t: float) -> float:
        k = math.floor((t - self._grace_period) / self._eval_interval) + 1
        return self._grace_period + max(k, 1) * self._eval_interval

    def on_trial_add(self, trial: TrialSnapshot) -> None:
        self._info(trial.trial_id)

    def on_trial_result(self, trial: TrialSnapshot, result: Mapping[str, Any]) -> Decision:
        info = self._info(trial.trial_id)
        if info["status"] == "stopped":
            return Decision(self.STOP, info.get("reason", "stopped by the median rule"))
        t = self._time_of(result)
        if self._spec.metric in result:
            info["times"].append(t)
            info["scores"].append(self._spec.score(result))
        if t < info["next_eval"]:
            return Decision(self.CONTINUE)
        info["next_eval"] = self._next_eval_after(t)
        averages = [
            float(np.mean([s for ti, s in zip(o["times"], o["scores"]) if ti <= t]))
            for tid, o in self._trials.items()
            if tid != trial.trial_id and o["status"] != "error"
            and any(ti <= t for ti in o["times"])
        ]
        if len(averages) < self._min_samples:
            return Decision(self.CONTINUE)
        self._spec.score(result)  # a decision point needs the metric: fail clearly if absent
        median = float(np.median(averages))
        best = max(s for ti, s in zip(info["times"], info["scores"]) if ti <= t)
        if best >= median:
            return Decision(self.CONTINUE)
        op = "<" if self.mode == "max" else ">"
        verb = "stopped" if self._hard_stop else "paused"
        reason = (
            f"{verb} at {self._time_attr}={t:g}: best {self.metric} {self._spec.show(best)} "
            f"{op} median {self._spec.show(median)} of {len(averages)} other trials' "
            f"running averages"
        )
        if self._hard_stop:
            info["status"], info["reason"] = "stopped", reason
            return Decision(self.STOP, reason)
        return Decision(self.PAUSE, reason)

    def _end(self, trial: TrialSnapshot, status: str) -> None:
        info = self._info(trial.trial_id)
        if info["status"] == "live":
            info["status"] = status

    def on_trial_error(self, trial: TrialSnapshot) -> None:
        self._end(trial, "error")

    def on_trial_complete(self, trial: TrialSnapshot, result: Optional[Mapping[str, Any]]) -> None:
        self._end(trial, "done")

    def on_trial_remove(self, trial: TrialSnapshot) -> None:
        self._end(trial, "done")

    def on_trial_rerun(self, trial: TrialSnapshot) -> None:
        """The trial is live again from its restart point: its results after it are
        dropped, and its next evaluation is the first decision point after it."""
        info = self._info(trial.trial_id)
        start = self._snapshot_time(trial)
        kept = [(t, s) for t, s in zip(info["times"], info["scores"]) if t <= start]
        info.update(times=[t for t, _ in kept], scores=[s for _, s in kept], status="live",
                    next_eval=(self._grace_period if start < self._grace_period
                               else self._next_eval_after(start)))
        info.pop("reason", None)

    def next_decision_point(self, trial: TrialSnapshot) -> Optional[float]:
        """The trial's next evaluation time (grace period, then every eval_interval)."""
        info = self._trials.get(trial.trial_id)
        if info is None:
            return self._grace_period
        if info["status"] != "live":
            return None
        return info["next_eval"]

    def debug_string(self) -> str:
        stopped = sum(1 for i in self._trials.values() if i["status"] == "stopped")
        return (
            f"Using MedianStoppingRule: num_stopped={stopped}, "
            f"grace_period={self._grace_period:g} {self._time_attr}."
        )
