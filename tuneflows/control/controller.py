"""The trial controller: slots, trial states, and what each scheduler or searcher
decision means for a trial, as actions for the experiment loop to carry out.

Pure: no Ray, Prefect, MLflow or files. The loop reports what happened (a round's
outcome, a failure, a pause) and carries out the returned actions in order.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from tuneflows import result as R
from tuneflows.control.actions import (
    DISCARD, NO_ACTOR, RELEASE, Action, AddTrial, CloneTrial, ContinueTrial, EndTrial,
    PauseTrial, RestartTrial, StartTrial, StoreCheckpoint,
)
from tuneflows.control.resumed_trials import HeardResults, ResumeTakeOver
from tuneflows.control.trial_factory import make_trial
from tuneflows.error import TuneError, last_line
from tuneflows.model.rounds import RoundOutcome, RoundRequest
from tuneflows.schedulers import Decision, TrialScheduler
from tuneflows.result import EARLY_STOPPED
from tuneflows.search.searcher import FINISHED, Searcher
from tuneflows.spec import Experiment
from tuneflows.trial import ERROR, PAUSED, PENDING, RUNNING, TERMINATED, Trial, TrialSnapshot
from tuneflows.model.trial_outcome import CLIENT_STOP_REASON

_ACTIONS = (TrialScheduler.CONTINUE, TrialScheduler.PAUSE, TrialScheduler.STOP)

#: How many of a grid's trials wait PENDING ahead of the slots: a grid up to this size
#: exists whole from the start; a bigger one's later trials are added as earlier ones
#: start, so a choice (which reads every unfinished trial) stays cheap.
GRID_PENDING_AHEAD = 200


class TrialController(ResumeTakeOver):
    """Decides which trials run and turns decisions into actions.

    Args:
        experiment: The experiment whose trials this controls.
        experiment_id: Prefix of trial ids.
        scheduler: Decides continue / pause / stop / clone.
        searcher: Proposes configurations.
        slots: Most trials holding an actor at once.
        round_seconds: Wall-clock slice of a round.

    Example:
        >>> from tuneflows.schedulers import FIFOScheduler
        >>> from tuneflows.search import BasicVariantGenerator
        >>> from tuneflows.spec import Experiment
        >>> exp = Experiment("demo", lambda config, reporter: None, local_dir="/tmp/r")
        >>> ctl = TrialController(exp, "abcdef", FIFOScheduler(),
        ...                       BasicVariantGenerator({"lr": 0.1}), slots=2)
        >>> [type(a).__name__ for a in ctl.fill_slots()]
        ['AddTrial', 'StartTrial']
    """

    def __init__(self, experiment: Experiment, experiment_id: str, scheduler: TrialScheduler,
                 searcher: Searcher, slots: int, round_seconds: float = 5.0) -> None:
        self.experiment = experiment
        self.experiment_id = experiment_id
        self.scheduler = scheduler
        self.searcher = searcher
        self.slots = max(int(slots), 1)
        self.round_seconds = round_seconds
        self.trials: dict[str, Trial] = {}
        # Unfinished trials in order: what slot filling walks, so its cost does not grow
        # with finished trials.
        self._live: dict[str, Trial] = {}
        self._parked: set[str] = set()  # PAUSED trials still held by their actor
        # Trials holding an actor, until the loop reports it back in the pool or killed:
        # a slot freed earlier would start a new actor that waits for the CPUs the old
        # one still holds, and an idle actor would then never be used.
        self._holding: set[str] = set()
        self._with_checkpoint: set[str] = set()
        self.replay_until: dict[str, int] = {}  # results up to here are already recorded
        self.heard = HeardResults()  # of resumed trials whose records are ahead of the scheduler
        self.rounds: dict[str, int] = {}
        self.searcher_done = False
        # A grid's (and repeat's) trials are added PENDING ahead (GRID_PENDING_AHEAD).
        self._all_up_front = searcher.plans_ahead
        self._fresh: dict[str, TrialSnapshot] = {}  # snapshots of never-started PENDING trials
        self._stop_requests: set[str] = set()

    # ------------------------------------------------------------------ queries
    def snapshot(self, trial: Trial) -> TrialSnapshot:
        """A frozen view of ``trial`` for the scheduler and searcher."""
        return trial.snapshot(trial.trial_id in self._with_checkpoint)

    def running(self) -> int:
        """How many trials hold a slot (an actor: running, parked, or ending)."""
        return len(self._holding)

    def count_round(self, trial_id: str) -> int:
        """Counts a new round of ``trial_id`` and returns its number (1 for the first)."""
        self.rounds[trial_id] = self.rounds.get(trial_id, 0) + 1
        return self.rounds[trial_id]

    def round_request(self, trial_id: str) -> RoundRequest:
        """How far the next round of ``trial_id`` may go."""
        trial = self.trials[trial_id]
        until: dict[str, float] = {}
        point = self.scheduler.next_decision_point(self.heard.view(self.snapshot(trial)))
        if point is not None:
            until[self.scheduler.time_attr] = point
        return RoundRequest(until=until, stop=trial.stopping_criterion,
                            max_seconds=0.0 if trial_id in self._stop_requests
                            else self.round_seconds,  # a stop waits for one result at most
                            checkpoint_freq=trial.checkpoint_freq,
                            checkpoint_at_end=trial.checkpoint_at_end)

    # ------------------------------------------------------------------ slots
    def fill_slots(self) -> list[Action]:
        """Adds suggested trials and starts trials while slots are free.

        A new suggestion is added (PENDING) before the scheduler chooses, so
        bracket-based schedulers see full brackets; a grid's suggestions are added
        ahead, up to GRID_PENDING_AHEAD waiting.
        """
        actions: list[Action] = []
        while (self._all_up_front and not self.searcher_done
               and len(self._fresh) < GRID_PENDING_AHEAD):
            added = self._add_suggested_trial()
            if not added and not self.searcher_done:
                break
            actions.extend(added)
        while True:
            free = self.running() < self.slots
            pending = any(t.status == PENDING for t in self._live.values())
            if free and not pending and not self.searcher_done:
                actions.extend(self._add_suggested_trial())
            candidates = [t for t in self._live.values() if free or t.trial_id in self._parked]
            trial_id = self.scheduler.choose_trial_to_run(self._snapshots(candidates))
            actions.extend(self.stop_paused_losers())
            if trial_id is None:
                return actions
            trial = self.trials.get(trial_id)
            if trial is None or trial.status not in (PENDING, PAUSED):
                raise TuneError(f"{type(self.scheduler).__name__}.choose_trial_to_run returned "
                                f"{trial_id!r}, which is not a PENDING or PAUSED trial.")
            parked = trial_id in self._parked
            self._parked.discard(trial_id)
            self._fresh.pop(trial_id, None)
            self._holding.add(trial_id)
            trial.status = RUNNING
            actions.append(StartTrial(trial, parked=parked))

    def stop_paused_losers(self) -> list[Action]:
        """Ends the PAUSED trials the scheduler has given up on (HyperBand's losers)."""
        if not any(t.status == PAUSED for t in self._live.values()):
            return []
        actions: list[Action] = []
        snapshots = self._snapshots(list(self._live.values()))
        for trial_id, decision in self.scheduler.paused_trials_to_stop(snapshots).items():
            trial = self.trials[trial_id]
            if trial.status == PAUSED:
                actor = DISCARD if trial_id in self._parked else NO_ACTOR
                actions.append(self._stop_early(trial, decision.reason, actor))
        return actions

    def never_resumed(self) -> list[Action]:
        """When nothing runs any more: ends the trials the scheduler left waiting."""
        waiting = [t for t in self._live.values() if t.status in (PENDING, PAUSED)]
        return [self._end(t, TERMINATED, "the scheduler never resumed it",
                          DISCARD if t.trial_id in self._parked else NO_ACTOR)
                for t in waiting]

    def _add_suggested_trial(self) -> list[Action]:
        trial_id = self.next_trial_id()
        suggestion = self.searcher.suggest(trial_id)
        if suggestion == FINISHED:
            self.searcher_done = True
            return []
        if suggestion is None:
            return []
        tag = self.searcher.experiment_tag(trial_id)
        return [AddTrial(self.add_trial(dict(suggestion), tag, trial_id))]

    def next_trial_id(self) -> str:
        """The id the next trial gets."""
        return f"{self.experiment_id[:5]}_{len(self.trials):05d}"

    def add_trial(self, config: Mapping[str, Any], tag: str,
                  trial_id: Optional[str] = None) -> Trial:
        """Adds a PENDING trial with a resolved ``config`` (a suggestion or a client's)."""
        trial_id = trial_id or self.next_trial_id()
        trial = make_trial(self.experiment, trial_id, len(self.trials), config, tag)
        self.trials[trial_id] = trial
        self._live[trial_id] = trial
        if self.experiment.restore:
            self._with_checkpoint.add(trial_id)
        self._fresh[trial_id] = self.snapshot(trial)
        self.scheduler.on_trial_add(self._fresh[trial_id])
        return trial

    def _snapshots(self, trials: Sequence[Trial]) -> list[TrialSnapshot]:
        """Snapshots of ``trials``; a never-started trial's is taken once (with a whole
        grid PENDING, a fresh snapshot of each per choice would grow with the grid)."""
        return [self._fresh.get(t.trial_id) or self.snapshot(t) for t in trials]

    def on_error_file(self, trial_id: str, path: str) -> None:
        """A trial's failure was written to the file at ``path`` (the recorder's)."""
        self.trials[trial_id].error_file = path

    def on_started(self, trial_id: str, pid: Optional[int]) -> None:
        """A trial's trainable started in the process ``pid``."""
        self.trials[trial_id].pid = pid

    def has_checkpoint(self, trial_id: str) -> bool:
        """Whether the trial has a checkpoint to resume or be cloned from."""
        return trial_id in self._with_checkpoint

    # ------------------------------------------------------------------ rounds
    def new_results(self, trial_id: str, outcome: RoundOutcome) -> list[dict[str, Any]]:
        """The round's results not recorded before (a restarted trial replays some);
        the last becomes the trial's ``last_result``. Record them before
        :meth:`on_round`, so they are kept even if a scheduler raises."""
        replay = self.replay_until.get(trial_id, 0)
        results = [r for r in outcome.results if r[R.TRAINING_ITERATION] > replay]
        if results:
            self.trials[trial_id].last_result = results[-1]
        return results

    def on_round(self, trial_id: str, outcome: RoundOutcome,
                 results: Sequence[Mapping[str, Any]]) -> list[Action]:
        """What to do after a round whose new ``results`` (from :meth:`new_results`) are
        recorded: keep its checkpoint, then end, restart, pause, clone or continue.

        The scheduler and searcher hear the new results, after the replayed ones they
        have not heard (a resumed trial's, :class:`HeardResults`)."""
        trial = self.trials[trial_id]
        actions: list[Action] = []
        decision = Decision(TrialScheduler.CONTINUE)
        replayed = self.heard.unheard(trial_id, outcome.results,
                                      self.replay_until.get(trial_id, 0))
        if replayed and not results:
            trial.last_result = replayed[-1]  # where the trial is
        if replayed or results:
            snapshot = self.snapshot(trial)
            for result in [*replayed, *results]:
                self.searcher.on_trial_result(trial_id, result)
                decision = self.scheduler.on_trial_result(snapshot.with_result(result), result)
        if outcome.checkpoint is not None:
            self._with_checkpoint.add(trial_id)
            actions.append(StoreCheckpoint(trial, outcome.checkpoint, outcome.checkpoint_iteration))
        if outcome.error is not None:
            return actions + self.on_failure(trial_id, outcome.error, actor_dead=False)
        if outcome.finished and (outcome.stopped_by_client or trial_id in self._stop_requests):
            return actions + [self._stop_early(trial, CLIENT_STOP_REASON, RELEASE)]
        if outcome.finished:
            reason = f"{outcome.stop_key} reached" if outcome.stop_key else ""
            end = self._end(trial, TERMINATED, reason, RELEASE)
            self.scheduler.on_trial_complete(self.snapshot(trial), trial.last_result)
            return actions + [end]
        return actions + self.apply(trial, decision)

    def apply(self, trial: Trial, decision: Decision) -> list[Action]:
        """Turns a scheduler's decision for ``trial`` into actions."""
        if trial.trial_id in self._stop_requests:
            decision = Decision(TrialScheduler.STOP, CLIENT_STOP_REASON)
        if decision.action not in _ACTIONS:
            raise TuneError(f"{type(self.scheduler).__name__} returned an invalid action "
                            f"{decision.action!r} for {trial.name}.")
        actions: list[Action] = []
        if decision.clone_from is not None:
            old_config = dict(trial.config)
            trial.config = dict(decision.new_config or trial.config)
            donor = self.trials[decision.clone_from]
            trial.status_reason = decision.reason or f"cloned from {donor.name}"
            self.replay_until.pop(trial.trial_id, None)
            self.heard.forget(trial.trial_id)
            actions.append(CloneTrial(trial, donor.trial_id, old_config, decision.reason))
        if decision.action == TrialScheduler.STOP and decision.budget_spent:
            end = self._end(trial, TERMINATED, decision.reason, RELEASE)
            self.scheduler.on_trial_remove(self.snapshot(trial))
            return actions + [end]
        if decision.action == TrialScheduler.STOP:
            return actions + [self._stop_early(trial, decision.reason, RELEASE)]
        if decision.action == TrialScheduler.PAUSE:
            trial.status_reason = decision.reason
            return actions + [PauseTrial(trial, decision.reason)]
        if decision.save_checkpoint:
            actions.append(StoreCheckpoint(trial))
        return actions + [ContinueTrial(trial)]

    def release_slot(self, trial_id: str) -> None:
        """The trial's actor is back in the pool (or killed): its slot is free."""
        self._holding.discard(trial_id)

    def on_checkpoint(self, trial_id: str) -> None:
        """The trial now has a checkpoint (one asked of its actor was kept)."""
        self._with_checkpoint.add(trial_id)

    def on_paused(self, trial_id: str, parked: bool) -> list[Action]:
        """The loop has paused the trial (checkpointed, or parked on its actor)."""
        trial = self.trials[trial_id]
        if parked:
            self._parked.add(trial_id)
        trial.status = PAUSED
        return self.stop_paused_losers()

    def on_failure(self, trial_id: str, error: str, actor_dead: bool) -> list[Action]:
        """A round or a start failed: restart from the latest checkpoint while
        ``max_failures`` allows, else end the trial in ERROR."""
        trial = self.trials[trial_id]
        trial.num_failures += 1
        header = f"Failure {trial.num_failures} of {trial.name} at iteration {trial.iteration}:\n"
        if trial.num_failures <= trial.max_failures:
            self.replay_until[trial_id] = max(self.replay_until.get(trial_id, 0), trial.iteration)
            reason = f"failure {trial.num_failures}/{trial.max_failures}: {last_line(error)}"
            return [RestartTrial(trial, reason, header + error, drop_actor=actor_dead)]
        trial.error_msg = last_line(error)
        end = self._end(trial, ERROR, trial.error_msg, DISCARD if actor_dead else RELEASE,
                        error=header + error)
        self.scheduler.on_trial_error(self.snapshot(trial))
        return [end]

    # ------------------------------------------------------------------ client requests
    def request_stop(self, trial_id: str) -> list[Action]:
        """Stops a trial at once unless it is running; a running trial ends at its next
        result (the loop asks its actor; a round not yet begun plays one result).

        Raises:
            KeyError: No such trial.
        """
        trial = self.trials[trial_id]
        if trial.is_finished():
            return []
        if trial.status == RUNNING:
            self._stop_requests.add(trial_id)
            return []
        actor = DISCARD if trial_id in self._parked else NO_ACTOR
        return [self._stop_early(trial, CLIENT_STOP_REASON, actor, mark=False)]

    # ------------------------------------------------------------------ endings
    def _stop_early(self, trial: Trial, reason: str, actor: str, mark: bool = True) -> EndTrial:
        if mark and trial.last_result is not None:
            trial.last_result[EARLY_STOPPED] = True
        end = self._end(trial, TERMINATED, reason, actor, early_stopped=True)
        self.scheduler.on_trial_remove(self.snapshot(trial))
        return end

    def _end(self, trial: Trial, status: str, reason: str, actor: str,
             error: Optional[str] = None, early_stopped: bool = False) -> EndTrial:
        trial.status = status
        self._live.pop(trial.trial_id, None)
        self._fresh.pop(trial.trial_id, None)
        self._parked.discard(trial.trial_id)
        if reason:
            trial.status_reason = reason
        if trial.last_result is not None and status == TERMINATED:
            trial.last_result[R.DONE] = True
        self.searcher.on_trial_complete(trial.trial_id, trial.last_result, error=status == ERROR)
        tags = {"num_failures": trial.num_failures} if trial.num_failures else {}
        return EndTrial(trial, reason, actor, error, early_stopped, tags)

