"""Bounded retries for recording calls: a failing write is tried again a few times,
then logged as a warning, so a recording failure never fails a trial; a store that is
down (:class:`Outage`) costs no retries until it answers again."""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

logger = logging.getLogger(__name__)


def call_with_retries(fn: Callable[..., Any], *args: Any, retries: int = 2,
                      backoff_s: float = 0.5, what: str = "Recording call") -> bool:
    """Calls ``fn(*args)``, retrying ``retries`` times with a doubling pause.

    Args:
        fn: The call.
        *args: Its arguments.
        retries: Extra attempts after the first failure.
        backoff_s: Pause before the first retry (doubled per attempt).
        what: How the warning names the call.

    Returns:
        True when a call succeeded; False when every attempt failed (logged).

    Example:
        >>> call_with_retries(int, "3")
        True
        >>> call_with_retries(int, "x", retries=0, what="Parsing")
        False
    """
    for attempt in range(retries + 1):
        try:
            fn(*args)
            return True
        except Exception as exc:  # noqa: BLE001 - recording must not kill trials
            if attempt == retries:
                logger.warning("%s %s failed: %s", what, getattr(fn, "__name__", fn), exc)
                return False
            time.sleep(backoff_s * 2 ** attempt)
    return False


class Outage:
    """Remembers that a store is down, so a writer stops spending retries on it.

    After a call fails for good (:meth:`failed`), later calls get no retries
    (:meth:`retries`); after ``skip_after`` such failures in a row, calls are skipped for
    ``probe_s`` seconds (:meth:`skipping`), then tried once at a time again, until one
    succeeds (:meth:`succeeded`). One failing call (a bad value, a blip) thus costs
    nothing more; a dead tracking server costs two calls' retries, then seconds.

    Args:
        skip_after: Failures in a row before calls are skipped.
        probe_s: How long calls are skipped after a failure.
        clock: Returns the time in seconds (``time.monotonic``).

    Example:
        >>> now = [0.0]
        >>> outage = Outage(skip_after=2, probe_s=5, clock=lambda: now[0])
        >>> outage.retries(2), outage.skipping()
        (2, False)
        >>> outage.failed(); outage.retries(2), outage.skipping()
        (0, False)
        >>> outage.failed(); outage.skipping()
        True
        >>> now[0] = 6.0; outage.skipping()
        False
        >>> outage.succeeded(); outage.retries(2)
        2
    """

    def __init__(self, skip_after: int = 2, probe_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._skip_after = skip_after
        self._probe_s = probe_s
        self._clock = clock
        self._failures = 0
        self._last_failure = 0.0

    @property
    def down(self) -> bool:
        """The last call failed for good and none has succeeded since."""
        return self._failures > 0

    def skipping(self) -> bool:
        """Whether a call now is skipped: ``skip_after`` calls in a row failed, the
        last less than ``probe_s`` ago."""
        return (self._failures >= self._skip_after
                and self._clock() - self._last_failure < self._probe_s)

    def retries(self, normal: int) -> int:
        """How many retries a call gets: ``normal``, or none while the store is down."""
        return 0 if self.down else normal

    def failed(self) -> None:
        """A call failed after its retries."""
        self._failures += 1
        self._last_failure = self._clock()

    def succeeded(self) -> None:
        """A call succeeded: the store is up."""
        self._failures = 0
