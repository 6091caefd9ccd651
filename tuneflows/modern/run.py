"""``tuneflows.run``: Ray Tune's ``tune.run`` (0.7 to 1.x, still in Ray 2) on
tuneflows' engine, returning an :class:`~tuneflows.analysis.ExperimentAnalysis`."""

from __future__ import annotations

import datetime
from typing import Any, Callable, Mapping, Optional, Union

from tuneflows.analysis import ExperimentAnalysis
from tuneflows.modern.arguments import refuse
from tuneflows.modern.launch import Launch
from tuneflows.spec import Experiment


def run(
    run_or_experiment: Union[str, Callable[..., Any], type],
    *,
    name: Optional[str] = None,
    metric: Optional[str] = None,
    mode: Optional[str] = None,
    stop: Any = None,
    time_budget_s: Optional[Union[int, float, datetime.timedelta]] = None,
    config: Optional[Mapping[str, Any]] = None,
    resources_per_trial: Optional[Mapping[str, Any]] = None,
    num_samples: int = 1,
    storage_path: Optional[str] = None,
    local_dir: Optional[str] = None,
    search_alg: Any = None,
    scheduler: Any = None,
    checkpoint_config: Any = None,
    verbose: Any = None,
    max_failures: int = 0,
    fail_fast: Union[bool, str] = False,
    restore: Optional[str] = None,
    resume: Any = False,
    reuse_actors: bool = False,
    raise_on_failed_trial: bool = True,
    max_concurrent_trials: Optional[int] = None,
    keep_checkpoints_num: Optional[int] = None,
    checkpoint_score_attr: Optional[str] = None,
    checkpoint_freq: int = 0,
    checkpoint_at_end: bool = False,
    queue_trials: bool = False,
    **refused: Any,
) -> ExperimentAnalysis:
    """Runs one experiment, as Ray Tune's ``tune.run``: a Prefect flow run whose trials
    run on Ray actors, recorded in files, TensorBoard and MLflow.

    Example:
        >>> import tuneflows as tune
        >>> def easy_objective(config):
        ...     for step in range(config["steps"]):
        ...         tune.report(iterations=step, mean_loss=1 / (step + 1) + config["height"])
        >>> analysis = tune.run(easy_objective, metric="mean_loss", mode="min",
        ...                     num_samples=4, config={"steps": 5,
        ...                     "height": tune.uniform(0, 1)})     # doctest: +SKIP
        >>> analysis.best_config                                    # doctest: +SKIP

    Args:
        run_or_experiment: A function ``f(config)`` (reporting with ``tuneflows.report``;
            also the seed's ``f(config, reporter)`` and 1.x's ``f(config,
            checkpoint_dir=None)``), a Trainable class, or a registered name.
        name: The experiment's name (default: the trainable's).
        metric / mode: What ranks trials (``"max"`` or ``"min"``); given to a scheduler
            or searcher made without a metric, and the analysis' default.
        stop: A dict of result key to threshold (checked in the trial's actor after
            every result), a ``tuneflows.stopper.Stopper`` or ``f(trial_id, result)``
            (asked by the driver about every result; such trials play one result a round).
        time_budget_s: Stop every trial this long after the experiment starts.
        config: The search space.
        resources_per_trial: ``{"cpu": c, "gpu": g}`` per trial.
        num_samples: Samples of the space.
        storage_path / local_dir: The results root, a local directory.
        search_alg / scheduler: A searcher and a scheduler, objects or names.
        checkpoint_config: A ``CheckpointConfig`` (Ray 2's spelling of the four
            ``checkpoint_*``/``keep_checkpoints_num`` arguments).
        verbose: 0, 1, 2 or 3.
        max_failures: Restarts of a failing trial (default 0, as Ray Tune; -1: no limit).
        fail_fast: Stop the experiment when a trial errors (``"raise"``: raise its error).
        restore: A checkpoint directory every trial starts from.
        resume: ``True`` (or ``"LOCAL"``), ``"AUTO"``, ``"ERRORED_ONLY"`` or a run id.
        reuse_actors: Accepted either way (tuneflows always reuses a trial's Ray worker).
        raise_on_failed_trial: Raise TuneError when trials errored.
        max_concurrent_trials: Most trials running at once.
        keep_checkpoints_num / checkpoint_score_attr / checkpoint_freq /
            checkpoint_at_end: Checkpoints of a Trainable class.
        queue_trials: Accept trials larger than the cluster is now (autoscaling).
        **refused: Any other argument of ``tune.run`` is refused with why
            (:mod:`tuneflows.modern.arguments`).

    Returns:
        The experiment's analysis, ranked by ``metric`` and ``mode``.

    Raises:
        ValueError: A refused or invalid argument, naming it, before anything starts.
        TuneError: Trials errored (with ``raise_on_failed_trial``).
    """
    refuse("tuneflows.run", refused)
    if isinstance(run_or_experiment, (Experiment, list, dict)):
        raise ValueError("tuneflows.run takes one trainable (a function, a Trainable class or a "
                         "registered name); run Experiment objects with run_experiments.")
    if storage_path is not None and local_dir is not None and storage_path != local_dir:
        raise ValueError("tuneflows.run: give storage_path or local_dir, not both.")
    if checkpoint_config is not None:
        keep_checkpoints_num = checkpoint_config.num_to_keep
        checkpoint_score_attr = checkpoint_config.score_attr()
        checkpoint_freq = checkpoint_config.checkpoint_frequency
        checkpoint_at_end = bool(checkpoint_config.checkpoint_at_end)
    launch = Launch(
        run_or_experiment, name=name, config=config, num_samples=num_samples, stop=stop,
        metric=metric, mode=mode, scheduler=scheduler, search_alg=search_alg,
        resources_per_trial=resources_per_trial, storage_path=storage_path or local_dir,
        checkpoint_freq=checkpoint_freq, checkpoint_at_end=checkpoint_at_end,
        keep_checkpoints_num=keep_checkpoints_num, checkpoint_score_attr=checkpoint_score_attr,
        max_failures=max_failures, fail_fast=fail_fast, resume=resume, verbose=verbose,
        time_budget_s=time_budget_s, max_concurrent_trials=max_concurrent_trials,
        raise_on_failed_trial=raise_on_failed_trial, restore=restore,
        queue_trials=queue_trials)
    _, trials, (judged_metric, judged_mode) = launch.run()
    return ExperimentAnalysis.from_trials(trials, metric=judged_metric, mode=judged_mode)
