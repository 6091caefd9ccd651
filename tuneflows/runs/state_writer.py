"""Writes a running experiment's state file: throttled, with each finished trial's
record appended once to its own file instead of being written again every time."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Optional

import cloudpickle

from tuneflows.model.append_only import AppendOnlyList
from tuneflows.model.best_trial import experiment_metric
from tuneflows.model.open_trials import OpenTrials
from tuneflows.runs.checkpoint_store import CheckpointStore
from tuneflows.runs.state import (
    ExperimentState, append_finished, save_configuration, save_state,
)
from tuneflows.model.paced_clock import PacedClock
from tuneflows.spec import Experiment
from tuneflows.runs.spec_changes import spec_record
from tuneflows.runs.state_logs import StateLogs
from tuneflows.trial import Trial


class StateWriter:
    """Saves :class:`~tuneflows.runs.state.ExperimentState` for one experiment.

    The experiment (with its trainable), scheduler and searcher are pickled once, as
    configured, to ``experiment.pkl``, so ``tuneflows resume <dir>`` needs no user
    script; the state itself is JSON. A finished trial's record is built once and
    appended to ``finished_trials.jsonl``, and so are the items of the scheduler's and
    searcher's append-only state, the trial order and finished trials' round counts
    (:mod:`~tuneflows.runs.state_logs`); the trials looked at are those added since the
    last write and the unfinished ones (:class:`~tuneflows.model.open_trials.OpenTrials`).
    So a write holds only unfinished trials and its cost does not grow with the number
    of finished trials.

    Args:
        experiment: The experiment (its trainable already shippable by value).
        experiment_id: Id shared by the experiment's trials and records.
        scheduler: The trial scheduler, as configured.
        searcher: The searcher, as configured.
        min_interval_s: Least time between two unforced writes; what a skipped write
            misses is reconciled from the trial files on resume. A write that takes
            long (scheduler state growing with the trials) stretches the interval to
            :data:`~tuneflows.model.paced_clock.COST_SHARE_INVERSE` times its own
            duration (:class:`~tuneflows.model.paced_clock.PacedClock`), so writing costs
            at most a fixed share of the driver's time however many trials there are
            (0: every write happens).
        appended: Trial id to status of the records ``finished_trials.jsonl`` already
            holds (a resumed experiment's finished trials), not appended again.
        metric / mode: What the experiment is judged by (default: the scheduler's, the
            searcher's or a stop key, as :func:`~tuneflows.model.best_trial.experiment_metric`).
    """

    def __init__(self, experiment: Experiment, experiment_id: str, scheduler: Any,
                 searcher: Any, min_interval_s: float = 0.5,
                 appended: Optional[Mapping[str, str]] = None, metric: Optional[str] = None,
                 mode: Optional[str] = None) -> None:
        self._dir = experiment.dir
        self._experiment_id = experiment_id
        save_configuration(self._dir, cloudpickle.dumps((experiment, scheduler, searcher)))
        self._metric, self._mode = experiment_metric(scheduler, searcher, experiment.stop,
                                                     metric, mode)
        self._paced = min_interval_s > 0
        self._clock = PacedClock(min_interval_s)
        self._appended = dict(appended or {})  # trial id -> status: appended, not yet seen
        self._spec = spec_record(experiment)
        self._logs = StateLogs(self._dir)
        self._trials = OpenTrials()  # only new and unfinished trials are looked at
        self._finished_rounds = AppendOnlyList()  # [trial id, rounds] of finished trials

    def write(self, trials: Mapping[str, Trial], checkpoints: CheckpointStore, scheduler: Any,
              searcher: Any, searcher_done: bool, rounds: Mapping[str, int],
              force: bool = False) -> None:
        """Writes the state atomically, unless the last write was under the interval
        (``min_interval_s``, or longer after a long write) ago and ``force`` is False."""
        now = time.monotonic()
        if self._paced and not force and not self._clock.due(now):
            return
        self._write(trials, checkpoints, scheduler, searcher, searcher_done, rounds)
        self._clock.ran(now, time.monotonic())

    def _write(self, trials: Mapping[str, Trial], checkpoints: CheckpointStore,
               scheduler: Any, searcher: Any, searcher_done: bool,
               rounds: Mapping[str, int]) -> None:
        newly_finished = []
        for trial in self._trials.look(list(trials.values())):  # each finished trial once
            if self._appended.pop(trial.trial_id, None) != trial.status:  # else: resumed
                newly_finished.append(trial)
            if trial.trial_id in rounds:
                self._finished_rounds.append([trial.trial_id, rounds[trial.trial_id]])
        if newly_finished:
            append_finished(self._dir, [t.to_dict() for t in newly_finished])
        unfinished = self._trials.unfinished
        save_state(self._dir, ExperimentState(
            experiment_id=self._experiment_id,
            trials=[t.to_dict() for t in unfinished],
            trial_order=self._logs.detach("trial_order", self._trials.order),
            checkpoints=checkpoints.latest_positions(),
            scheduler_state=self._logs.detach("scheduler_state", scheduler.get_state()),
            searcher_state=self._logs.detach("searcher_state", searcher.get_state()),
            searcher_done=searcher_done,
            rounds={t.trial_id: rounds[t.trial_id] for t in unfinished if t.trial_id in rounds},
            finished_rounds=self._logs.detach("finished_rounds", self._finished_rounds),
            metric=self._metric,
            mode=self._mode,
            spec=self._spec,
        ))
