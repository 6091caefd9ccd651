"""Cancel from Prefect, wherever the run was started: the experiment watches its flow
run (and the flow run that called ``run_experiments``, e.g. a deployment's) and stops
as soon as one of them is Cancelling or Cancelled.

Prefect delivers a cancel only to runs that a worker or ``serve`` started (it kills
their process); a script's flow run would stay Cancelling until Prefect gives up on it
five minutes later. So the experiment asks the API for the flow runs' states every
``interval_s`` (one request for all of them, bounded by
:func:`~tuneflows.services.prefect_limits.prefect_deadline_s`), on the flow's event
loop, where the HTTP wait costs the trials nothing. A poll that fails is counted as something the Prefect API missed, and the
experiment goes on.

Example:
    >>> watch = CancelWatch("0b07fa6a-cb56-4484-995e-47c103d3391c", None, print,
    ...                     PrefectOutage())                              # doctest: +SKIP
    >>> await watch.start()            # inside the flow run              # doctest: +SKIP
    >>> await watch.stop()                                                # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Callable, Optional

from tuneflows.services.prefect_limits import PrefectOutage

#: Seconds between two polls of the flow runs' states.
POLL_INTERVAL_S = 2.0


@dataclass(frozen=True)
class Cancellation:
    """A flow run found Cancelling or Cancelled.

    Attributes:
        flow_run_id: Its id.
        flow_run_name: Its name.
        is_caller: It is the flow run that called ``run_experiments`` (not the
            experiment's own).
        deployment_id: Its deployment's id, when a deployment started it.
        message: Its state's message (who cancelled it, when Prefect says so).
    """

    flow_run_id: str
    flow_run_name: str
    is_caller: bool
    deployment_id: Optional[str]
    message: str

    def describe(self) -> str:
        """E.g. "its Prefect flow run 'demo' (0b07…) was cancelled"."""
        whose = "the Prefect flow run that started it" if self.is_caller else "its Prefect flow run"
        said = f": {self.message}" if self.message else ""
        return f"{whose}, {self.flow_run_name!r} ({self.flow_run_id}), was cancelled{said}"


class CancelWatch:
    """Polls flow runs' states and reports the first cancel once.

    Args:
        own: The experiment's flow run (None outside one).
        caller: The flow run that called ``run_experiments`` (None: a script).
        on_cancel: Called on the event loop with the :class:`Cancellation`.
        outage: Bounds each poll and counts the failed ones.
        interval_s: Seconds between polls.
    """

    def __init__(self, own: Optional[str], caller: Optional[str],
                 on_cancel: Callable[[Cancellation], None], outage: PrefectOutage,
                 interval_s: float = POLL_INTERVAL_S) -> None:
        self._ids = [i for i in dict.fromkeys((own, caller)) if i]
        self._caller = caller
        self._on_cancel = on_cancel
        self._outage = outage
        self._interval_s = interval_s
        self._task: Optional[asyncio.Task] = None
        self.found: Optional[Cancellation] = None

    async def start(self) -> None:
        """Starts polling (nothing to watch: nothing happens)."""
        if self._ids:
            self._task = asyncio.ensure_future(self._poll())

    async def stop(self) -> None:
        """Stops polling."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def check_now(self) -> Optional[Cancellation]:
        """One poll now (e.g. on SIGTERM: is it Prefect cancelling the run?)."""
        if self.found is None and self._ids:
            from prefect.client.orchestration import get_client

            async with get_client() as client:
                self.found = await self._read(client)
        return self.found

    async def _poll(self) -> None:
        from prefect.client.orchestration import get_client

        async with get_client() as client:
            while self.found is None:
                await asyncio.sleep(self._interval_s)
                found = await self._read(client)
                if found is not None and self.found is None:
                    self.found = found
                    self._on_cancel(found)

    async def _read(self, client: Any) -> Optional[Cancellation]:
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

        runs = await self._outage.call("cancel checks", client.read_flow_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=self._ids))), default=[])
        for run in sorted(runs, key=lambda r: self._ids.index(str(r.id))):
            state = run.state
            if state is not None and (state.is_cancelling() or state.is_cancelled()):
                return Cancellation(str(run.id), run.name, str(run.id) == self._caller,
                                    str(run.deployment_id) if run.deployment_id else None,
                                    state.message or "")
        return None
