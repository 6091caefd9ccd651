"""How long the Prefect API may make tuneflows wait, and what it missed while it did
not answer. Prefect is the window onto a run, not its engine: a Prefect server that goes
away must cost the experiment nothing.

- Every call tuneflows makes to the Prefect API (the cancel watch's reads, the
  artifacts) waits at most ``TUNEFLOWS_PREFECT_DEADLINE_S`` (default 10 s): see
  :meth:`PrefectOutage.call`. A failed or late call is counted, never raised.
- Prefect's own client retries a failed request 5 times with a doubling back-off
  (≈ 1 minute a call against a server that is gone) and waits 60 s for an answer. Once
  tuneflows has seen the API fail, :meth:`PrefectOutage.call` turns that down
  (``PREFECT_CLIENT_MAX_RETRIES=0``, ``PREFECT_API_REQUEST_TIMEOUT`` = the deadline), so
  the flow engine's last state report and the logs Prefect flushes at exit cost one
  attempt each; the user's settings are put back once the API answers again
  (:func:`report_prefect_outage`, :func:`restore_client_settings`).
- The task runs' states travel as events, on a queue Prefect drains when the process
  exits, one reconnection round (≈ 7 s) an event against a server that is gone:
  :func:`drop_undelivered_events` bounds that wait.

Example:
    >>> prefect_deadline_s()
    10.0
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any, Awaitable, Optional

logger = logging.getLogger(__name__)

DEADLINE_ENV = "TUNEFLOWS_PREFECT_DEADLINE_S"
DEFAULT_DEADLINE_S = 10.0

#: Prefect's client settings while its API is down (values: "deadline" is the deadline).
_QUICK_CLIENT = {"PREFECT_CLIENT_MAX_RETRIES": "0", "PREFECT_API_REQUEST_TIMEOUT": "deadline"}
_saved_client_settings: Optional[dict[str, Optional[str]]] = None


def prefect_deadline_s() -> float:
    """The longest wait for one call to the Prefect API, and for Prefect after an
    experiment's last trial: ``TUNEFLOWS_PREFECT_DEADLINE_S``, else 10 s.

    Raises:
        ValueError: ``TUNEFLOWS_PREFECT_DEADLINE_S`` is not a positive number.
    """
    value = os.environ.get(DEADLINE_ENV)
    if value is None:
        return DEFAULT_DEADLINE_S
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"{DEADLINE_ENV} must be a positive number of seconds, got {value!r}.")
    return seconds


class PrefectOutage:
    """Bounds one experiment's calls to the Prefect API and counts what it missed.

    Example:
        >>> outage = PrefectOutage()
        >>> async def refused():
        ...     raise ConnectionError("All connection attempts failed")
        >>> asyncio.run(outage.call("progress artifact", refused()))
        >>> outage.down, outage.missed
        (True, {'progress artifact': 1})
        >>> restore_client_settings()
    """

    def __init__(self) -> None:
        self.missed: dict[str, int] = {}
        self.down_since: Optional[float] = None
        self.error = ""

    @property
    def down(self) -> bool:
        """The last call failed (and none has succeeded since)."""
        return self.down_since is not None

    async def call(self, what: str, awaitable: Awaitable[Any], default: Any = None) -> Any:
        """The result of ``awaitable``, or ``default`` when it failed or took longer
        than :func:`prefect_deadline_s` (counted as missed under ``what``)."""
        try:
            result = await asyncio.wait_for(awaitable, prefect_deadline_s())
        except Exception as exc:  # noqa: BLE001 - Prefect never fails the experiment
            self.note_missed(what, exc)
            return default
        self.down_since = None
        return result

    def skipped(self, what: str) -> None:
        """``what`` was not sent: the API is down."""
        self.missed[what] = self.missed.get(what, 0) + 1

    def note_missed(self, what: str, exc: BaseException) -> None:
        """``what`` did not reach the API (``exc``); the first such miss is a warning."""
        self.skipped(what)
        if self.down_since is None:
            self.down_since = time.time()
            self.error = f"{type(exc).__name__}: {exc}".rstrip(": ")
            if sum(self.missed.values()) == 1:
                logger.warning("The Prefect API did not answer (%s); the experiment goes on "
                               "without it.", self.error)
            _give_up_quickly()

    def summary(self) -> str:
        """One sentence on what the Prefect API missed ('' when nothing)."""
        if not self.missed:
            return ""
        what = ", ".join(f"{what} ({n})" if n > 1 else what for what, n in self.missed.items())
        since = time.strftime("%H:%M:%S", time.localtime(self.down_since)) if self.down else ""
        state = f"it has not answered since {since} ({self.error})" if since else "it answered again later"
        return (f"The Prefect API missed: {what}; {state}. Trials, files and MLflow are "
                f"complete; the flow run in the Prefect UI is not.")


class NoTracebackWhileDown(logging.Filter):
    """Keeps Prefect's log lines but drops their tracebacks while tuneflows has seen the
    API down: the flow engine's failed last state report is then one line, not forty
    (what the API missed is said once, at the end)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and _saved_client_settings is not None:
            record.exc_info, record.exc_text = None, None  # the line names the error
        return True


def _give_up_quickly() -> None:
    """Prefect's client makes one attempt a request, waiting at most the deadline, until
    :func:`restore_client_settings` (the user's own settings are kept aside)."""
    global _saved_client_settings
    if _saved_client_settings is not None:
        return
    from prefect.context import refresh_global_settings_context

    _saved_client_settings = {key: os.environ.get(key) for key in _QUICK_CLIENT}
    for key, value in _QUICK_CLIENT.items():
        os.environ[key] = str(prefect_deadline_s()) if value == "deadline" else value
    refresh_global_settings_context()


def restore_client_settings() -> None:
    """Puts Prefect's client settings back as they were before the API went down."""
    global _saved_client_settings
    if _saved_client_settings is None:
        return
    from prefect.context import refresh_global_settings_context

    for key, value in _saved_client_settings.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    _saved_client_settings = None
    refresh_global_settings_context()


def drop_undelivered_events(timeout_s: float) -> int:
    """Waits up to ``timeout_s`` for Prefect's events (the task runs' states) to be
    sent, then drops the rest, so that the process can exit (Prefect's own exit handler
    would try each one for ≈ 7 s); returns how many were dropped.

    Prefect has no public way to drop its queue: this reads its ``_queue``, and a
    Prefect without one loses nothing here (the process then waits as before).
    """
    import queue

    from prefect.events.worker import EventsWorker

    worker = EventsWorker.instance()
    EventsWorker.drain_all(timeout=timeout_s)
    held = getattr(worker, "_queue", None)
    dropped = 0
    while held is not None:
        try:
            item = held.get_nowait()
        except queue.Empty:
            break
        held.task_done()
        if item is None:  # the service's end mark stays, and stays last
            held.put_nowait(None)
            break
        dropped += 1
    return dropped


def report_prefect_outage(experiment_name: str, outage: PrefectOutage) -> None:
    """After an experiment's flow run: says once what the Prefect API missed. While the
    API is down, drops the events it can no longer take (after 1 s) and leaves Prefect's
    client making one attempt a request (the logs Prefect flushes at exit then cost
    seconds, not minutes); once it answers again, puts the user's settings back."""
    if outage.down:
        dropped = drop_undelivered_events(timeout_s=1.0)
        if dropped:
            outage.missed["task-run state events"] = dropped
    else:
        restore_client_settings()
    if outage.missed:
        logger.warning("Experiment %r: %s", experiment_name, outage.summary())
