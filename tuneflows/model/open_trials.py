"""The trials an experiment's periodic jobs still need to look at: those added since the
last look and those not finished. A finished trial never changes again, so a job that
counts or records finished trials takes each one once, and its cost does not grow with
the trials that finished before (the state file and the progress artifact at 10,000
trials walked every trial each time).

Example:
    >>> from tuneflows.trial import Trial
    >>> trials = [Trial(f"t{i}", str(i), {}, "f", "") for i in range(3)]
    >>> watch = OpenTrials()
    >>> watch.look(trials)
    []
    >>> trials[1].status = "TERMINATED"
    >>> trials.append(Trial("t3", "3", {}, "f", "", status="ERROR"))
    >>> [t.trial_id for t in watch.look(trials)], [t.trial_id for t in watch.unfinished]
    (['t1', 't3'], ['t0', 't2'])
    >>> list(watch.order)
    ['t0', 't1', 't2', 't3']
"""

from __future__ import annotations

from typing import Sequence

from tuneflows.model.append_only import AppendOnlyList
from tuneflows.trial import Trial

__all__ = ["OpenTrials"]


class OpenTrials:
    """Follows a list of trials that only grows at its end (an experiment's trials in
    the order they were added), a look at a time.

    A trial that finished is taken once (returned by :meth:`look`) and not looked at
    again: a finished trial's record is final (a failed trial runs again only when a
    run is resumed, with new watchers).

    Attributes:
        order: Every trial's id, in the order they were added.
    """

    def __init__(self) -> None:
        self.order = AppendOnlyList()
        self._open: dict[str, Trial] = {}

    def look(self, trials: Sequence[Trial]) -> list[Trial]:
        """Takes the trials added since the last look; returns those that finished
        since (new ones included) in the order they were added."""
        if len(trials) < len(self.order):  # not the list looked at before: start over
            self.order, self._open = AppendOnlyList(), {}
        for trial in trials[len(self.order):]:
            self.order.append(trial.trial_id)
            self._open[trial.trial_id] = trial
        finished = [t for t in self._open.values() if t.is_finished()]
        for trial in finished:
            del self._open[trial.trial_id]
        return finished

    @property
    def unfinished(self) -> list[Trial]:
        """The trials not finished at the last look, in the order they were added."""
        return list(self._open.values())
