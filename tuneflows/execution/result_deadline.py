"""When a trial counts as hung: the pure rule behind ``max_seconds_without_result``.

The driver waits for a round's outcome; every ``limit`` seconds without it, it asks the
trial's actor how long ago its trainable gave a result (results stream inside a round, so
a long round is not a hung one). This module says how long to wait next, or that the
trial is hung. No clocks, no Ray: the caller measures and passes the figures.

Example:
    >>> next_wait(limit=10.0, since_result=4.0)  # a result 4 s ago: 6 s more
    6.0
    >>> next_wait(limit=10.0, since_result=10.5) is None  # silent for the limit: hung
    True
    >>> next_wait(limit=10.0, since_result=None) is None  # the actor did not answer
    True
"""

from __future__ import annotations

from typing import Optional

#: Shortest wait between two questions to an actor (a result just before the deadline
#: must not make the driver ask again at once, and again...).
MIN_WAIT_S = 0.5


def next_wait(limit: float, since_result: Optional[float]) -> Optional[float]:
    """Seconds to wait for the round before asking again, or None when the trial is hung.

    Args:
        limit: ``max_seconds_without_result``.
        since_result: Seconds since the trainable's last result (or the round's start),
            as its actor tells; None when the actor did not answer in time (its process
            is stuck as a whole).

    Returns:
        ``limit - since_result`` (at least :data:`MIN_WAIT_S`), or None when
        ``since_result`` reached ``limit`` or is unknown.
    """
    if since_result is None or since_result >= limit:
        return None
    return max(limit - since_result, MIN_WAIT_S)


def hung_message(limit: float) -> str:
    """The error of a trial stopped by the limit (its error file's last line).

    Example:
        >>> hung_message(2.5)
        'TrialHung: no result for 2.5 s (max_seconds_without_result); its actor was killed.'
    """
    return (f"TrialHung: no result for {limit:g} s (max_seconds_without_result); "
            f"its actor was killed.")
