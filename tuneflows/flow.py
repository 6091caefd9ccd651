"""The experiment as a Prefect flow: one flow run per experiment, one task run per
round of every trial, on prefect-ray's ``RayTaskRunner``.

Where round task runs execute was decided by measurement (README, "Architecture"):
a round task submitted through ``RayTaskRunner`` costs ≈ 0.55 s of Prefect set-up in
the Ray worker; the same task run as an async task in the flow process costs ≈ 11 ms
while the trial's actor computes. So rounds are async task runs of the flow run that
await the trial actor, and the flow's ``RayTaskRunner`` serves every other task of the
flow (e.g. a pipeline's final training step) on the same Ray session.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect_ray.task_runners import RayTaskRunner

from tuneflows.runner import ExperimentRunner
from tuneflows.trial import Trial


@task(
    name="round",
    task_run_name="{trial_name}/round-{round_index}",
    cache_policy=NO_CACHE,
    persist_result=False,
    log_prints=False,
)
async def trial_round(trial_name: str, round_index: int, runner: ExperimentRunner, trial_id: str) -> str:
    """One round of a trial: run iterations on its actor, record them, decide.

    Returns:
        How the round ended: CONTINUE, PAUSE, STOP, TERMINATED, ERROR or RETRY.
    """
    return await runner.play_round(trial_id)


class RunnerParameter:
    """Shows an ExperimentRunner as a small summary in the Prefect UI's parameters.

    Prefect encodes flow parameters with FastAPI's ``jsonable_encoder``, which turns an
    object into ``dict(obj)``; this wrapper yields the summary instead of the runner's
    internals.
    """

    def __init__(self, runner: ExperimentRunner) -> None:
        self.runner = runner

    def __iter__(self):
        exp = self.runner.experiment
        summary: dict[str, Any] = {
            "trainable": exp.trainable_name,
            "stop": exp.stop,
            "num_samples": exp.num_samples,
            "resources_per_trial": exp.resources,
            "scheduler": type(self.runner.scheduler).__name__,
            "searcher": type(self.runner.searcher).__name__,
            "logdir": exp.dir,
        }
        return iter(summary.items())


@flow(
    name="tuneflows-experiment",
    flow_run_name="{experiment_name}",
    task_runner=RayTaskRunner(),
    persist_result=False,
    validate_parameters=False,
    log_prints=False,
)
async def experiment_flow(experiment_name: str, experiment: RunnerParameter) -> list[Trial]:
    """Runs one tuning experiment to the end and returns its trials."""
    return await experiment.runner.run(trial_round)
