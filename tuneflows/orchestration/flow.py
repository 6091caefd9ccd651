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
from prefect.client.schemas.objects import StateType
from prefect.states import Cancelled, Completed, Failed, State
from prefect_ray.task_runners import RayTaskRunner

from tuneflows.orchestration.cancel_watch import Cancellation
from tuneflows.orchestration.experiment_loop import ExperimentLoop
from tuneflows.orchestration.run_endings import resume_hint
from tuneflows.search.concurrency import searcher_name
from tuneflows.orchestration.experiment_request import ExperimentRequest
from tuneflows.runs.state import load_state
from tuneflows.model.codes import RoundEnd, RoundStateName
from tuneflows.services.prefect_limits import NoTracebackWhileDown, PrefectOutage
from tuneflows.trial import ERROR, Trial
from tuneflows.model.trial_outcome import failures_text

#: The state type of a round that ended in a decision. The Prefect UI colours a flow
#: run's timeline by state type (the name shows in the badge), so these rounds stand
#: out from plain completions (green): a stop, pause or perturbation is a Cancelled
#: state (grey: the round's remaining iterations are cancelled) and a restart a Crashed
#: one (orange). Only final types: a round's task run never stays open.
DECISION_STATE_TYPES = {RoundStateName.STOPPED: StateType.CANCELLED,
                        RoundStateName.PAUSED: StateType.CANCELLED,
                        RoundStateName.PERTURBED: StateType.CANCELLED,
                        RoundStateName.RESTARTED: StateType.CRASHED}


class _RoundStateLines(logging.Filter):
    """Prefect logs a task run that returned a Failed state with ``exc_info=True``
    although nothing was raised, which prints "NoneType: None" under the line: the
    empty exception is dropped. It logs every state but Completed at ERROR: a round
    that ended in a decision is logged at INFO (a restart at WARNING), as the flow
    run's decision lines are."""

    _DECISIONS = tuple(f"Finished in state {name.value}(" for name in DECISION_STATE_TYPES)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[0] is None:
            record.exc_info = None
        if record.levelno == logging.ERROR and isinstance(record.msg, str) \
                and record.msg.startswith(self._DECISIONS):
            record.levelno = logging.WARNING if "Restarted(" in record.msg else logging.INFO
            record.levelname = logging.getLevelName(record.levelno)
        return True


logging.getLogger("prefect.task_runs").addFilter(_RoundStateLines())
logging.getLogger("prefect.flow_runs").addFilter(NoTracebackWhileDown())


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
        Restarted, of the types :data:`DECISION_STATE_TYPES` says; a Failed state named
        Errored when the trial ended in ERROR) and
        message tell the decision and its reason; its data is how the round ended
        (CONTINUE, PAUSE, STOP, TERMINATED, ERROR or RETRY). The task run is tagged with
        the trial's id and, when the round ended the trial, its outcome.
    """
    report = await loop.play_round(trial_id)
    _tag_this_task_run(report.tags)
    if report.failed:
        return Failed(message=report.message, name=report.state_name, data=report.ended)
    return State(type=DECISION_STATE_TYPES.get(report.state_name, StateType.COMPLETED),
                 name=report.state_name, message=report.message, data=report.ended)


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
    return RoundEnd(await state.aresult(raise_on_failure=state.name not in DECISION_STATE_TYPES))


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
        # What stopped the experiment before its end: a cancel in Prefect, a signal.
        self.cancelled: Optional[Cancellation] = None
        self.stopped_by: Optional[str] = None
        # What the Prefect API missed of the experiment (None: it did not start).
        self.prefect_outage: Optional[PrefectOutage] = None

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        exp = self.request.experiment
        summary: dict[str, Any] = {
            "trainable": exp.trainable_name,
            "stop": exp.stop,
            "num_samples": exp.num_samples,
            "resources_per_trial": exp.resources,
            "scheduler": type(self.request.scheduler).__name__,
            "searcher": searcher_name(self.request.searcher),
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
        naming each errored trial; when the flow run (or the one that started it) was
        cancelled in Prefect, a Cancelled state carrying that result, its message saying
        how to resume.
    """
    request = experiment.request
    retry_state = load_state(request.experiment.dir) if flow_run.run_count > 1 else None
    loop = ExperimentLoop(request, resume_state=retry_state)
    experiment.prefect_outage = loop.views.reports.outage
    try:
        experiment.trials = await loop.run(play_round)
    finally:
        experiment.stopped_by = loop.stopped_by
    result = loop.views.flow_result(loop.experiment_id)
    experiment.cancelled = loop.cancelled
    if loop.cancelled is not None:
        return Cancelled(message=f"The experiment stopped: {loop.cancelled.describe()}. "
                                 f"Resume it: {resume_hint(request.experiment.dir)}",
                         data=result)
    if request.fail_on_errored_trials and any(t.status == ERROR for t in experiment.trials):
        return Failed(message=failures_text(experiment.trials), data=result)
    return result
