"""Trials taken over from saved state, and what their scheduler has heard of them.

A trial's files can hold results its scheduler has not heard: the experiment state
(with the scheduler's state) is written at most every half second, so a killed driver's
files may be a round ahead of it; and a trial that errored and runs again
(``resume="ERRORED_ONLY"``) is judged anew after the point it restarts from. Such a
trial replays results its files hold. Those the scheduler has not heard are given to it
(and not recorded again), so it judges the trial at its own decision points against
everything it recorded before the resume; those it has heard are not given twice.
Pure: no engines, no files.

Example:
    >>> heard = HeardResults()
    >>> heard.mark("t0", {"training_iteration": 1, "acc": 0.5})
    >>> [r["training_iteration"] for r in heard.unheard(
    ...     "t0", [{"training_iteration": i} for i in (1, 2, 3, 4)], recorded_until=3)]
    [2, 3]
    >>> heard.unheard("t0", [{"training_iteration": 4}], recorded_until=3)  # caught up
    []
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Optional, Sequence

from tuneflows import result as R
from tuneflows.trial import ERROR, PAUSED, PENDING, RUNNING, Trial, TrialSnapshot

#: The status reason of a trial that errored and runs again.
RERUN_REASON = "re-run (resume=ERRORED_ONLY)"


def _iteration(result: Optional[Mapping[str, Any]]) -> int:
    return int(result[R.TRAINING_ITERATION]) if result else 0


class HeardResults:
    """The last result the scheduler and searcher heard of each trial whose records are
    ahead of them; a trial not listed has been heard up to its records."""

    def __init__(self) -> None:
        self._last: dict[str, Optional[dict[str, Any]]] = {}

    def mark(self, trial_id: str, heard: Optional[Mapping[str, Any]]) -> None:
        """The scheduler has heard the trial's results up to ``heard`` (None: none)."""
        self._last[trial_id] = dict(heard) if heard is not None else None

    def forget(self, trial_id: str) -> None:
        """Every result the trial gives from now on is new (a PBT clone)."""
        self._last.pop(trial_id, None)

    def view(self, snapshot: TrialSnapshot) -> TrialSnapshot:
        """``snapshot`` as the scheduler knows the trial: its last result the last one
        the scheduler heard (where its next decision point is counted from)."""
        if snapshot.trial_id not in self._last:
            return snapshot
        heard = self._last[snapshot.trial_id]
        if heard is None:
            return dataclasses.replace(snapshot, last_result=None)
        return snapshot.with_result(heard)

    def unheard(self, trial_id: str, results: Sequence[Mapping[str, Any]],
                recorded_until: int) -> list[dict[str, Any]]:
        """Of a round's ``results``, the replayed ones (up to ``recorded_until``, which
        are not recorded again) the scheduler has not heard; it hears them now."""
        if trial_id not in self._last:
            return []
        after = _iteration(self._last[trial_id])
        replayed = [dict(r) for r in results
                    if after < int(r[R.TRAINING_ITERATION]) <= recorded_until]
        if replayed:
            self._last[trial_id] = replayed[-1]
        if any(int(r[R.TRAINING_ITERATION]) >= recorded_until for r in results):
            del self._last[trial_id]  # caught up with its records
        return replayed


def runs_again(trial: Trial, errored_only: bool) -> bool:
    """Whether a trial of saved state runs on a resume: unfinished, or errored with
    ``errored_only``."""
    return not trial.is_finished() or (trial.status == ERROR and errored_only)


def heard_before_rerun(recorded: Sequence[Mapping[str, Any]],
                       checkpoint_iteration: Optional[int]) -> Optional[dict[str, Any]]:
    """What the scheduler counts as heard of a trial that errored and runs again: its
    recorded result at the checkpoint it restarts from (None: it restarts from its
    start, so every result is judged anew).

    Example:
        >>> heard_before_rerun([{"training_iteration": i} for i in (1, 2, 3)], 2)
        {'training_iteration': 2}
        >>> heard_before_rerun([{"training_iteration": 1}], None) is None
        True
    """
    if checkpoint_iteration is None:
        return None
    return next((dict(r) for r in reversed(recorded)
                 if _iteration(r) <= checkpoint_iteration), None)


class ResumeTakeOver:
    """The trial controller's part that takes over a run's saved state on a resume
    (mixed into :class:`~tuneflows.control.controller.TrialController`, whose trial
    table, slots and scheduler it fills)."""

    def restore(self, scheduler_state: Any, searcher_state: Any, searcher_done: bool,
                rounds: Mapping[str, int]) -> None:
        """Takes over the scheduler's and searcher's saved state and the round counts of
        a run being resumed."""
        self.scheduler.set_state(scheduler_state)
        self.searcher.set_state(searcher_state)
        self.searcher_done = searcher_done
        self.rounds.update(rounds)

    def adopt_trial(self, trial: Trial, has_checkpoint: bool, will_run: bool,
                    rerun: bool = False) -> None:
        """Takes over a trial from saved state (resume): one that was running, or paused
        with no checkpoint to resume from, starts again (from its latest checkpoint, if
        any); with ``rerun``, a failed trial runs again from scratch."""
        if trial.status == RUNNING or (trial.status == PAUSED and not has_checkpoint):
            trial.status = PENDING
        if rerun and trial.status == ERROR:
            trial.status, trial.num_failures, trial.error_msg = PENDING, 0, None
            trial.status_reason = RERUN_REASON
        self.trials[trial.trial_id] = trial
        if has_checkpoint:
            self._with_checkpoint.add(trial.trial_id)
        if will_run:
            self._live[trial.trial_id] = trial

    def take_over(self, trial: Trial, recorded: Sequence[Mapping[str, Any]],
                  checkpoint_iteration: Optional[int], errored_only: bool) -> None:
        """Takes over ``trial`` from saved state on a resume (its ``last_result`` the
        last one its scheduler heard): its files hold ``recorded``; it restarts from its
        checkpoint of ``checkpoint_iteration`` (None: from its start).

        An unfinished trial replays what its files hold, its scheduler hearing what it
        had not (:class:`~tuneflows.control.resumed_trials.HeardResults`); with
        ``errored_only`` an errored trial runs again (``on_trial_rerun``) and is judged
        anew on every result after its checkpoint.
        """
        rerun = trial.status == ERROR and errored_only
        heard = heard_before_rerun(recorded, checkpoint_iteration) if rerun else trial.last_result
        self.adopt_trial(trial, checkpoint_iteration is not None, runs_again(trial, errored_only),
                         rerun=rerun)
        self.adopt_records(trial, recorded, heard)
        if rerun:
            snapshot = self.snapshot(trial)
            self.scheduler.on_trial_rerun(snapshot.with_result(heard) if heard is not None
                                          else dataclasses.replace(snapshot, last_result=None))

    def adopt_records(self, trial: Trial, recorded: Sequence[Mapping[str, Any]],
                      heard: Optional[Mapping[str, Any]] = None) -> None:
        """The trial's files hold ``recorded``: replayed, they are not recorded again;
        its scheduler has heard it up to ``heard`` (None: nothing) and hears the rest
        of them as the trial replays them."""
        if not recorded:
            return
        self.replay_until[trial.trial_id] = int(recorded[-1][R.TRAINING_ITERATION])
        trial.last_result = dict(recorded[-1])
        heard_until = int(heard[R.TRAINING_ITERATION]) if heard else 0
        if heard_until < self.replay_until[trial.trial_id]:
            self.heard.mark(trial.trial_id, heard)
