"""The one call of ``tuneflows.run`` and ``Tuner.fit`` into the engine: their settings
become an :class:`~tuneflows.spec.Experiment`, a scheduler (wrapped with the
experiment-wide stops when a Stopper, a time budget or ``fail_fast`` is given) and the
arguments of ``run_experiments``.
"""

from __future__ import annotations

import datetime
import inspect
import numbers
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Union

from tuneflows.error import TuneError
from tuneflows.model.best_trial import experiment_metric
from tuneflows.modern.arguments import refuse
from tuneflows.schedulers import TrialScheduler
from tuneflows.schedulers.experiment_stops import ExperimentStops
from tuneflows.schedulers.stopping import MaximumIterationStopper, TimeoutStopper
from tuneflows.spec import Experiment
from tuneflows.trainable import Trainable
from tuneflows.trial import ERROR, Trial

#: ``max_failures=-1`` (Ray Tune: retry without limit) as the engine's count.
UNLIMITED_FAILURES = 10**9

#: ``resume`` values of ``tune.run`` and what ``run_experiments`` takes for each.
RESUME_VALUES: dict[Any, Any] = {False: False, None: False, True: True, "LOCAL": True,
                                 "AUTO": "AUTO", "ERRORED_ONLY": "ERRORED_ONLY"}


@dataclass
class Launch:
    """Everything one experiment of ``tuneflows.run`` or ``Tuner.fit`` needs, under
    ``tune.run``'s names.

    Example:
        >>> launch = Launch(lambda config: None, name="demo", stop={"done": True,
        ...                 "training_iteration": 3}, storage_path="/tmp/r")
        >>> exp = launch.experiment()
        >>> exp.stop, exp.max_failures, exp.local_dir
        ({'training_iteration': 3}, 0, '/tmp/r')
    """

    trainable: Any
    name: Optional[str] = None
    config: Optional[Mapping[str, Any]] = None
    num_samples: int = 1
    stop: Any = None
    metric: Optional[str] = None
    mode: Optional[str] = None
    scheduler: Union[TrialScheduler, str, None] = None
    search_alg: Any = None
    resources_per_trial: Optional[Mapping[str, Any]] = None
    storage_path: Optional[str] = None
    checkpoint_freq: int = 0
    checkpoint_at_end: bool = False
    keep_checkpoints_num: Optional[int] = None
    checkpoint_score_attr: Optional[str] = None
    max_failures: int = 0
    fail_fast: Union[bool, str] = False
    resume: Any = False
    verbose: Any = None
    time_budget_s: Optional[Union[int, float, datetime.timedelta]] = None
    max_concurrent_trials: Optional[int] = None
    raise_on_failed_trial: bool = True
    restore: Optional[str] = None
    queue_trials: bool = False
    experiment_stops: Optional[ExperimentStops] = field(default=None, init=False)

    def experiment(self) -> Experiment:
        """The experiment these settings describe.

        Raises:
            ValueError: A setting is refused or invalid, naming it.
        """
        stop, _ = split_stop(self.stop)
        resources = self.resources_per_trial or getattr(self.trainable, "tuneflows_resources",
                                                        None)
        if resources is not None and not isinstance(resources, Mapping):
            refuse("tuneflows.run", {"resources_per_trial (placement group)": resources})
        if storage_is_remote(self.storage_path):
            refuse("tuneflows.run", {"storage_path (remote)": self.storage_path})
        if (self.checkpoint_freq or self.checkpoint_at_end) and is_function(self.trainable):
            raise ValueError("checkpoint_freq / checkpoint_at_end ask a Trainable class for "
                             "checkpoints; a function trainable checkpoints what it reports "
                             "(tuneflows.report(metrics, checkpoint=Checkpoint(...))).")
        max_failures = UNLIMITED_FAILURES if self.max_failures == -1 else self.max_failures
        local_dir = self.storage_path
        if local_dir is not None and str(local_dir).startswith("file://"):
            local_dir = str(local_dir)[len("file://"):]
        return Experiment(
            name=self.name or trainable_name(self.trainable), run=self.trainable, stop=stop,
            config=self.config, num_samples=self.num_samples, resources_per_trial=resources,
            local_dir=local_dir, checkpoint_freq=self.checkpoint_freq,
            checkpoint_at_end=bool(self.checkpoint_at_end),
            keep_checkpoints_num=self.keep_checkpoints_num,
            checkpoint_score_attr=self.checkpoint_score_attr, max_failures=max_failures,
            restore=self.restore)

    def scheduler_object(self) -> TrialScheduler:
        """The scheduler, told the experiment's metric and mode when it was made without
        one, and wrapped with the experiment-wide stops when any is asked for.

        Raises:
            ValueError: The scheduler has a metric of its own other than ``metric``.
        """
        from tuneflows.orchestration.algorithm_choice import resolve_scheduler

        scheduler = resolve_scheduler(self.scheduler, self.metric, self.mode)
        if (not isinstance(self.scheduler, str) and self.metric is not None
                and not scheduler.set_search_properties(self.metric, self.mode)):
            raise ValueError(
                f"metric={self.metric!r}, mode={self.mode!r} were given, but "
                f"{type(scheduler).__name__} was made with metric={scheduler.metric!r}, "
                f"mode={scheduler.mode!r}: give them to one of the two.")
        _, stopper = split_stop(self.stop)
        budget = TimeoutStopper(self.time_budget_s) if self.time_budget_s else None
        if stopper is None and budget is None and not self.fail_fast:
            return scheduler
        self.experiment_stops = ExperimentStops(scheduler, stopper, budget, bool(self.fail_fast))
        return self.experiment_stops

    def run(self) -> tuple[Experiment, list[Trial], tuple[Optional[str], str]]:
        """Runs the experiment to its end.

        Returns:
            The experiment (its run directory), its trials, and the metric and mode it
            is judged by (``metric``, else the scheduler's, else a stop key's).

        Raises:
            ValueError: A setting is refused or invalid, before anything starts.
            TuneError: Trials errored and ``raise_on_failed_trial`` (or ``fail_fast``
                is ``"raise"``).
        """
        from tuneflows.api import run_experiments

        exp = self.experiment()
        if self.resume not in RESUME_VALUES and not isinstance(self.resume, str):
            raise ValueError(f"resume must be one of {list(RESUME_VALUES)} or a run id, got "
                             f"{self.resume!r}.")
        if isinstance(self.resume, str) and self.resume.upper() in ("REMOTE", "PROMPT"):
            raise ValueError(f"resume={self.resume!r} is not supported: results are local "
                             f"(resume=True, 'AUTO' or 'ERRORED_ONLY').")
        raises = self.raise_on_failed_trial or str(self.fail_fast).upper() == "RAISE"
        scheduler = self.scheduler_object()
        judged = ((self.metric, self.mode or "max") if self.metric
                  else experiment_metric(scheduler, self.search_alg, exp.stop))
        trials = run_experiments(
            exp, scheduler=scheduler, search_alg=self.search_alg,
            metric=self.metric, mode=self.mode, verbose=verbosity(self.verbose),
            resume=RESUME_VALUES.get(self.resume, self.resume),
            raise_on_failed_trial=raises, max_concurrent_trials=self.max_concurrent_trials,
            queue_trials=self.queue_trials)
        if self.fail_fast and any(t.status == ERROR for t in trials) and raises:
            raise TuneError(f"fail_fast: a trial of {exp.name!r} errored.")
        return exp, trials, judged


