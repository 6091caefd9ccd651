"""Warm start from the previous run of an experiment: its best trials, read back from
MLflow (the newest parent run of the experiment's name and its trial runs), are told to
the searcher as evaluated trials (:meth:`~tuneflows.search.Searcher.add_evaluated_trial`)
before the new run's first suggestion, so a model-based searcher (TPE) conditions on them
instead of starting from scratch. They are not run again.

Only trials that ended (completed or stopped early; errored and unfinished ones are left
out) and reported the metric count; the best ``limit`` of them by the metric and mode
(:func:`tuneflows.model.best_trial.ranked_trials`) are told, each with its last metrics and,
when a scheduler stopped it, ``early_stopped``.

Example:
    >>> previous = PreviousRun("run-1", [({"x": 0.3}, {"loss": 0.1})])
    >>> from tuneflows.search import HyperOptSearch, uniform
    >>> searcher = HyperOptSearch({"x": uniform(0, 1)}, metric="loss", mode="min")
    >>> previous.warm(searcher)
    1
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from tuneflows.recording.mlflow import tags as mlflow_tags
from tuneflows.model.best_trial import metric_value, ranked_trials
from tuneflows.recording.mlflow.runs import parent_run, trial_config, trial_runs, trial_status
from tuneflows.recording.mlflow.store import store_creation_lock
from tuneflows.result import EARLY_STOPPED
from tuneflows.search.concurrency import searcher_name
from tuneflows.search.searcher import Searcher
from tuneflows.trial import TERMINATED, Trial
from tuneflows.model.trial_outcome import STOPPED_EARLY, Outcome

logger = logging.getLogger(__name__)

#: ``run_experiments(warm_start=...)``: start from the experiment's previous run.
PREVIOUS = "previous"
#: How many of the previous run's best trials a warm start tells the searcher by default.
DEFAULT_LIMIT = 10


def check_warm_start(warm_start: Union[str, bool, None], limit: int) -> bool:
    """Whether ``warm_start`` asks for one; rejects a value that is neither off
    (None, False) nor :data:`PREVIOUS`, and a ``limit`` that is not a positive int.

    Example:
        >>> check_warm_start(None, 10), check_warm_start("previous", 5)
        (False, True)
        >>> check_warm_start("last", 5)
        Traceback (most recent call last):
        ...
        ValueError: warm_start must be None or 'previous', got 'last'.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"warm_start_trials must be an int >= 1, got {limit!r}.")
    if warm_start in (None, False):
        return False
    if warm_start != PREVIOUS:
        raise ValueError(f"warm_start must be None or {PREVIOUS!r}, got {warm_start!r}.")
    return True


@dataclass
class PreviousRun:
    """The previous run's best trials, as (config, result) pairs, best first.

    Attributes:
        parent_run_id: Its MLflow parent run (None: the experiment has no previous run).
        observations: The trials to tell the searcher.
        learned: How many of them the searcher learned from (once told).
    """

    parent_run_id: Optional[str]
    observations: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    learned: int = 0

    def tags(self) -> dict[str, str]:
        """The new run's MLflow parent-run tags naming where it started from (none when
        there was no previous run).

        Example:
            >>> PreviousRun("abc", [({"x": 1}, {"loss": 0.1})], learned=1).tags()
            {'tuneflows.warm_start.parent_run_id': 'abc', 'tuneflows.warm_start.trials': '1'}
        """
        if self.parent_run_id is None:
            return {}
        return {mlflow_tags.WARM_START_RUN: self.parent_run_id, mlflow_tags.WARM_START_TRIALS: str(self.learned)}

    def warm(self, searcher: Searcher) -> int:
        """Tells ``searcher`` every observation; returns how many it learned from."""
        return sum(bool(searcher.add_evaluated_trial(config, result))
                   for config, result in self.observations)


def previous_run(client: Any, experiment_name: str, metric: str, mode: str,
                 limit: int = DEFAULT_LIMIT) -> PreviousRun:
    """The best ``limit`` ended trials of the newest parent run of ``experiment_name``
    in the MLflow store of ``client`` (an empty :class:`PreviousRun` when there is none)."""
    uri = str(client.tracking_uri)
    if uri.startswith("sqlite:///") and not os.path.exists(uri[len("sqlite:///"):].split("?")[0]):
        return PreviousRun(None)  # no store yet: reading must not create (migrate) it
    with store_creation_lock(uri):  # another process may be creating (migrating) the store
        experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        return PreviousRun(None)
    try:
        parent = parent_run(client, experiment_name)
    except ValueError:
        return PreviousRun(None)
    stopped_early = Outcome(STOPPED_EARLY).tag
    trials = []
    for run in trial_runs(client, parent):
        if trial_status(run) != TERMINATED:
            continue
        result = dict(run.data.metrics)
        if run.data.tags.get(mlflow_tags.OUTCOME) == stopped_early:
            result[EARLY_STOPPED] = True
        trials.append(Trial(run.data.tags[mlflow_tags.TRIAL_ID], "", trial_config(run), "", "",
                            status=TERMINATED, last_result=result))
    ranked = [t for t in ranked_trials(trials, metric, mode) if metric_value(t, metric) is not None]
    return PreviousRun(parent.info.run_id,
                       [(t.config, dict(t.last_result or {})) for t in ranked[:limit]])


def start_from_previous_run(searcher: Searcher, client: Any, experiment_name: str,
                            metric: Optional[str], mode: str,
                            limit: int = DEFAULT_LIMIT) -> PreviousRun:
    """Reads the previous run of ``experiment_name`` and tells ``searcher`` its best trials;
    logs how many it learned from (or that there was no previous run).

    Raises:
        ValueError: No metric to rank the previous trials by.
    """
    if metric is None:
        raise ValueError(f"warm_start={PREVIOUS!r} needs the metric to rank the previous run's "
                         f"trials by: pass metric= and mode= to run_experiments.")
    previous = previous_run(client, experiment_name, metric, mode, limit)
    if previous.parent_run_id is None:
        logger.info("Experiment %r has no previous run in MLflow: it starts cold.",
                    experiment_name)
        return previous
    previous.learned = previous.warm(searcher)
    logger.info("Warm start of %r from MLflow run %s: the searcher (%s) learned from %d of "
                "its best %d trials.", experiment_name, previous.parent_run_id,
                searcher_name(searcher), previous.learned, len(previous.observations))
    return previous
