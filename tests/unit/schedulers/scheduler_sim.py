"""A tiny, deterministic stand-in for the experiment flow, for scheduler tests.

It plays a pool of synthetic trials through a scheduler the way the flow does:
choose_trial_to_run fills free slots, a round runs up to next_decision_point and feeds
every result to on_trial_result, the last result's decision is applied (PAUSE keeps a
checkpoint and frees the slot, STOP terminates and calls on_trial_remove, clone_from
restores the donor's checkpoint and sets new_config), paused_trials_to_stop is honoured.
It also checks the contract: only the round-ending result may carry a non-CONTINUE
decision, and clones come from trials that have a checkpoint.
"""

from __future__ import annotations

import copy
import json
import pickle
from dataclasses import dataclass, field
from typing import Callable, Optional

from tuneflows.schedulers import Decision, TrialScheduler
from tuneflows.trial import ERROR, PAUSED, PENDING, RUNNING, TERMINATED, TrialSnapshot


def curve(config: dict, t: int) -> float:
    """Synthetic learning curve: rises towards ``q``; ``lr`` near 0.1 learns fastest."""
    speed = 0.3 / (1.0 + 10 * abs(config.get("lr", 0.1) - 0.1))
    return config["q"] * (1.0 - (1.0 - speed) ** t)


@dataclass
class SimTrial:
    trial_id: str
    config: dict
    fail_at: Optional[int] = None
    status: str = PENDING
    t: int = 0
    value: float = 0.0
    checkpoint: Optional[dict] = None
    last_result: Optional[dict] = None
    reason: str = ""
    results: int = 0

    def snapshot(self) -> TrialSnapshot:
        return TrialSnapshot.make(self.trial_id, self.config, status=self.status,
                                  last_result=self.last_result,
                                  has_checkpoint=self.checkpoint is not None)

    def step(self) -> dict:
        self.t += 1
        self.results += 1
        # Increment-based so that a clone keeps its donor's progress and its own config.
        self.value += curve(self.config, self.t) - curve(self.config, self.t - 1)
        self.last_result = {"training_iteration": self.t, "time_total_s": float(self.t),
                            "score": self.value, "loss": -self.value}
        return self.last_result


def make_trials(configs: list[dict], fail_at: Optional[dict[int, int]] = None) -> list[SimTrial]:
    fail_at = fail_at or {}
    return [SimTrial(f"t{i:03d}", dict(c), fail_at.get(i)) for i, c in enumerate(configs)]


