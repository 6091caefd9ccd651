"""Ray Tune 1.x/2.x's experiment-wide stops as a scheduler around the experiment's own:
a :class:`~tuneflows.schedulers.stopping.Stopper` (or ``f(trial_id, result)``), a time
budget and ``fail_fast``.

Why the driver decides: a stopper is one object with state over all trials (a plateau
over the experiment, a deadline), so it must see every result of every trial in order,
as Ray Tune's driver shows it every result. Shipped to the trials' actors, each copy
would see one trial's results and an experiment-wide rule could not hold. So the stopper
runs where the scheduler runs, on every result of a round, in order; a trial stops at
the first result it names (later results of that round are not played: the rounds of a
trial with a per-trial stopper are one result long, so no iteration runs past the stop).
A stop dict or ``MaximumIterationStopper`` is cheaper: it is checked in the trial's actor.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from tuneflows.schedulers.stopping import FunctionStopper, Stopper, TimeoutStopper
from tuneflows.schedulers.trial_scheduler import Decision, TrialScheduler
from tuneflows.trial import PAUSED, TrialSnapshot


class ExperimentStops(TrialScheduler):
    """Wraps ``scheduler`` with a stopper, a time budget and ``fail_fast``.

    Every decision is ``scheduler``'s unless a stop applies: a trial the stopper names
    stops (reason ``"stopped by <Stopper>"``); once the experiment stops (the stopper's
    ``stop_all``, the budget spent, or a trial errored under ``fail_fast``), every
    running trial stops at its next result, paused ones are stopped and none starts.

    Args:
        scheduler: The experiment's scheduler.
        stopper: A Stopper or a function ``f(trial_id, result) -> bool``; None for none.
        time_budget: A TimeoutStopper for the experiment's time budget (made when it starts).
        fail_fast: Stop the experiment when a trial ends in ERROR.

    Example:
        >>> from tuneflows.schedulers import FIFOScheduler
        >>> stops = ExperimentStops(FIFOScheduler(), lambda trial_id, r: r["loss"] < 0.1)
        >>> t = TrialSnapshot.make("t0", {})
        >>> [stops.on_trial_result(t, {"loss": v, "training_iteration": 1}).action
        ...  for v in (0.5, 0.05)]
        ['CONTINUE', 'STOP']
    """

    def __init__(self, scheduler: TrialScheduler, stopper: Any = None,
                 time_budget: Optional[TimeoutStopper] = None, fail_fast: bool = False) -> None:
        if stopper is not None and not isinstance(stopper, Stopper):
            stopper = FunctionStopper(stopper)
        self.wrapped = scheduler
        self.stopper = stopper
        self.time_budget = time_budget
        self.fail_fast = fail_fast
        self.metric, self.mode = scheduler.metric, scheduler.mode
        self._stopped: set[str] = set()
        self._ended: str = ""  # why the experiment stopped ("" while it goes on)

    @property
    def ended(self) -> str:
        """Why the whole experiment stopped; empty while it goes on."""
        return self._ended

    # ---------------------------------------------------------------- per result
    def on_trial_add(self, trial: TrialSnapshot) -> None:
        self.wrapped.on_trial_add(trial)

    def on_trial_result(self, trial: TrialSnapshot, result: Mapping[str, Any]) -> Decision:
        decision = self.wrapped.on_trial_result(trial, result)
        if trial.trial_id in self._stopped:
            return Decision(self.STOP, f"stopped by {type(self.stopper).__name__}")
        if self.stopper is not None and self.stopper(trial.trial_id, result):
            self._stopped.add(trial.trial_id)
            decision = Decision(self.STOP, f"stopped by {type(self.stopper).__name__}")
        self._check_experiment()
        if self._ended:
            return Decision(self.STOP, self._ended)
        return decision

    def _check_experiment(self) -> None:
        if self._ended:
            return
        if self.stopper is not None and self.stopper.stop_all():
            self._ended = f"experiment stopped by {type(self.stopper).__name__}"
        elif self.time_budget is not None and self.time_budget.stop_all():
            self._ended = f"time budget of {self.time_budget.timeout_s:g} s spent"

    def on_trial_error(self, trial: TrialSnapshot) -> None:
        self.wrapped.on_trial_error(trial)
        if self.fail_fast and not self._ended:
            self._ended = f"fail_fast: trial {trial.trial_id} errored"

    def on_trial_complete(self, trial: TrialSnapshot, result: Optional[Mapping[str, Any]]) -> None:
        self.wrapped.on_trial_complete(trial, result)

    def on_trial_remove(self, trial: TrialSnapshot) -> None:
        self.wrapped.on_trial_remove(trial)

    # ---------------------------------------------------------------- rounds and slots
    def next_decision_point(self, trial: TrialSnapshot) -> Optional[float]:
        """One result a round while a per-trial stopper is asked (so no iteration runs
        past its stop), else the wrapped scheduler's."""
        if self._per_result():
            last = trial.last_result or {}
            return float(last.get("training_iteration", 0)) + 1
        return self.wrapped.next_decision_point(trial)

    @property
    def time_attr(self) -> str:
        return "training_iteration" if self._per_result() else self.wrapped.time_attr

    def _per_result(self) -> bool:
        return self.stopper is not None and not isinstance(self.stopper, TimeoutStopper)

    def choose_trial_to_run(self, trials: Sequence[TrialSnapshot]) -> Optional[str]:
        self._check_experiment()
        return None if self._ended else self.wrapped.choose_trial_to_run(trials)

    def paused_trials_to_stop(self, trials: Sequence[TrialSnapshot]) -> dict[str, Decision]:
        if self._ended:
            return {t.trial_id: Decision(self.STOP, self._ended)
                    for t in trials if t.status == PAUSED}
        return self.wrapped.paused_trials_to_stop(trials)

    def make_searcher(self, experiment_config: Optional[Mapping[str, Any]],
                      num_samples: int) -> Any:
        return self.wrapped.make_searcher(experiment_config, num_samples)

    def debug_string(self) -> str:
        return self.wrapped.debug_string()

    # ---------------------------------------------------------------- state
    def get_state(self) -> dict[str, Any]:
        """The wrapped scheduler's state and the stops made so far (a stopper's own
        counters start afresh on resume)."""
        return {"scheduler": self.wrapped.get_state(), "stopped": sorted(self._stopped),
                "ended": self._ended}

    def set_state(self, state: Mapping[str, Any]) -> None:
        self.wrapped.set_state(state["scheduler"])
        self._stopped = set(state.get("stopped", ()))
        self._ended = state.get("ended", "")
