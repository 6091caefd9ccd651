"""Bounded retries for recording calls: a failing write is tried again a few times,
then logged as a warning, so a recording failure never fails a trial."""

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