@dataclass
class Simulation:
    """Runs trials through a scheduler; ``log`` lists every decision, in order."""

    scheduler: TrialScheduler
    trials: list[SimTrial]
    slots: int = 2
    max_iter: int = 30
    round_cap: int = 4  # results per round when the scheduler names no decision point
    swap_at: Optional[int] = None  # after this many rounds, restore into a new scheduler
    swap: Optional[Callable[[TrialScheduler], TrialScheduler]] = None
    lazy: bool = False  # add trials one by one, as a searcher would (before choosing)
    log: list[tuple] = field(default_factory=list)
    rounds: int = 0

    def snaps(self) -> list[TrialSnapshot]:
        return [t.snapshot() for t in self.trials if t.trial_id in self._added]

    def by_id(self, trial_id: str) -> SimTrial:
        return next(t for t in self.trials if t.trial_id == trial_id)

    def _stop_paused(self) -> None:
        for tid, d in self.scheduler.paused_trials_to_stop(self.snaps()).items():
            trial = self.by_id(tid)
            assert trial.status == PAUSED and d.action == TrialScheduler.STOP
            self.log.append((tid, "paused-stop", d.reason))
            trial.status, trial.reason = TERMINATED, d.reason
            self.scheduler.on_trial_remove(trial.snapshot())

    def _fill_slots(self) -> None:
        while sum(t.status == RUNNING for t in self.trials) < self.slots:
            hidden = [t for t in self.trials if t.trial_id not in self._added]
            if hidden and not any(t.status == PENDING for t in self.trials
                                  if t.trial_id in self._added):
                self._added.add(hidden[0].trial_id)  # Ray 0.x: ask the searcher first
                self.scheduler.on_trial_add(hidden[0].snapshot())
            tid = self.scheduler.choose_trial_to_run(self.snaps())
            if tid is None:
                return
            trial = self.by_id(tid)
            assert trial.status in (PENDING, PAUSED), (tid, trial.status)
            if trial.status == PAUSED:  # resume from its own checkpoint
                trial.t, trial.value = trial.checkpoint["t"], trial.checkpoint["value"]
            trial.status = RUNNING
            self.log.append((tid, "start", trial.t))

    def _round(self, trial: SimTrial) -> None:
        point = self.scheduler.next_decision_point(trial.snapshot())
        decision, n = Decision(TrialScheduler.CONTINUE), 0
        while True:
            snap_before = trial.snapshot()
            result = trial.step()
            n += 1
            decision = self.scheduler.on_trial_result(trial.snapshot(), result)
            assert isinstance(decision, Decision)
            assert snap_before.trial_id == trial.trial_id
            if trial.fail_at is not None and trial.t >= trial.fail_at:
                trial.status = ERROR
                self.scheduler.on_trial_error(trial.snapshot())
                self.log.append((trial.trial_id, "error", trial.t))
                return
            at_point = point is not None and result[self.scheduler.time_attr] >= point
            done = trial.t >= self.max_iter
            if at_point or done or (point is None and n >= self.round_cap):
                break
            assert decision.action == TrialScheduler.CONTINUE and decision.clone_from is None, (
                f"non-CONTINUE decision off a decision point: {decision} at {result}, {point=}")
        self.log.append((trial.trial_id, decision.action, decision.clone_from,
                         json.dumps(decision.new_config, sort_keys=True), trial.t))
        if decision.clone_from is not None:
            donor = self.by_id(decision.clone_from)
            assert donor.checkpoint is not None, "clone from a trial without checkpoint"
            assert donor.trial_id != trial.trial_id
            trial.t, trial.value = donor.checkpoint["t"], donor.checkpoint["value"]
            trial.config = copy.deepcopy(dict(decision.new_config))
        if decision.save_checkpoint or decision.action == TrialScheduler.PAUSE:
            trial.checkpoint = {"t": trial.t, "value": trial.value}
        if decision.action == TrialScheduler.STOP:
            trial.status, trial.reason = TERMINATED, decision.reason
            self.scheduler.on_trial_remove(trial.snapshot())
        elif trial.t >= self.max_iter:  # the stop criterion ends the trial whatever was decided
            trial.status = TERMINATED
            self.scheduler.on_trial_complete(trial.snapshot(), trial.last_result)
        elif decision.action == TrialScheduler.PAUSE:
            trial.status, trial.reason = PAUSED, decision.reason

    def run(self, max_rounds: int = 100_000) -> "Simulation":
        self._added = set()
        for t in ([] if self.lazy else self.trials):
            self._added.add(t.trial_id)
            self.scheduler.on_trial_add(t.snapshot())
        while True:
            self._stop_paused()
            self._fill_slots()
            self._stop_paused()
            running = [t for t in self.trials if t.status == RUNNING]
            if not running:
                break
            for trial in running:
                self._round(trial)
                self.rounds += 1
                assert self.rounds < max_rounds, "simulation does not end (deadlock?)"
                if self.swap_at is not None and self.rounds == self.swap_at:
                    self.scheduler = self.swap(self.scheduler)
        left = [(t.trial_id, t.status) for t in self.trials if t.status not in (TERMINATED, ERROR)]
        assert not left, f"trials left unfinished (deadlock): {left[:5]}"
        return self

    @property
    def total_iterations(self) -> int:
        return sum(t.results for t in self.trials)


def swap_via_state(factory: Callable[[], TrialScheduler]) -> Callable:
    """Restores get_state() (through JSON) into a freshly constructed scheduler."""
    def swap(old: TrialScheduler) -> TrialScheduler:
        new = factory()
        new.set_state(json.loads(json.dumps(old.get_state())))
        return new
    return swap


def swap_via_pickle(old: TrialScheduler) -> TrialScheduler:
    return pickle.loads(pickle.dumps(old))
