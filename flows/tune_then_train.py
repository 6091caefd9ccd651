"""Tune, then train: a pipeline flow that tunes a digits classifier, trains the final
model with the best config on Ray, evaluates it on held-out data, logs it to MLflow
linked to the tuning run, registers it, and moves the registered model's alias
(``champion``) to the new version only when it beats the current champion.

One flow run of ``tune-then-train`` holds:

1. the tuning experiment, as its own flow run nested under the pipeline's
   (``run_experiments``: trials on Ray, records in MLflow);
2. ``train-final-model`` and ``evaluate-held-out``: task runs on Ray through the flow's
   ``RayTaskRunner``, with the resources of the experiment's trials
   (``prefect_ray.context.remote_options``);
3. ``register-model``: in the flow process (the driver records): an MLflow run in the
   tuning experiment holding the model, tagged with the tuning parent run's id
   (``tuneflows.tuning_run_id``), registered as a new version of the model, the alias
   moved or kept (:mod:`tuneflows.recording.mlflow.model_registry`).

Run it with ``python flows/tune_then_train.py`` (needs ``pip install -e '.[examples]'``)
or deploy it (``prefect.yaml``'s ``tune-then-train`` deployment;
``deployments/README.md``). The summary it prints and returns says what happened to the
alias.
"""

from __future__ import annotations

from typing import Any, Optional

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect_ray.context import remote_options
from prefect_ray.task_runners import RayTaskRunner

import tuneflows
from flows.digits import (
    HELD_OUT_METRIC, METRIC, MODE, digits_experiment, fit_final_model, held_out_accuracy,
)
from tuneflows.recording.mlflow import tags as mlflow_tags
from tuneflows.model.best_trial import best_trial, metric_value
from tuneflows.execution.shipping import ship_by_value_if_local
from tuneflows.recording.mlflow.runs import parent_run, tracking_client
from tuneflows.recording.mlflow.model_registry import (
    HeldOutScore, log_model, register_version,
)
from tuneflows.services.prefect_api import use_run_api
from tuneflows.trial import Trial


@task(name="train-final-model", cache_policy=NO_CACHE, persist_result=False)
def train_final_model(config: dict[str, Any], epochs: int) -> Any:
    """The final model: the best config trained on training and validation data."""
    return fit_final_model(config, epochs)


@task(name="evaluate-held-out", cache_policy=NO_CACHE, persist_result=False)
def evaluate_held_out(model: Any) -> float:
    """The final model's accuracy on the held-out test data."""
    return held_out_accuracy(model)


@task(name="register-model", cache_policy=NO_CACHE, persist_result=False)
def register_model(model: Any, accuracy: float, config: dict[str, Any], best: Trial,
                   experiment_name: str, model_name: str, alias: str,
                   local_dir: Optional[str]) -> dict[str, Any]:
    """Logs the model on a run of the tuning experiment linked to its parent run,
    registers a new version and moves ``alias`` to it only if it beats the champion."""
    import sklearn

    client = tracking_client(local_dir=local_dir)  # the store the tuning wrote to
    experiment_id = best.last_result["experiment_id"]
    tuning = parent_run(client, experiment_name, experiment_id)
    links = {mlflow_tags.TUNING_RUN: tuning.info.run_id, mlflow_tags.TUNING_EXPERIMENT: experiment_id}
    score = HeldOutScore(HELD_OUT_METRIC, accuracy, "max")
    logged = log_model(
        client.tracking_uri, experiment_name, model, run_name=f"{experiment_name}-final-model",
        params=config, metrics={score.metric: score.value,
                                f"tuning.{METRIC}": metric_value(best, METRIC)},
        tags={**links, mlflow_tags.BEST_TRIAL_ID: best.trial_id},
        pip_requirements=[f"scikit-learn=={sklearn.__version__}"])
    registration = register_version(client, model_name, logged, score, alias, tags=links)
    return {**registration.as_dict(), "tuning_run_id": tuning.info.run_id,
            "experiment_id": experiment_id, "config": config, "tracking_uri": client.tracking_uri}


@flow(name="tune-then-train", task_runner=RayTaskRunner(), log_prints=True)
def tune_then_train(experiment_name: str = "digits", num_samples: int = 8,
                    max_iterations: int = 5, model_name: str = "digits-classifier",
                    alias: str = "champion", search_alg: Optional[str] = None,
                    overrides: Optional[dict[str, Any]] = None,
                    local_dir: Optional[str] = None,
                    warm_start: Optional[str] = None) -> dict[str, Any]:
    """Tunes the digits classifier, trains and evaluates the final model, registers it
    and moves ``alias`` only if it beats the champion on the held-out data.

    Args:
        experiment_name: The tuning experiment (and MLflow experiment) name.
        num_samples: Configs tried.
        max_iterations: Epochs each trial trains at most.
        model_name: The registered model in MLflow's Model Registry.
        alias: The alias that marks the best version so far.
        search_alg: A searcher name (``"hyperopt"``); default random search.
        overrides: Settings that replace the best config's before the final training
            (e.g. ``{"alpha": 10.0}`` to try a variant by hand).
        local_dir: The results root (default ``$TUNE_RESULT_DIR`` or ``~/ray_results``);
            MLflow's store is ``MLFLOW_TRACKING_URI``, else ``<local_dir>/mlflow.db``.
        warm_start: ``"previous"``: the searcher starts from the previous tuning run's
            best trials (with ``search_alg="hyperopt"``; random search ignores them).

    Returns:
        The summary: ``summary`` (one sentence), ``promoted``, ``version``,
        ``champion_version``, the held-out ``score``, the ``config`` trained with, the
        tuning parent run's id and the model's run id.
    """
    spec = digits_experiment(num_samples, max_iterations)
    if local_dir:
        spec["local_dir"] = local_dir
    trials = tuneflows.run_experiments(
        {experiment_name: spec},
        search_alg=search_alg, metric=METRIC, mode=MODE, verbose=1, raise_on_failed_trial=False,
        warm_start=warm_start)
    best = best_trial(trials, METRIC, MODE)
    if best is None:
        raise ValueError(f"No trial of {experiment_name!r} reported {METRIC!r}; nothing to train.")
    unknown = sorted(set(overrides or {}) - set(best.config))
    if unknown:
        raise ValueError(f"overrides {unknown} are not settings of the config; its settings "
                         f"are {sorted(best.config)}.")
    config = {**best.config, **(overrides or {})}
    print(f"Best trial {best.name}: {METRIC}={metric_value(best, METRIC):.4f} with {best.config}")
    for function in (train_final_model.fn, fit_final_model):
        ship_by_value_if_local(function)  # Ray workers need not import flows/
    with remote_options(num_cpus=best.resources.get("cpu", 1),
                        num_gpus=best.resources.get("gpu", 0)):
        model = train_final_model.submit(config, best.iteration)
        accuracy = evaluate_held_out.submit(model)
    summary = register_model(model.result(), accuracy.result(), config, best,
                             experiment_name, model_name, alias, local_dir)
    print(summary["summary"])
    return summary


if __name__ == "__main__":
    use_run_api()  # the pipeline's flow run on the experiments' server (the local one)
    # the flow's own prints go to its Prefect logs (the terminal shows warnings only)
    print(tune_then_train()["summary"])
