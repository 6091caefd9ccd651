"""A tiny, deterministic stand-in for the experiment loop, for scheduler tests.

It drives the real :class:`~tuneflows.control.controller.TrialController` (no Ray,
Prefect, MLflow or files): synthetic trials play rounds up to the controller's round
request, and the sim carries out the controller's actions itself (PAUSE keeps a
checkpoint and frees the slot, STOP terminates, a clone restores the donor's checkpoint).
It also checks the contract: only the round-ending result may carry a non-CONTINUE
decision, and clones come from trials that have a checkpoint.
"""

from __future__ import annotations

import copy
import json
import pickle
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

from tuneflows.control.actions import (
    RELEASE, AddTrial, CloneTrial, ContinueTrial, EndTrial, PauseTrial, RestartTrial, StartTrial,
    StoreCheckpoint,
)
from tuneflows.control.controller import TrialController

from tuneflows.model.rounds import RoundOutcome
from tuneflows.schedulers import Decision, TrialScheduler
from tuneflows.search.searcher import FINISHED, Searcher
from tuneflows.spec import Experiment
from tuneflows.trial import ERROR, RUNNING, TERMINATED, Trial


def curve(config: Mapping, t: int) -> float:
    """Synthetic learning curve: rises towards ``q``; ``lr`` near 0.1 learns fastest."""
    speed = 0.3 / (1.0 + 10 * abs(config.get("lr", 0.1) - 0.1))
    return config["q"] * (1.0 - (1.0 - speed) ** t)


@dataclass
class SimTrial:
    """A synthetic trial; once the controller has added it, ``trial`` is its record."""

    config: dict
    fail_at: Optional[int] = None
    trial: Optional[Trial] = None
    t: int = 0
    value: float = 0.0
    checkpoint: Optional[dict] = None
    results: int = 0

    @property
    def trial_id(self) -> str:
        return self.trial.trial_id if self.trial else ""

    @property
    def status(self) -> str:
        return self.trial.status if self.trial else "PENDING"

    @property
    def reason(self) -> str:
        return self.trial.status_reason if self.trial else ""

    def step(self) -> dict:
        self.t += 1
        self.results += 1
        config = self.trial.config
        # Increment-based so that a clone keeps its donor's progress and its own config.
        self.value += curve(config, self.t) - curve(config, self.t - 1)
        return {"training_iteration": self.t, "time_total_s": float(self.t),
                "score": self.value, "loss": -self.value}


def make_trials(configs: list[dict], fail_at: Optional[dict[int, int]] = None) -> list[SimTrial]:
    fail_at = fail_at or {}
    return [SimTrial(dict(c), fail_at.get(i)) for i, c in enumerate(configs)]


class ListSearcher(Searcher):
    """Suggests the simulation's configs in order, then FINISHED."""

    def __init__(self, sims: list[SimTrial]) -> None:
        self._sims = sims
        self._next = 0

    def suggest(self, trial_id: str) -> Any:
        if self._next >= len(self._sims):
            return FINISHED
        self._next += 1
        return dict(self._sims[self._next - 1].config)


