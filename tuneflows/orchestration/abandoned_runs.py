"""A run taken over from a driver that died: its Prefect flow run is ended Crashed.

A driver stopped by Ctrl-C, SIGTERM or a cancel ends its flow run itself. A driver
killed outright (``kill -9``, the OOM killer, a machine lost) cannot: its flow run stays
Running in the Prefect UI for good. When a run is resumed, ``run.json`` tells whether the
driver before never noted an end (:func:`~tuneflows.runs.run_dirs.record_run_start`);
if so, and its flow run is still not in a final state, the new driver sets it Crashed,
saying which flow run took the experiment over, and the round task runs it left
playing.

Example:
    >>> await end_abandoned_flow_run("6c1b…", "0b07…", PrefectOutage())  # doctest: +SKIP
    True
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from tuneflows.services.prefect_limits import PrefectOutage

logger = logging.getLogger(__name__)


def abandoned_message(own: Optional[str]) -> str:
    """The Crashed state's message of a flow run whose driver died.

    Example:
        >>> abandoned_message("0b07")
        'Its driver stopped without ending it (killed, or its machine was lost); flow run 0b07 resumed the experiment.'
    """
    by = f"flow run {own}" if own else "a driver outside Prefect"
    return ("Its driver stopped without ending it (killed, or its machine was lost); "
            f"{by} resumed the experiment.")


async def end_abandoned_flow_run(abandoned: str, own: Optional[str],
                                 outage: PrefectOutage) -> bool:
    """Sets flow run ``abandoned`` Crashed if it is not in a final state, and its round
    task runs that were still playing; ``own`` is the flow run resuming the experiment.
    Each API call is bounded by ``outage`` (a failed one is counted there, never raised).

    Returns:
        Whether the flow run was ended here.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.states import Crashed

    async with get_client() as client:  # a run this server never saw: nothing to end
        runs = await outage.call("the abandoned flow run's state", client.read_flow_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[abandoned]))), default=[])
        run = runs[0] if runs else None
        if run is None or run.state is None or run.state.is_final():
            return False
        result = await outage.call("the abandoned flow run's end", client.set_flow_run_state(
            abandoned, Crashed(message=abandoned_message(own)), force=True), default=None)
        if result is None:
            return False
        ended_rounds = await _end_open_task_runs(client, abandoned, outage)
    logger.info("Prefect flow run %s was left %s by a driver that died; it is now Crashed "
                "(and %d of its round task runs).", abandoned, run.state.name, ended_rounds)
    return True


async def _end_open_task_runs(client: Any, flow_run_id: str, outage: PrefectOutage) -> int:
    """Sets the task runs of ``flow_run_id`` that are not in a final state (the rounds
    that were playing when its driver died) Crashed; returns how many."""
    from prefect.client.schemas.filters import (
        FlowRunFilter, FlowRunFilterId, TaskRunFilter, TaskRunFilterState,
        TaskRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.states import Crashed

    open_types = [StateType.RUNNING, StateType.PENDING, StateType.SCHEDULED, StateType.PAUSED]
    task_runs = await outage.call("the abandoned flow run's rounds", client.read_task_runs(
        flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
        task_run_filter=TaskRunFilter(state=TaskRunFilterState(
            type=TaskRunFilterStateType(any_=open_types)))), default=[])
    ended = 0
    for task_run in task_runs:
        done = await outage.call("the abandoned flow run's rounds", client.set_task_run_state(
            task_run.id, Crashed(message="Its flow run's driver stopped during the round."),
            force=True), default=None)
        ended += done is not None
    return ended
