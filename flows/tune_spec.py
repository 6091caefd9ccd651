"""A deployable tuning flow: runs the experiments of a YAML spec and returns the best
config (the deployments of ``prefect.yaml``; ``deployments/README.md``).

Every flow run is a new run of each experiment (its own run directory), so a nightly
deployment tunes again every night, warm-started from the previous night's run with
``warm_start="previous"``; a retry of the flow run continues the run it started instead
of starting over. A run triggered by a ``tuneflows.dataset.updated`` event gets the
dataset as parameters: it is logged and tagged on each experiment's MLflow parent run.
"""

from __future__ import annotations

from typing import Any, Optional

from prefect import flow, task
from prefect_ray.task_runners import RayTaskRunner

import tuneflows
from tuneflows.recording.mlflow import tags as mlflow_tags
from tuneflows.model.best_trial import best_trial
from tuneflows.cli.main import read_spec_file



@task(name="best-config")
def best_config(trials: list, metric: str, mode: str) -> dict[str, Any]:
    """The config of the trial with the best last ``metric`` (ties: fewer iterations,
    then trial order; :func:`tuneflows.model.best_trial.best_trial`, as the status block and
    the Prefect and MLflow summaries pick it)."""
    best = best_trial(trials, metric, mode)
    if best is None:
        raise ValueError(f"No trial reported {metric!r}.")
    return best.config


def override_spec(spec: dict[str, Any], num_samples: Optional[int] = None,
                  stop: Optional[dict[str, Any]] = None,
                  dataset_path: Optional[str] = None) -> dict[str, Any]:
    """``spec`` with every experiment's ``num_samples`` and ``stop`` replaced when
    given, and ``dataset_path`` in every config (as ``config["dataset_path"]``).

    Example:
        >>> override_spec({"e": {"run": "f", "repeat": 3, "config": {"lr": 0.1}}},
        ...               num_samples=2, stop={"training_iteration": 1}, dataset_path="d.csv")
        {'e': {'run': 'f', 'config': {'lr': 0.1, 'dataset_path': 'd.csv'}, 'num_samples': 2, 'stop': {'training_iteration': 1}}}
    """
    for settings in spec.values():
        if num_samples is not None:
            settings.pop("repeat", None)
            settings["num_samples"] = num_samples
        if stop is not None:
            settings["stop"] = dict(stop)
        if dataset_path is not None:
            settings["config"] = {**(settings.get("config") or {}), "dataset_path": dataset_path}
    return spec


@flow(name="tune-spec", task_runner=RayTaskRunner(), log_prints=True)
def tune_spec(spec_file: str, metric: str, mode: Optional[str] = None,
              scheduler: Optional[str] = None, search: Optional[str] = None,
              num_samples: Optional[int] = None, stop: Optional[dict[str, Any]] = None,
              warm_start: Optional[str] = None, dataset: Optional[str] = None,
              dataset_path: Optional[str] = None) -> dict[str, Any]:
    """Tunes the experiments in ``spec_file`` and returns the best config.

    Args:
        spec_file: YAML mapping experiment names to settings (``run: module:function``),
            or a spec in ``tune.run``'s or the Tuner's shape
            (:mod:`tuneflows.modern.spec_styles`), whose scheduler, searcher and mode
            apply unless given here.
        metric: Result key that ranks trials.
        mode: ``"max"`` or ``"min"`` (default the spec's, else ``"max"``).
        scheduler: A scheduler name (``"asha"``, ``"hyperband"``, ...); default FIFO.
        search: A searcher name (``"hyperopt"``); default grid × samples.
        num_samples: Replaces every experiment's ``num_samples`` (``repeat``).
        stop: Replaces every experiment's stopping criteria.
        warm_start: ``"previous"``: the searcher starts from the best trials of the
            experiment's previous run, read back from MLflow.
        dataset: The dataset the run tunes on (a triggering event's resource id):
            logged and tagged ``tuneflows.dataset`` on the MLflow parent runs.
        dataset_path: Where it is (the event's ``payload.path``): tagged
            ``tuneflows.dataset.path`` and given to every trial as ``config["dataset_path"]``.
    """
    tags = {k: v for k, v in ((mlflow_tags.DATASET, dataset),
                              (mlflow_tags.DATASET_PATH, dataset_path)) if v}
    if tags:
        print(f"Tuning on dataset {dataset or '-'} at {dataset_path or '-'}")
    if dataset and not dataset_path:
        print(f"The event named dataset {dataset} without a payload.path: the trials read "
              f"the spec's own data.")
    spec, options = read_spec_file(spec_file)
    spec = override_spec(spec, num_samples, stop, dataset_path)
    given = {"scheduler": scheduler, "search_alg": search, "metric": metric, "mode": mode}
    options.update({key: value for key, value in given.items() if value is not None})
    mode = options.setdefault("mode", "max")
    trials = tuneflows.run_experiments(spec, warm_start=warm_start, mlflow_tags=tags,
                                       raise_on_failed_trial=False, **options)
    config = best_config(trials, metric, mode)
    print(f"Best config by {metric} ({mode}): {config}")
    return config
