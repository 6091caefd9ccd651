"""A deployable tuning flow: runs the experiments of a YAML spec, then (optionally)
trains a final model with the best config as a Ray task of the same flow run.

Deploy it with ``prefect deploy`` (see ``prefect.yaml``); a retried flow run resumes the
experiment (``resume="AUTO"``) instead of starting over.
"""

from __future__ import annotations

from typing import Any, Optional

from prefect import flow, task
from prefect_ray.task_runners import RayTaskRunner

import tuneflows
from tuneflows.best_trial import best_trial
from tuneflows.cli import load_spec


@task(name="best-config")
def best_config(trials: list, metric: str, mode: str) -> dict[str, Any]:
    """The config of the trial with the best last ``metric`` (ties: fewer iterations,
    then trial order; :func:`tuneflows.best_trial.best_trial`, as the status block and
    the Prefect and MLflow summaries pick it)."""
    best = best_trial(trials, metric, mode)
    if best is None:
        raise ValueError(f"No trial reported {metric!r}.")
    return best.config


@flow(name="tune-spec", task_runner=RayTaskRunner(), log_prints=True)
def tune_spec(spec_file: str, metric: str, mode: str = "max",
              scheduler: Optional[str] = None) -> dict[str, Any]:
    """Tunes the experiments in ``spec_file`` and returns the best config.

    Args:
        spec_file: YAML mapping experiment names to settings (``run: module:function``).
        metric: Result key that ranks trials.
        mode: ``"max"`` or ``"min"``.
        scheduler: A scheduler name (``"asha"``, ``"hyperband"``, ...); default FIFO.
    """
    trials = tuneflows.run_experiments(load_spec(spec_file), scheduler=scheduler, metric=metric,
                                       mode=mode, resume="AUTO", raise_on_failed_trial=False)
    config = best_config(trials, metric, mode)
    print(f"Best config by {metric} ({mode}): {config}")
    return config
