"""Asynchronous successive halving / HyperBand (ASHA)."""

from __future__ import annotations

import warnings

from typing import Any, Mapping, Optional

import numpy as np

from tuneflows.schedulers.metric_spec import MetricSpec
from tuneflows.schedulers.sorted_scores import SortedScores
from tuneflows.schedulers.trial_scheduler import Decision, TrialScheduler, make_rng
from tuneflows.trial import TrialSnapshot


#: Why a result of a trial that ASHA had already ended (not stopped) gets STOP.
ENDED_BEFORE = "the trial had already ended for ASHA (completed, errored or removed)"


def rung_milestones(
    grace_period: float, max_t: float, reduction_factor: float, s: int
) -> list[float]:
    """Milestones ``grace_period * reduction_factor**(k + s) <= max_t`` of bracket ``s``."""
    milestones, k = [], 0
    while grace_period * reduction_factor ** (k + s) <= max_t * (1 + 1e-12):
        milestones.append(float(grace_period * reduction_factor ** (k + s)))
        k += 1
    return milestones


class AsyncHyperBandScheduler(TrialScheduler):
    """ASHA: stops a trial at a rung unless it is in the top ``1/reduction_factor``.

    Each bracket ``s`` has rungs at ``grace_period * reduction_factor**(k + s)`` (up to
    ``max_t``). When a trial's ``time_attr`` first reaches a rung, its score is compared
    with the ``(1 - 1/reduction_factor)`` quantile (linear interpolation) of the scores
    already recorded at that rung; below it, the trial is stopped, otherwise it goes on.
    Its score is then recorded. Promotions never wait for a rung to fill (the
    asynchronous rule of the paper, in Ray Tune's "stop instead of promote" form).
    Trials are spread over ``brackets`` brackets at random (probability proportional to
    ``e**(number of rungs)``, as Ray Tune does). Every trial is stopped at ``max_t``.

    Decision points: ``next_decision_point`` is the trial's next rung milestone above its
    current ``time_attr`` (then ``max_t``), so a round runs from one rung to the next. A
    stopped trial gets STOP again for any later result. A trial that errored and runs
    again (``on_trial_rerun``) is judged anew at the rungs after its restart point,
    against every score recorded there. It never pauses trials, so
    ``choose_trial_to_run`` is the FIFO default.

    Args:
        time_attr: Result key measuring training progress (non-decreasing).
        reward_attr: The seed's name for the metric to maximise.
        max_t: ``time_attr`` at which every trial is stopped.
        grace_period: The first rung: no trial is stopped before it.
        reduction_factor: The η of the paper; 1/η of a rung goes on.
        brackets: Number of brackets (the seed's default, 3).
        metric: Modern spelling of ``reward_attr``.
        mode: ``"max"`` or ``"min"``.
        seed: Seed of the RNG that assigns trials to brackets.

    Example:
        >>> from tuneflows.schedulers import AsyncHyperBandScheduler
        >>> from tuneflows.trial import TrialSnapshot
        >>> s = AsyncHyperBandScheduler(metric="acc", mode="max", max_t=27, grace_period=1,
        ...                             brackets=1)
        >>> trials = [TrialSnapshot.make(f"t{i}", {}) for i in range(4)]
        >>> for t in trials:
        ...     s.on_trial_add(t)
        >>> [s.on_trial_result(t, {"training_iteration": 1, "acc": a}).action
        ...  for t, a in zip(trials, [0.5, 0.8, 0.6, 0.7])]
        ['CONTINUE', 'CONTINUE', 'STOP', 'CONTINUE']
        >>> t1 = TrialSnapshot.make("t1", {}, last_result={"training_iteration": 1})
        >>> s.next_decision_point(t1)
        3.0

    Reference:
        Li et al., "A System for Massively Parallel Hyperparameter Tuning", MLSys 2020
        (arXiv:1810.05934).
    """

    _STATE_ATTRS = ("_trials", "_rungs", "_rng")

    def __init__(
        self,
        time_attr: str = "training_iteration",
        reward_attr: str = "episode_reward_mean",
        max_t: float = 100,
        grace_period: float = 10,
        reduction_factor: float = 3,
        brackets: int = 3,
        metric: Optional[str] = None,
        mode: Optional[str] = None,
        seed: Optional[int] = None,
    ) -> None:
        if not max_t > 0:
            raise ValueError(f"max_t must be > 0, got {max_t=}.")
        if not 0 < grace_period <= max_t:
            raise ValueError(f"grace_period must be in (0, max_t={max_t}], got {grace_period=}.")
        if not reduction_factor > 1:
            raise ValueError(f"reduction_factor must be > 1, got {reduction_factor=}.")
        if not isinstance(brackets, int) or brackets < 1:
            raise ValueError(f"brackets must be an int >= 1, got {brackets=}.")
        self._milestones = [
            rung_milestones(grace_period, max_t, reduction_factor, s) for s in range(brackets)
        ]
        if not self._milestones[-1]:  # accepted, as Ray Tune 0.5 accepted it
            usable = sum(1 for m in self._milestones if m)
            warnings.warn(
                f"AsyncHyperBandScheduler({brackets=}) with {max_t=}, {grace_period=}, "
                f"{reduction_factor=}: only {usable} brackets have a rung; a trial placed in "
                f"one of the others runs to max_t without being judged.", UserWarning,
                stacklevel=2)
        self._time_attr = time_attr
        self._spec = MetricSpec.resolve(metric, mode, reward_attr, "episode_reward_mean",
                                 type(self).__name__)
        self.metric, self.mode = self._spec.metric, self._spec.mode
        self._max_t = float(max_t)
        self._rf = float(reduction_factor)
        sizes = np.array([len(m) for m in self._milestones], dtype=float)
        weights = np.exp(sizes - sizes.max())
        self._bracket_probs = weights / weights.sum()
        # trial_id -> {"bracket": b, "status": "live" | "stopped" | "ended", "reason": str}
        self._trials: dict[str, dict[str, Any]] = {}
        # _rungs[bracket][rung] = {trial_id: signed score recorded at that rung}
        self._rungs: list[list[dict[str, float]]] = [[{} for _ in m] for m in self._milestones]
        self._sorted: dict[tuple[int, int], SortedScores] = {}  # the rungs' scores, sorted
        self._rng = make_rng(seed)

    def _info(self, trial_id: str) -> dict[str, Any]:
        if trial_id not in self._trials:
            b = int(self._rng.choice(len(self._milestones), p=self._bracket_probs))
            self._trials[trial_id] = {"bracket": b, "status": "live", "reason": ""}
        return self._trials[trial_id]

    def cutoff(self, recorded: Mapping[str, float]) -> Optional[float]:
        """The (1 - 1/η) quantile of a rung's signed scores, None for an empty rung."""
        return SortedScores(recorded.values()).quantile(1 - 1 / self._rf)

    def _sorted_scores(self, bracket: int, k: int) -> SortedScores:
        """Rung ``k`` of ``bracket``'s scores, sorted once and then kept sorted."""
        scores = self._sorted.get((bracket, k))
        if scores is None or len(scores) != len(self._rungs[bracket][k]):
            scores = self._sorted[bracket, k] = SortedScores(self._rungs[bracket][k].values())
        return scores

    def set_state(self, state: Mapping[str, Any]) -> None:
        super().set_state(state)
        self._sorted = {}  # rebuilt from the restored rungs when next read

    def on_trial_add(self, trial: TrialSnapshot) -> None:
        self._info(trial.trial_id)

    def on_trial_result(self, trial: TrialSnapshot, result: Mapping[str, Any]) -> Decision:
        info = self._info(trial.trial_id)
        if info["status"] != "live":
            return Decision(self.STOP, info["reason"] or ENDED_BEFORE)
        t = self._time_of(result)
        milestones, rungs = self._milestones[info["bracket"]], self._rungs[info["bracket"]]
        for k in reversed(range(len(milestones))):
            if t < milestones[k]:
                continue
            if trial.trial_id in rungs[k]:
                break
            score = self._spec.score(result)
            scores = self._sorted_scores(info["bracket"], k)
            cutoff = scores.quantile(1 - 1 / self._rf)
            rungs[k][trial.trial_id] = score
            scores.add(score)
            if cutoff is not None and score < cutoff:
                op = "<" if self.mode == "max" else ">"
                info["status"] = "stopped"
                info["reason"] = (
                    f"stopped at rung {milestones[k]:g}: {self._spec.show(score)} {op} "
                    f"cutoff {self._spec.show(cutoff)}"
                )
                return Decision(self.STOP, info["reason"])
            break
        if t >= self._max_t:
            info["status"] = "done"
            info["reason"] = f"reached max_t={self._max_t:g} {self._time_attr}"
            return Decision(self.STOP, info["reason"], budget_spent=True)
        return Decision(self.CONTINUE)

    def _end(self, trial: TrialSnapshot) -> None:
        info = self._info(trial.trial_id)
        if info["status"] == "live":
            info["status"] = "ended"

    def on_trial_error(self, trial: TrialSnapshot) -> None:
        self._end(trial)

    def on_trial_complete(self, trial: TrialSnapshot, result: Optional[Mapping[str, Any]]) -> None:
        self._end(trial)

    def on_trial_remove(self, trial: TrialSnapshot) -> None:
        self._end(trial)

    def on_trial_rerun(self, trial: TrialSnapshot) -> None:
        """The trial is live again; its scores at the rungs after its restart point
        are dropped, so it is judged there again against the others' scores."""
        info = self._info(trial.trial_id)
        info.update(status="live", reason="")
        start = self._snapshot_time(trial)
        for k, (milestone, recorded) in enumerate(zip(self._milestones[info["bracket"]],
                                                      self._rungs[info["bracket"]])):
            if milestone > start and recorded.pop(trial.trial_id, None) is not None:
                self._sorted.pop((info["bracket"], k), None)

    def next_decision_point(self, trial: TrialSnapshot) -> Optional[float]:
        """The trial's next rung milestone above its current time, then ``max_t``."""
        info = self._trials.get(trial.trial_id)
        if info is not None and info["status"] != "live":
            return None
        t = self._snapshot_time(trial)
        points = (self._milestones[info["bracket"]] if info else []) + [self._max_t]
        later = [m for m in points if m > t]
        return min(later) if later else self._max_t

    def debug_string(self) -> str:
        parts = []
        for b, (milestones, rungs) in enumerate(zip(self._milestones, self._rungs)):
            reached = max((k + 1 for k, r in enumerate(rungs) if r), default=1)
            cells = ", ".join(f"{m:g}: {len(r)}" for m, r in zip(milestones, rungs[:reached]))
            if reached < len(rungs):  # a huge max_t makes many rungs no trial reached yet
                cells += f", {len(rungs) - reached} more up to {milestones[-1]:g}: 0"
            parts.append(f"bracket {b} {{{cells}}}")
        stopped = sum(1 for i in self._trials.values() if i["status"] == "stopped")
        return f"Using AsyncHyperBand: num_stopped={stopped}; trials at rungs: " + "; ".join(parts)


class ASHAScheduler(AsyncHyperBandScheduler):
    """Ray Tune 1.x/2.x's ``ASHAScheduler``: :class:`AsyncHyperBandScheduler` with their
    defaults (one bracket, ``grace_period=1``, ``reduction_factor=4``), where the seed's
    has three brackets, ``grace_period=10`` and ``reduction_factor=3``.

    Example:
        >>> from tuneflows.schedulers import ASHAScheduler
        >>> asha = ASHAScheduler(metric="loss", mode="min", max_t=16)
        >>> asha.debug_string().startswith("Using AsyncHyperBand")
        True
    """

    def __init__(self, time_attr: str = "training_iteration",
                 reward_attr: str = "episode_reward_mean", max_t: float = 100,
                 grace_period: float = 1, reduction_factor: float = 4, brackets: int = 1,
                 metric: Optional[str] = None, mode: Optional[str] = None,
                 seed: Optional[int] = None) -> None:
        super().__init__(time_attr=time_attr, reward_attr=reward_attr, max_t=max_t,
                         grace_period=grace_period, reduction_factor=reduction_factor,
                         brackets=brackets, metric=metric, mode=mode, seed=seed)
