"""How a Client API request reaches the running experiment: every access goes through
the experiment loop's ``call_soon`` (it runs on the experiment's event loop, so a
request never reads a trial while the loop changes it), with a deadline; and how many
trials clients may still add to it.

Example:
    >>> access = ExperimentAccess(lambda: None)
    >>> access.on_loop(lambda loop: loop.trials)
    Traceback (most recent call last):
    ...
    fastapi.exceptions.HTTPException: 503: No experiment is running.
"""

from __future__ import annotations

import concurrent.futures
import weakref
from typing import Any, Callable, Optional

from fastapi import HTTPException, Request

from tuneflows.error import TuneError

#: Longest wait for the experiment's event loop to answer one request.
CALL_TIMEOUT_S = 10.0
#: What ``call_soon`` raises when the experiment's loop has ended or does not answer.
NOT_RUNNING = (TuneError, RuntimeError, TimeoutError, concurrent.futures.TimeoutError)
#: Most trials clients may add to one experiment (409 beyond, naming the cap).
DEFAULT_MAX_CLIENT_TRIALS = 100


def experiment_name(loop: Any) -> Optional[str]:
    """The name of the experiment ``loop`` runs (None when it has none)."""
    return getattr(getattr(loop, "experiment", None), "name", None)


class ClientTrialBudget:
    """How many trials clients may still add to each experiment (used on the
    experiment's loop, so checks and counts do not race).

    Example:
        >>> class Loop: ...
        >>> budget, loop = ClientTrialBudget(2), Loop()
        >>> budget.remaining(loop)
        2
        >>> budget.take(loop, 2); budget.remaining(loop)
        0
    """

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._added: "weakref.WeakKeyDictionary[Any, int]" = weakref.WeakKeyDictionary()

    def remaining(self, loop: Any) -> int:
        """How many more trials clients may add to ``loop``'s experiment."""
        return self.cap - self._added.get(loop, 0)

    def take(self, loop: Any, count: int) -> None:
        """Counts ``count`` added trials.

        Raises:
            HTTPException: 409 naming the cap, when ``count`` is over what remains.
        """
        if count > self.remaining(loop):
            raise HTTPException(409, f"The request would add {count} trial(s), over the cap "
                                     f"of {self.cap} client-added trials per experiment "
                                     f"({self._added.get(loop, 0)} added so far).")
        self._added[loop] = self._added.get(loop, 0) + count


class ExperimentAccess:
    """The Client API's way to the current experiment loop.

    Args:
        get_loop: Returns the current ExperimentLoop (or None between experiments).
            The loop must offer ``call_soon``, ``trials``, ``request_stop``,
            ``add_trial``, ``status_text`` and ``experiment.name``.
        max_client_trials: Most trials clients may add to one experiment.
    """

    def __init__(self, get_loop: Callable[[], Any],
                 max_client_trials: int = DEFAULT_MAX_CLIENT_TRIALS) -> None:
        self.get_loop = get_loop
        self.budget = ClientTrialBudget(max_client_trials)

    def on_loop(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Runs ``fn(loop, *args)`` on the current experiment's event loop.

        Raises:
            HTTPException: 503 when no experiment runs or its loop does not answer in
                time, 500 naming the error when ``fn`` fails, or what ``fn`` raised.
        """
        loop = self.get_loop()
        if loop is None:
            raise HTTPException(503, "No experiment is running.")
        try:
            return loop.call_soon(fn, loop, *args, timeout=CALL_TIMEOUT_S)
        except HTTPException:
            raise
        except Exception as exc:  # noqa: BLE001 - a request's failure stays the request's
            if isinstance(exc, NOT_RUNNING) and not isinstance(exc, RecursionError):
                name = experiment_name(loop)
                raise HTTPException(503, f"Experiment {name!r} is not running "
                                         f"({exc or 'timed out'}).") from None
            raise HTTPException(500, f"The request failed: {type(exc).__name__}: {exc}") from None

    @staticmethod
    def lookup(loop: Any, trial_id: str) -> Any:
        """The trial ``trial_id`` of ``loop``'s experiment (called on the loop).

        Raises:
            HTTPException: 404 naming the id.
        """
        trial = loop.trials.get(trial_id)
        if trial is None:
            raise HTTPException(404, f"No trial {trial_id!r} in experiment "
                                     f"{experiment_name(loop)!r}.")
        return trial


def experiment_access(request: Request) -> ExperimentAccess:
    """The app's :class:`ExperimentAccess` (a FastAPI dependency of every route)."""
    return request.app.state.experiment_access
