"""Ray Tune 2's ``Tuner``: ``Tuner(trainable, param_space=..., tune_config=TuneConfig(...),
run_config=RunConfig(...)).fit()`` returns a :class:`~tuneflows.modern.result_grid.ResultGrid`;
``Tuner.restore(path, trainable)`` continues a run that was stopped."""

from __future__ import annotations

import os
from typing import Any, Mapping, Optional

from ray import cloudpickle

from tuneflows.analysis import ExperimentAnalysis
from tuneflows.modern.arguments import refuse
from tuneflows.modern.configs import RunConfig, TuneConfig
from tuneflows.modern.launch import Launch, trainable_name
from tuneflows.modern.result_grid import ResultGrid
from tuneflows.registry import get_trainable
from tuneflows.runs.run_dirs import resolve_run_dir
from tuneflows.runs.state import CONFIGURATION_FILE, load_state
from tuneflows.recording.trial_dirs import saved_metric
from tuneflows.spec import Experiment


class Tuner:
    """Tunes ``trainable`` over ``param_space``.

    Example:
        >>> import tuneflows as tune
        >>> def objective(config):
        ...     return {"score": config["a"] ** 2 + config["b"]}
        >>> tuner = tune.Tuner(objective, param_space={
        ...     "a": tune.grid_search([0.001, 0.01, 0.1, 1.0]), "b": tune.choice([1, 2, 3])})
        >>> results = tuner.fit()                                        # doctest: +SKIP
        >>> results.get_best_result(metric="score", mode="min").config   # doctest: +SKIP

    Args:
        trainable: A function ``f(config)``, a Trainable class or a registered name
            (wrapped or not by ``with_parameters`` / ``with_resources``).
        param_space: The search space (the engine's ``config``).
        tune_config: How to search (:class:`~tuneflows.modern.configs.TuneConfig`).
        run_config: Where results go and when trials stop
            (:class:`~tuneflows.modern.configs.RunConfig`).
    """

    def __init__(self, trainable: Any = None, *, param_space: Optional[Mapping[str, Any]] = None,
                 tune_config: Optional[TuneConfig] = None,
                 run_config: Optional[RunConfig] = None, **refused: Any) -> None:
        refuse("Tuner", refused)
        if trainable is None:
            raise ValueError("Tuner needs a trainable (a function, a Trainable class or a "
                             "registered name).")
        self.trainable = trainable
        self.param_space = dict(param_space or {})
        self.tune_config = tune_config or TuneConfig()
        self.run_config = run_config or RunConfig()
        self._restored: Optional[_Restored] = None
        self._results: Optional[ResultGrid] = None

    def fit(self) -> ResultGrid:
        """Runs the experiment (or continues the restored one) to its end.

        Trials that error are in the grid's ``errors``, not raised (unless
        ``FailureConfig(fail_fast="raise")``).

        Raises:
            ValueError: A refused or invalid setting, before anything starts.
        """
        if self._restored is not None:
            return self._fit_restored(self._restored)
        tune, run = self.tune_config, self.run_config
        checkpoints, failures = run.checkpoint_config, run.failure_config
        launch = Launch(
            self.trainable, name=run.name, config=self.param_space,
            num_samples=tune.num_samples, stop=run.stop, metric=tune.metric, mode=tune.mode,
            scheduler=tune.scheduler, search_alg=tune.search_alg,
            storage_path=run.storage_path or run.local_dir,
            checkpoint_freq=checkpoints.checkpoint_frequency,
            checkpoint_at_end=bool(checkpoints.checkpoint_at_end),
            keep_checkpoints_num=checkpoints.num_to_keep,
            checkpoint_score_attr=checkpoints.score_attr(), max_failures=failures.max_failures,
            fail_fast=failures.fail_fast, verbose=run.verbose, time_budget_s=tune.time_budget_s,
            max_concurrent_trials=tune.max_concurrent_trials, raise_on_failed_trial=False)
        exp, trials, (metric, mode) = launch.run()
        self._results = ResultGrid(ExperimentAnalysis.from_trials(trials, metric, mode),
                                   exp.experiment_dir)
        return self._results

    def get_results(self) -> ResultGrid:
        """The results of the last :meth:`fit`.

        Raises:
            RuntimeError: ``fit`` has not run.
        """
        if self._results is None:
            raise RuntimeError("Tuner.get_results(): call fit() first.")
        return self._results

    @classmethod
    def restore(cls, path: str, trainable: Any, resume_unfinished: bool = True,
                resume_errored: bool = False, restart_errored: bool = False,
                param_space: Optional[Mapping[str, Any]] = None,
                storage_filesystem: Any = None) -> "Tuner":
        """A Tuner that continues the run at ``path`` (an experiment directory: its
        newest run; or a run directory) with the trainable, scheduler and searcher it
        was started with; ``fit()`` then runs its unfinished trials (with
        ``resume_errored``, its errored ones too, from their latest checkpoints).

        Args:
            path: ``ResultGrid.experiment_path``, or a run directory.
            trainable: The trainable the run was started with.
            resume_unfinished: Must be True.
            resume_errored: Run the errored trials again from their latest checkpoint.
            restart_errored: Refused (errored trials resume from their checkpoint).
            param_space: Ignored when None; else must equal the run's (a resume with
                another space is refused, listing the differences).
            storage_filesystem: Refused.

        Raises:
            ValueError: ``path`` holds no tuneflows run, or a refused argument.
        """
        refuse("Tuner.restore", {"resume_unfinished": resume_unfinished,
                                 "restart_errored": restart_errored,
                                 "storage_filesystem": storage_filesystem})
        directory = resolve_run_dir(os.path.expanduser(path))
        if not cls.can_restore(directory):
            raise ValueError(f"Tuner.restore: {path!r} holds no tuneflows run to restore.")
        with open(os.path.join(directory, CONFIGURATION_FILE), "rb") as f:
            experiment, scheduler, searcher = cloudpickle.load(f)
        experiment.local_dir = os.path.dirname(os.path.dirname(directory))
        experiment.name = os.path.basename(os.path.dirname(directory))
        experiment.run = trainable
        experiment.trainable = get_trainable(trainable) if isinstance(trainable, str) else trainable
        experiment.trainable_name = trainable_name(trainable)
        if param_space is not None:
            experiment.config = dict(param_space)
        tuner = cls(trainable)
        tuner._restored = _Restored(experiment, scheduler, searcher, directory, resume_errored)
        return tuner

    @classmethod
    def can_restore(cls, path: str, storage_filesystem: Any = None) -> bool:
        """Whether ``path`` (an experiment or run directory) holds a tuneflows run that
        :meth:`restore` can continue."""
        try:
            directory = resolve_run_dir(os.path.expanduser(os.fspath(path)))
        except ValueError:
            return False
        return (os.path.exists(os.path.join(directory, CONFIGURATION_FILE))
                and load_state(directory) is not None)

    def _fit_restored(self, restored: "_Restored") -> ResultGrid:
        from tuneflows.api import run_experiments

        exp = restored.experiment
        metric, mode = saved_metric(restored.directory)
        trials = run_experiments(
            exp, scheduler=restored.scheduler, search_alg=restored.searcher,
            resume="ERRORED_ONLY" if restored.errored else os.path.basename(restored.directory),
            raise_on_failed_trial=False)
        self._results = ResultGrid(ExperimentAnalysis.from_trials(trials, metric, mode),
                                   exp.experiment_dir)
        return self._results


class _Restored:
    """What :meth:`Tuner.restore` read back from a run directory."""

    def __init__(self, experiment: Experiment, scheduler: Any, searcher: Any, directory: str,
                 errored: bool) -> None:
        self.experiment, self.scheduler, self.searcher = experiment, scheduler, searcher
        self.directory, self.errored = directory, errored