class ContractCheck:
    """Wraps the scheduler: records each result's decision for the contract check."""

    def __init__(self, inner: TrialScheduler) -> None:
        self.inner = inner
        self.decisions: list[Decision] = []

    def on_trial_result(self, trial: Any, result: Mapping) -> Decision:
        decision = self.inner.on_trial_result(trial, result)
        assert isinstance(decision, Decision)
        self.decisions.append(decision)
        return decision

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


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
    save_at: Optional[int] = None  # after this many rounds, save the state a resume reads
    kill_at: Optional[int] = None  # after this many rounds, stop as a killed driver does
    log: list[tuple] = field(default_factory=list)
    rounds: int = 0
    recorded: dict[str, list[dict]] = field(default_factory=dict)  # the trials' files
    saved: Optional[tuple] = None  # (scheduler state as JSON, trials, checkpoints)

    def by_id(self, trial_id: str) -> SimTrial:
        return self._by_id[trial_id]

    def run(self, max_rounds: int = 100_000) -> "Simulation":
        self._by_id: dict[str, SimTrial] = {}
        self._check = ContractCheck(self.scheduler)
        searcher = ListSearcher([] if not self.lazy else self.trials)
        self.ctl = TrialController(self._experiment(), "sim00", self._check, searcher,  # type: ignore[arg-type]
                                   self.slots)
        for sim in ([] if self.lazy else self.trials):
            self._adopt(self.ctl.add_trial(sim.config, ""))
        return self._play(max_rounds)

    def resume(self, scheduler: TrialScheduler, errored_only: bool = False) -> "Simulation":
        """A new simulation of these trials resumed from the saved state (at ``save_at``,
        else at the end) as ``run_experiments(resume=...)`` does, the trials' bugs fixed
        (no ``fail_at``): ``scheduler`` (freshly constructed) gets the saved scheduler
        state, and the trials their records (``recorded``) and checkpoints."""
        state, trials, checkpoints = self.saved or self._save()
        scheduler.set_state(json.loads(state))
        new = Simulation(scheduler, [SimTrial(dict(s.config)) for s in self.trials],
                         slots=self.slots, max_iter=self.max_iter, round_cap=self.round_cap)
        new._by_id, new._check = {}, ContractCheck(scheduler)
        new.ctl = TrialController(new._experiment(), "sim00", new._check,  # type: ignore[arg-type]
                                  ListSearcher([]), self.slots)
        new.ctl.searcher_done = True
        for old, sim in zip(self.trials, new.trials):
            sim.trial = Trial(**copy.deepcopy(trials[old.trial_id]))
            new._by_id[sim.trial_id] = sim
            sim.checkpoint = checkpoints.get(sim.trial_id)
            new.recorded[sim.trial_id] = list(self.recorded.get(sim.trial_id, []))
            new.ctl.take_over(sim.trial, new.recorded[sim.trial_id],
                              sim.checkpoint["t"] if sim.checkpoint else None, errored_only)
        return new._play(100_000)

    def _experiment(self) -> Experiment:
        return Experiment("sim", run=lambda config, reporter: None, local_dir="/nonexistent",
                          stop={"training_iteration": self.max_iter}, max_failures=0)

    def _save(self) -> tuple:
        return (json.dumps(self._check.inner.get_state()),
                {s.trial_id: copy.deepcopy(s.trial.to_dict()) for s in self.trials if s.trial},
                {s.trial_id: dict(s.checkpoint) for s in self.trials if s.checkpoint})

    def _play(self, max_rounds: int) -> "Simulation":
        while True:
            self._carry_out(self.ctl.fill_slots())
            running = [s for s in self.trials if s.trial and s.status == RUNNING]
            if not running:
                break
            for sim in running:
                if sim.status != RUNNING:
                    continue
                self._round(sim)
                self.rounds += 1
                assert self.rounds < max_rounds, "simulation does not end (deadlock?)"
                if self.swap_at is not None and self.rounds == self.swap_at:
                    self.scheduler = self._check.inner = self.swap(self._check.inner)
                if self.rounds == self.save_at:
                    self.saved = self._save()
                if self.rounds == self.kill_at:
                    return self
        left = [(t.trial_id, t.status) for t in self.trials if t.status not in (TERMINATED, ERROR)]
        assert not left, f"trials left unfinished (deadlock): {left[:5]}"
        return self

    @property
    def total_iterations(self) -> int:
        return sum(t.results for t in self.trials)

    def _adopt(self, trial: Trial) -> None:
        sim = next(s for s in self.trials if s.trial is None)
        sim.trial = trial
        self._by_id[trial.trial_id] = sim

    def _round(self, sim: SimTrial) -> None:
        request = self.ctl.round_request(sim.trial_id)
        self.ctl.count_round(sim.trial_id)
        point = request.until.get(self._check.inner.time_attr)
        outcome = RoundOutcome()
        while True:
            result = sim.step()
            outcome.results.append(result)
            if sim.fail_at is not None and sim.t >= sim.fail_at:
                outcome.error = "Traceback:\nRuntimeError: synthetic failure"
                break
            if sim.t >= self.max_iter:
                outcome.finished, outcome.stop_key = True, "training_iteration"
                break
            if point is not None and result[self._check.inner.time_attr] >= point:
                break
            if point is None and len(outcome.results) >= self.round_cap:
                break
        self._check.decisions.clear()
        results = self.ctl.new_results(sim.trial_id, outcome)
        self.recorded.setdefault(sim.trial_id, []).extend(results)
        actions = self.ctl.on_round(sim.trial_id, outcome, results)
        decisions = self._check.decisions
        for decision in decisions[:-1]:
            assert decision.action == TrialScheduler.CONTINUE and decision.clone_from is None, (
                f"non-CONTINUE decision off a decision point: {decision}, {point=}")
        if outcome.error is not None:
            self.log.append((sim.trial_id, "error", sim.t))
        elif decisions:
            last = decisions[-1]
            self.log.append((sim.trial_id, last.action, last.clone_from,
                             json.dumps(last.new_config, sort_keys=True), sim.t))
        self._carry_out(actions)

    def _carry_out(self, actions: list) -> None:
        for action in actions:
            sim = self._by_id.get(action.trial.trial_id) if not isinstance(action, AddTrial) else None
            if isinstance(action, AddTrial):
                self._adopt(action.trial)
            elif isinstance(action, StartTrial):
                if sim.checkpoint is not None:  # resume from its own checkpoint
                    sim.t, sim.value = sim.checkpoint["t"], sim.checkpoint["value"]
                self.log.append((sim.trial_id, "start", sim.t))
            elif isinstance(action, StoreCheckpoint):
                sim.checkpoint = {"t": sim.t, "value": sim.value}
                self.ctl.on_checkpoint(sim.trial_id)
            elif isinstance(action, PauseTrial):
                sim.checkpoint = {"t": sim.t, "value": sim.value}
                self.ctl.on_checkpoint(sim.trial_id)
                self.ctl.release_slot(sim.trial_id)
                self._carry_out(self.ctl.on_paused(sim.trial_id, parked=False))
            elif isinstance(action, CloneTrial):
                donor = self.by_id(action.donor_id)
                assert donor.checkpoint is not None, "clone from a trial without checkpoint"
                assert donor.trial_id != sim.trial_id
                sim.t, sim.value = donor.checkpoint["t"], donor.checkpoint["value"]
            elif isinstance(action, EndTrial):
                self.ctl.release_slot(sim.trial_id)
                if action.early_stopped and action.actor != RELEASE:  # a paused loser
                    self.log.append((sim.trial_id, "paused-stop", action.reason))
            else:
                assert isinstance(action, (ContinueTrial, RestartTrial))


def swap_via_state(factory: Callable[[], TrialScheduler]) -> Callable:
    """Restores get_state() (through JSON) into a freshly constructed scheduler."""
    def swap(old: TrialScheduler) -> TrialScheduler:
        new = factory()
        new.set_state(json.loads(json.dumps(old.get_state())))
        return new
    return swap


def swap_via_pickle(old: TrialScheduler) -> TrialScheduler:
    return pickle.loads(pickle.dumps(old))
