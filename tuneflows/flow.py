"""The experiment as a Prefect flow: one flow run per experiment, one task run per
round of every trial, on prefect-ray's ``RayTaskRunner``.

Rounds are async task runs of the flow run that await the trial's Ray actor (how that
was chosen: ``docs/architecture.md``); the flow's ``RayTaskRunner`` serves every other
task of the flow (e.g. a pipeline's final training step) on the same Ray session. Each
attempt of the flow run gets a fresh :class:`~tuneflows.experiment_loop.ExperimentLoop`;
a retry resumes from the state the failed attempt saved.
"""

from __future__ import annotations

from typing import Any, Iterator

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect_ray.task_runners import RayTaskRunner

from tuneflows.experiment_loop import ExperimentLoop
from tuneflows.experiment_request import ExperimentRequest
from tuneflows.experiment_state import load_state
from tuneflows.trial import Trial


@task(
    name="round",
    task_run_name="{trial_name}/round-{round_index}",
    cache_policy=NO_CACHE,
    persist_result=False,
    log_prints=False,
)
async def trial_round(trial_name: str, round_index: int, loop: ExperimentLoop, trial_id: str) -> str:
    """One round of a trial: run iterations on its actor, record them, decide.

    Returns:
        How the round ended: CONTINUE, PAUSE, STOP, TERMINATED, ERROR or RETRY.
    """
    return await loop.play_round(trial_id)


class ExperimentParameter:
    """Shows an :class:`ExperimentRequest` as a small summary in the Prefect UI's
    parameters.

    Prefect encodes flow parameters with FastAPI's ``jsonable_encoder``, which turns an
    object into ``dict(obj)``; this wrapper yields the summary instead of the request's
    internals.
    """

    def __init__(self, request: ExperimentRequest) -> None:
        self.request = request

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        exp = self.request.experiment
        summary: dict[str, Any] = {
            "trainable": exp.trainable_name,
            "stop": exp.stop,
            "num_samples": exp.num_samples,
            "resources_per_trial": exp.resources,
            "scheduler": type(self.request.scheduler).__name__,
            "searcher": type(self.request.searcher).__name__,
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
async def experiment_flow(experiment_name: str, experiment: ExperimentParameter) -> list[Trial]:
    """Runs one tuning experiment to the end and returns its trials."""
    request = experiment.request
    retry_state = load_state(request.experiment.dir) if flow_run.run_count > 1 else None
    loop = ExperimentLoop(request, resume_state=retry_state)
    return await loop.run(trial_round)
