"""Writes a running experiment's state file: throttled, and without rebuilding or
re-pickling the records of trials that have finished."""

from __future__ import annotations

import pickle
import time
from collections.abc import Mapping
from typing import Any

from ray import cloudpickle

from tuneflows.checkpoints import CheckpointStore
from tuneflows.experiment_state import ExperimentState, save_state
from tuneflows.spec import Experiment
from tuneflows.trial import Trial


class StateWriter:
    """Saves :class:`~tuneflows.experiment_state.ExperimentState` for one experiment.

    The experiment (with its trainable), scheduler and searcher are pickled once, as
    configured, so ``tuneflows resume <dir>`` needs no user script; a finished trial's
    record is built and pickled once, so a write copies its bytes instead of pickling
    every finished trial's config and result again (at 2,000 finished trials a write
    took 27 ms, twice a second, and was the driver's cost that grew with the number of
    finished trials).

    Args:
        experiment: The experiment (its trainable already shippable by value).
        experiment_id: Id shared by the experiment's trials and records.
        scheduler: The trial scheduler, as configured.
        searcher: The searcher, as configured.
        min_interval_s: Least time between two unforced writes; what a skipped write
            misses is reconciled from the trial files on resume.
    """

    def __init__(self, experiment: Experiment, experiment_id: str, scheduler: Any,
                 searcher: Any, min_interval_s: float = 0.5) -> None:
        self._dir = experiment.dir
        self._experiment_id = experiment_id
        self._experiment_blob = cloudpickle.dumps(experiment)
        self._scheduler_blob = cloudpickle.dumps(scheduler)
        self._searcher_blob = cloudpickle.dumps(searcher)
        self._min_interval_s = min_interval_s
        self._last_write = 0.0
        self._ended_records: dict[str, tuple[str, _PickledRecord]] = {}

    def write(self, trials: Mapping[str, Trial], checkpoints: CheckpointStore, scheduler: Any,
              searcher: Any, searcher_done: bool, rounds: Mapping[str, int],
              force: bool = False) -> None:
        """Writes the state atomically, unless the last write was under
        ``min_interval_s`` ago and ``force`` is False."""
        now = time.monotonic()
        if not force and now - self._last_write < self._min_interval_s:
            return
        self._last_write = now
        latest = {}
        for trial_id in trials:
            record = checkpoints.latest(trial_id)
            if record is not None:
                latest[trial_id] = (record.path, record.iteration)
        save_state(self._dir, ExperimentState(
            experiment_id=self._experiment_id,
            experiment=self._experiment_blob,
            trials=[self._record(trial) for trial in trials.values()],
            checkpoints=latest,
            scheduler_state=scheduler.get_state(),
            searcher_state=searcher.get_state(),
            searcher_done=searcher_done,
            rounds=dict(rounds),
            scheduler=self._scheduler_blob,
            searcher=self._searcher_blob,
        ))

    def _record(self, trial: Trial) -> Any:
        if not trial.is_finished():
            return trial.to_dict()
        cached = self._ended_records.get(trial.trial_id)
        if cached is None or cached[0] != trial.status:
            cached = self._ended_records[trial.trial_id] = (
                trial.status, _PickledRecord(trial.to_dict()))
        return cached[1]


class _PickledRecord:
    """A finished trial's record, pickled once; it unpickles as the plain dict."""

    __slots__ = ("blob",)

    def __init__(self, record: dict[str, Any]) -> None:
        self.blob = pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        return pickle.loads, (self.blob,)
