"""The experiment as a Prefect flow: one flow run per experiment, one task run per
round of every trial, on prefect-ray's ``RayTaskRunner``.

Rounds are async task runs of the flow run that await the trial's Ray actor (how that
was chosen: ``docs/architecture.md``); the flow's ``RayTaskRunner`` serves every other
task of the flow (e.g. a pipeline's final training step) on the same Ray session. Each
attempt of the flow run gets a fresh :class:`~tuneflows.orchestration.experiment_loop.ExperimentLoop`;
a retry resumes from the state the failed attempt saved.
"""

from __future__ import annotations

import logging
from typing import Any, Iterable, Iterator, Optional, Union

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.context import TaskRunContext
from prefect.runtime import flow_run
from prefect.states import Completed, Failed, State
from prefect_ray.task_runners import RayTaskRunner

from tuneflows.orchestration.experiment_loop import ExperimentLoop
from tuneflows.orchestration.experiment_request import ExperimentRequest
from tuneflows.runs.state import load_state
from tuneflows.model.codes import RoundEnd, RoundStateName
from tuneflows.trial import ERROR, Trial
from tuneflows.model.trial_outcome import failures_text

class _NoEmptyTraceback(logging.Filter):
    """Prefect logs a task run that returned a Failed state with ``exc_info=True``
    although nothing was raised, which prints "NoneType: None" under the line: drop
    the empty exception, keep the line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[0] is None:
            record.exc_info = None
        return True


logging.getLogger("prefect.task_runs").addFilter(_NoEmptyTraceback())


@task(
    name="round",
    task_run_name="{trial_name}/round-{round_index}",
    cache_policy=NO_CACHE,
    persist_result=False,
    log_prints=False,
)
async def trial_round(trial_name: str, round_index: int, loop: ExperimentLoop,
                      trial_id: str) -> State:
    """One round of a trial: run iterations on its actor, record them, decide.

    Returns:
        The task run's final state: its name (Completed, Stopped, Paused, Perturbed,
        Restarted; a Failed state named Errored when the trial ended in ERROR) and
        message tell the decision and its reason; its data is how the round ended
        (CONTINUE, PAUSE, STOP, TERMINATED, ERROR or RETRY). The task run is tagged with
        the trial's id and, when the round ended the trial, its outcome.
    """
    report = await loop.play_round(trial_id)
    _tag_this_task_run(report.tags)
    state = Failed if report.failed else Completed
    return state(message=report.message, name=report.state_name,
                 data=report.ended)


def _tag_this_task_run(tags: Iterable[str]) -> None:
    """Adds ``tags`` to the running task run.

    Prefect sends the task run, tags included, with each of its state changes, so tags
    added before the final state reach the API with it. Tags given when the task is
    called (``prefect.tags``) are also looked up as tag concurrency limits before the
    task runs: ≈ 0.15 s more per round here, against nothing for tags added at the end.
    """
    context = TaskRunContext.get()
    if context is not None and context.task_run is not None:
        context.task_run.tags = sorted(set(context.task_run.tags) | set(tags))


async def play_round(**round_args: Any) -> RoundEnd:
    """Plays a round as a :func:`trial_round` task run and returns how it ended;
    re-raises what the task run raised (a fault of the experiment loop)."""
    state = await trial_round(**round_args, return_state=True)
    if state.is_failed() and state.name == RoundStateName.ERRORED:
        return RoundEnd.ERROR
    return RoundEnd(await state.aresult())


class ExperimentParameter:
    """Shows an :class:`ExperimentRequest` as a small summary in the Prefect UI's
    parameters.

    Prefect encodes flow parameters with FastAPI's ``jsonable_encoder``, which turns an
    object into ``dict(obj)``; this wrapper yields the summary instead of the request's
    internals.
    """

    def __init__(self, request: ExperimentRequest) -> None:
        self.request = request
        # The flow run's trials once it has run; None when Prefect did not run it (a
        # retried parent flow run returns a completed subflow's result instead).
        self.trials: Optional[list[Trial]] = None

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
    persist_result=True,
    result_serializer="json",
    validate_parameters=False,
    log_prints=False,
)
async def experiment_flow(experiment_name: str,
                          experiment: ExperimentParameter) -> Union[dict[str, Any], State]:
    """Runs one tuning experiment to the end; its trials are left in
    ``experiment.trials``.

    Returns:
        The flow run's result, kept by Prefect (JSON, in Prefect's result storage):
        the best trial's id, name, config, metric and iterations, the metric and mode,
        the trial counts by outcome and the logdir
        (:meth:`~tuneflows.orchestration.views.ExperimentViews.flow_result`); when
        trials ended in ERROR and the request says to fail on them
        (``raise_on_failed_trial``), a Failed state carrying that result, its message
        naming each errored trial.
    """
    request = experiment.request
    retry_state = load_state(request.experiment.dir) if flow_run.run_count > 1 else None
    loop = ExperimentLoop(request, resume_state=retry_state)
    experiment.trials = await loop.run(play_round)
    result = loop.views.flow_result(loop.experiment_id)
    if request.fail_on_errored_trials and any(t.status == ERROR for t in experiment.trials):
        return Failed(message=failures_text(experiment.trials), data=result)
    return result
