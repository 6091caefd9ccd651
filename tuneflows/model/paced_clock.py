"""When a periodic job that looks at every trial may run again: the one rule that keeps
such jobs (the state file, the progress and leaderboard artifacts, the status block) at a
fixed share of the driver however many trials there are.

A job runs at most every ``interval_s``; when one run took long (its cost grows with the
trials: 10,000 trials to count, ASHA's rungs to encode), the next waits
:data:`COST_SHARE_INVERSE` times that run's duration instead, so the job uses at most
1 / :data:`COST_SHARE_INVERSE` of the driver's time at any size.

Example:
    >>> clock = PacedClock(2.0)
    >>> clock.due(now=0.0)
    True
    >>> clock.ran(started=0.0, ended=0.5)  # a half-second run: the next in 10 s, not 2
    >>> clock.due(now=5.0), clock.wait_s(now=5.0), clock.due(now=10.0)
    (False, 5.0, True)
"""

from __future__ import annotations

import time
from typing import Optional

__all__ = ["COST_SHARE_INVERSE", "PacedClock"]

#: A paced job waits at least this many times its last run's duration before it runs again.
COST_SHARE_INVERSE = 20


class PacedClock:
    """Tells when a job that walks every trial is due (see the module's docstring).

    Args:
        interval_s: Least seconds from the start of one run to the start of the next
            (0: only the job's own cost paces it).
    """

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._next: Optional[float] = None  # monotonic time the job is due again

    def due(self, now: Optional[float] = None) -> bool:
        """Whether the job may run at ``now`` (default: ``time.monotonic()``)."""
        return self.wait_s(now) == 0.0

    def wait_s(self, now: Optional[float] = None) -> float:
        """Seconds until the job is due (0.0: due now)."""
        if self._next is None:
            return 0.0
        return max(0.0, self._next - (time.monotonic() if now is None else now))

    def ran(self, started: float, ended: Optional[float] = None) -> None:
        """Records a run of the job from ``started`` to ``ended`` (monotonic seconds;
        ``ended`` default now): the next is due ``interval_s`` after its start, or
        :data:`COST_SHARE_INVERSE` times its duration when that is longer."""
        ended = time.monotonic() if ended is None else ended
        self._next = started + max(self.interval_s, COST_SHARE_INVERSE * (ended - started))
