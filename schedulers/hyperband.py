"""Synchronous HyperBand: successive halving over brackets of trials."""

from __future__ import annotations

import math
import numbers
from typing import Any, Mapping, Optional, Sequence

from tuneflows.schedulers.metric_spec import MetricSpec
from tuneflows.schedulers.trial_scheduler import Decision, TrialScheduler, make_rng
from tuneflows.trial import PAUSED, PENDING, TrialSnapshot

_LIVE = ("running", "waiting")
#: Why a result of a trial that HyperBand had already ended (not stopped) gets STOP.
ENDED_BEFORE = "the trial had already ended for HyperBand (completed, errored or removed)"


class HyperBandScheduler(TrialScheduler):
    """HyperBand with synchronous successive halving inside each bracket.

    With ``R = max_t`` and ``η = reduction_factor``, ``s_max = floor(log_η R)``. Trials are
    added to brackets ``s = s_max, s_max - 1, …, 0`` (then again, a new band), bracket
    ``s`` taking ``n = ceil((s_max + 1) / (s + 1) * η**s)`` trials whose rung ``i`` is at
    ``r_i = R * η**(i - s)``, as in Table 1 of the paper (R=81, η=3: n = 81, 34, 15, 8, 5
    trials starting at r = 1, 3, 9, 27, 81; an integer ``max_t`` rounds each ``r_i`` up to
    a whole number). When a trial reaches its rung it is PAUSED
    (the flow checkpoints it and frees its slot) until every live trial of its bracket
    has reached that rung; then the best ``floor(n / η**(i + 1))`` (at least one)
    continue and the others are stopped. Trials that reach ``max_t`` are stopped.

    How the flow drives it:
      * ``next_decision_point`` is the trial's current rung milestone.
      * The trial whose result completes a rung gets CONTINUE (promoted) or STOP.
        Promoted PAUSED trials are returned by ``choose_trial_to_run`` (before any
        PENDING trial); PAUSED losers are returned by ``paused_trials_to_stop``: call it
        after applying each decision and after ``choose_trial_to_run``.
      * A rung also completes when the trials still missing from it end (error,
        complete), so waiting trials never deadlock.
      * A trial that errored and runs again (``on_trial_rerun``) rejoins its bracket:
        at each rung the bracket completed without it, it is stopped when below the
        cutoff that rung set (kept in the rung log), then it waits at the current rung.
      * A bracket that is not full completes its rung only once it is closed: when
        ``choose_trial_to_run`` finds no PENDING trial and nothing else to resume (the
        experiment has no more trials to give it). Add every trial the searcher can
        give (``on_trial_add``) before calling ``choose_trial_to_run``.

    Args:
        time_attr: Result key measuring training progress (non-decreasing).
        reward_attr: The seed's name for the metric to maximise.
        max_t: ``R``, the maximum ``time_attr`` of a trial.
        reduction_factor: ``η``.
        metric: Modern spelling of ``reward_attr``.
        mode: ``"max"`` or ``"min"``.
        seed: Seed of the scheduler's RNG (ties are broken by order of addition).

    Example:
        >>> from tuneflows.schedulers import HyperBandScheduler
        >>> [(b["s"], b["n"], b["r"]) for b in HyperBandScheduler(max_t=81).plan()]
        [(4, 81, 1.0), (3, 34, 3.0), (2, 15, 9.0), (1, 8, 27.0), (0, 5, 81.0)]
        >>> HyperBandScheduler(max_t=81).plan()[1]["rungs"]
        [(34, 3.0), (11, 9.0), (3, 27.0), (1, 81.0)]
        >>> HyperBandScheduler(max_t=100).plan()[0]["rungs"]  # whole rungs for an int max_t
        [(81, 2.0), (27, 4.0), (9, 12.0), (3, 34.0), (1, 100.0)]
        >>> HyperBandScheduler(max_t=100.0).plan()[0]["rungs"][0]
        (81, 1.2345679012345678)

    Reference:
        Li et al., "Hyperband: A Novel Bandit-Based Approach to Hyperparameter
        Optimization", JMLR 18(185), 2018, Algorithm 1 and Table 1.
    """

    _STATE_ATTRS = ("_trials", "_brackets", "_rung_log", "_rng")

    def __init__(
        self,
        time_attr: str = "training_iteration",
        reward_attr: str = "episode_reward_mean",
        max_t: float = 81,
        reduction_factor: float = 3,
        metric: Optional[str] = None,
        mode: Optional[str] = None,
        seed: Optional[int] = None,
    ) -> None:
        if not max_t > 0:
            raise ValueError(f"max_t must be > 0, got {max_t=}.")
        if not reduction_factor > 1:
            raise ValueError(f"reduction_factor must be > 1, got {reduction_factor=}.")
        self._time_attr = time_attr
        self._spec = MetricSpec.resolve(metric, mode, reward_attr, "episode_reward_mean",
                                 type(self).__name__)
        self.metric, self.mode = self._spec.metric, self._spec.mode
        self._max_t = float(max_t)
        # An integer max_t (iterations) gives whole rungs, rounded up: 100 / 3**4 is rung 2,
        # the first iteration reaching 1.23, and is shown as such.
        self._whole = isinstance(max_t, numbers.Integral)
        self._eta = float(reduction_factor)
        self._s_max = 0
        while self._eta ** (self._s_max + 1) <= self._max_t * (1 + 1e-12):
            self._s_max += 1
        # trial_id -> {"bracket", "status": running|waiting|stopped|done|ended, "score", "reason"}
        self._trials: dict[str, dict[str, Any]] = {}
        # each: {"s", "n", "milestones", "trials", "rung", "closed"}
        self._brackets: list[dict[str, Any]] = []
        # one entry per completed rung: {"bracket", "s", "r", "reached", "promoted"}
        self._rung_log: list[dict[str, Any]] = []
        self._rng = make_rng(seed)

    # Bracket geometry --------------------------------------------------------------

    def _bracket_size(self, s: int) -> int:
        return math.ceil((self._s_max + 1) * self._eta**s / (s + 1) - 1e-9)

    def _milestones(self, s: int) -> list[float]:
        exact = [self._max_t / self._eta ** (s - i) for i in range(s + 1)]
        if not self._whole:
            return exact
        return [float(math.ceil(r - 1e-9)) for r in exact]

    def plan(self) -> list[dict[str, Any]]:
        """Table 1: per bracket ``s``, its ``n``, ``r`` and ``rungs`` as ``(n_i, r_i)``."""
        out = []
        for s in range(self._s_max, -1, -1):
            n = self._bracket_size(s)
            rungs = [(math.floor(n / self._eta**i + 1e-9), r)
                     for i, r in enumerate(self._milestones(s))]
            out.append({"s": s, "n": n, "r": rungs[0][1], "rungs": rungs})
        return out

    # Hooks ----------------------------------------------------------------------------

    def _info(self, trial_id: str) -> dict[str, Any]:
        if trial_id not in self._trials:
            last = self._brackets[-1] if self._brackets else None
            if last is None or last["closed"] or len(last["trials"]) >= last["n"]:
                s = self._s_max - len(self._brackets) % (self._s_max + 1)
                last = {"s": s, "n": self._bracket_size(s), "milestones": self._milestones(s),
                        "trials": [], "rung": 0, "closed": False}
                self._brackets.append(last)
            last["trials"].append(trial_id)
            self._trials[trial_id] = {"bracket": len(self._brackets) - 1, "status": "running",
                                      "score": None, "reason": ""}
        return self._trials[trial_id]

    def on_trial_add(self, trial: TrialSnapshot) -> None:
        self._info(trial.trial_id)

    def on_trial_result(self, trial: TrialSnapshot, result: Mapping[str, Any]) -> Decision:
        info = self._info(trial.trial_id)
        if info["status"] not in _LIVE:
            return Decision(self.STOP, info["reason"] or ENDED_BEFORE)
        if info["status"] == "waiting":
            return Decision(self.PAUSE, info["reason"])
        b = self._brackets[info["bracket"]]
        t = self._time_of(result)
        late = self._judge_late(info, t, result)
        if late is not None:
            return late
        milestone = b["milestones"][b["rung"]]
        if t < milestone:
            return Decision(self.CONTINUE)
        info["score"] = self._spec.score(result)
        if b["rung"] == len(b["milestones"]) - 1:
            info["status"] = "done"
            info["reason"] = f"finished bracket s={b['s']} at {self._time_attr}={t:g} (max_t)"
            return Decision(self.STOP, info["reason"], budget_spent=True)
        info["status"] = "waiting"
        self._maybe_complete(info["bracket"])
        if info["status"] == "running":
            return Decision(self.CONTINUE)
        if info["status"] == "stopped":
            return Decision(self.STOP, info["reason"])
        live = [x for x in b["trials"] if self._trials[x]["status"] in _LIVE]
        reached = sum(1 for x in live if self._trials[x]["status"] == "waiting")
        info["reason"] = (
            f"waiting at rung {milestone:g} of bracket s={b['s']} "
            f"({reached}/{len(live)} live trials reached it)"
        )
        return Decision(self.PAUSE, info["reason"])

    def _judge_late(self, info: dict[str, Any], t: float,
                    result: Mapping[str, Any]) -> Optional[Decision]:
        """A re-run trial behind its bracket: judged at each rung the bracket completed
        without it against the cutoff that rung set. None once it has caught up."""
        b = self._brackets[info["bracket"]]
        while info.get("rung", b["rung"]) < b["rung"]:
            k = info["rung"]
            milestone = b["milestones"][k]
            if t < milestone:
                return Decision(self.CONTINUE)
            done = [e for e in self._rung_log if e["bracket"] == info["bracket"]]
            cutoff = done[k].get("cutoff") if k < len(done) else None
            score = self._spec.score(result)
            if cutoff is not None and score < cutoff:
                op = "<" if self.mode == "max" else ">"
                info.update(status="stopped", reason=(
                    f"stopped at rung {milestone:g} of bracket s={b['s']}: "
                    f"{self._spec.show(score)} {op} cutoff {self._spec.show(cutoff)} "
                    f"(the rung completed before the trial re-ran)"))
                return Decision(self.STOP, info["reason"])
            info["rung"] = k + 1
        info.pop("rung", None)
        return None

    def _maybe_complete(self, index: int) -> None:
        """Runs successive halving on the bracket's rung if it is complete."""
        b = self._brackets[index]
        if b["rung"] >= len(b["milestones"]) - 1:
            return
        live = [x for x in b["trials"] if self._trials[x]["status"] in _LIVE]
        if not live or any(self._trials[x]["status"] == "running" for x in live):
            return
        if not (b["closed"] or len(b["trials"]) >= b["n"]):
            return
        b["closed"] = True
        ranked = sorted(live, key=lambda x: -self._trials[x]["score"])
        keep = math.floor(len(b["trials"]) / self._eta ** (b["rung"] + 1) + 1e-9)
        keep = max(1, min(len(ranked), keep))
        milestone = b["milestones"][b["rung"]]
        cutoff = self._trials[ranked[keep - 1]]["score"]
        for x in ranked[:keep]:
            self._trials[x].update(status="running", score=None, reason="")
        for x in ranked[keep:]:
            score = self._trials[x]["score"]
            op = ("<" if self.mode == "max" else ">") if score < cutoff else "="
            self._trials[x].update(status="stopped", reason=(
                f"stopped at rung {milestone:g} of bracket s={b['s']}: "
                f"{self._spec.show(score)} {op} cutoff {self._spec.show(cutoff)} "
                f"(best {keep} of {len(ranked)} continue)"))
        self._rung_log.append({"bracket": index, "s": b["s"], "r": milestone,
                               "reached": len(ranked), "promoted": keep, "cutoff": cutoff})
        b["rung"] += 1

    def _end(self, trial: TrialSnapshot) -> None:
        info = self._info(trial.trial_id)
        if info["status"] in _LIVE:
            info["status"] = "ended"
            self._maybe_complete(info["bracket"])

    def on_trial_error(self, trial: TrialSnapshot) -> None:
        self._end(trial)

    def on_trial_complete(self, trial: TrialSnapshot, result: Optional[Mapping[str, Any]]) -> None:
        self._end(trial)

    def on_trial_remove(self, trial: TrialSnapshot) -> None:
        self._end(trial)

    def on_trial_rerun(self, trial: TrialSnapshot) -> None:
        """The trial is a running member of its bracket again. Behind its bracket, it
        is judged at each rung the bracket completed after the trial's restart point
        against that rung's cutoff, then waits at the bracket's current rung."""
        info = self._info(trial.trial_id)
        b = self._brackets[info["bracket"]]
        start = self._snapshot_time(trial)
        passed = sum(1 for m in b["milestones"][:b["rung"]] if m <= start)
        info.update(status="running", score=None, reason="")
        info.pop("rung", None)
        if passed < b["rung"]:
            info["rung"] = passed

    # Flow queries ----------------------------------------------------------------------

    def next_decision_point(self, trial: TrialSnapshot) -> Optional[float]:
        """The milestone of the rung the trial is working towards (or waiting at)."""
        info = self._trials.get(trial.trial_id)
        if info is None or info["status"] not in _LIVE:
            return None
        b = self._brackets[info["bracket"]]
        return b["milestones"][info.get("rung", b["rung"])]

    def _promoted_paused(self, by_id: Mapping[str, TrialSnapshot]) -> Optional[str]:
        for tid, info in self._trials.items():
            snap = by_id.get(tid)
            if snap is not None and snap.status == PAUSED and info["status"] == "running":
                return tid
        return None

    def choose_trial_to_run(self, trials: Sequence[TrialSnapshot]) -> Optional[str]:
        """Promoted PAUSED trials first, then PENDING ones; closes a stalled bracket."""
        by_id = {t.trial_id: t for t in trials}
        chosen = self._promoted_paused(by_id)
        if chosen is not None:
            return chosen
        for t in trials:
            info = self._trials.get(t.trial_id)
            if t.status == PENDING and (info is None or info["status"] == "running"):
                return t.trial_id
        # Nothing to run: a bracket that is not full and whose live trials all wait
        # cannot grow now, so close it and halve it with the trials it has.
        for index, b in enumerate(self._brackets):
            live = [st for st in (self._trials[x]["status"] for x in b["trials"]) if st in _LIVE]
            if not b["closed"] and live and all(st == "waiting" for st in live):
                b["closed"] = True
                self._maybe_complete(index)
        chosen = self._promoted_paused(by_id)
        if chosen is not None:
            return chosen
        for t in trials:
            if t.status == PAUSED and t.trial_id not in self._trials:
                return t.trial_id
        return None

    def paused_trials_to_stop(self, trials: Sequence[TrialSnapshot]) -> dict[str, Decision]:
        """PAUSED trials that lost their rung (or reached ``max_t``)."""
        return {
            t.trial_id: Decision(self.STOP, self._trials[t.trial_id]["reason"])
            for t in trials
            if t.status == PAUSED and t.trial_id in self._trials
            and self._trials[t.trial_id]["status"] in ("stopped", "done", "ended")
        }

    def debug_string(self) -> str:
        parts = []
        for b in self._brackets:
            live = [x for x in b["trials"] if self._trials[x]["status"] in _LIVE]
            if live:
                waiting = sum(1 for x in live if self._trials[x]["status"] == "waiting")
                parts.append(f"s={b['s']} rung {b['milestones'][b['rung']]:g}: "
                             f"{waiting}/{len(live)} reached")
        return (f"Using HyperBand: max_t={self._max_t:g}, eta={self._eta:g}, "
                f"{len(self._brackets)} brackets; " + ("; ".join(parts) or "none active"))