def split_stop(stop: Any) -> tuple[dict[str, float], Any]:
    """A ``stop`` argument as the stop criteria checked in the trial's actor and the
    stopper the driver asks about every result (None when there is none).

    A dict's ``True`` values are thresholds of 1, except ``"done": True``: every trial
    ends at a result with ``done`` set anyway. ``MaximumIterationStopper(n)`` is the
    criterion ``{"training_iteration": n}``.

    Example:
        >>> split_stop({"done": True, "mean_accuracy": 0.9})
        ({'mean_accuracy': 0.9}, None)
        >>> split_stop(MaximumIterationStopper(5))
        ({'training_iteration': 5}, None)
    """
    if stop is None:
        return {}, None
    if isinstance(stop, MaximumIterationStopper):
        return {"training_iteration": stop.max_iter}, None
    if isinstance(stop, Mapping):
        criteria = {}
        for key, value in stop.items():
            if isinstance(value, bool):
                if key == "done":
                    continue
                value = float(value)
            criteria[key] = value
        return criteria, None
    if callable(stop):
        return {}, stop
    raise ValueError(f"stop must be a dict of result key to threshold, a Stopper or a "
                     f"function f(trial_id, result), got {stop!r}.")


def trainable_name(trainable: Any) -> str:
    """The default experiment name: the trainable's (its registered name, if a string)."""
    if isinstance(trainable, str):
        return trainable
    return getattr(trainable, "__name__", type(trainable).__name__)


def is_function(trainable: Any) -> bool:
    """Whether the trainable is a function (not a Trainable class, nor a name)."""
    if isinstance(trainable, str):
        from tuneflows.registry import get_trainable

        trainable = get_trainable(trainable)
    return not (inspect.isclass(trainable) and issubclass(trainable, Trainable))


def storage_is_remote(path: Optional[str]) -> bool:
    """Whether ``path`` is a URI of remote storage (``s3://``, ``gs://``...)."""
    return path is not None and "://" in str(path) and not str(path).startswith("file://")


def verbosity(verbose: Any) -> Union[bool, int]:
    """Ray Tune's ``verbose`` (0-3, a bool, None) as ``run_experiments``' (0-2).

    Example:
        >>> verbosity(None), verbosity(False), verbosity(3), verbosity(1)
        (True, 0, 2, 1)
    """
    if verbose is None:
        return True
    if isinstance(verbose, bool):
        return int(verbose)
    if isinstance(verbose, numbers.Integral) and verbose >= 0:
        return min(int(verbose), 2)
    raise ValueError(f"verbose must be 0, 1, 2 or 3, got {verbose!r}.")
