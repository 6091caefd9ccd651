"""Trials taken over from saved state, and what their scheduler has heard of them.

A trial's files can hold results its scheduler has not heard: the experiment state
(with the scheduler's state) is written at most every half second, so a killed driver's
files may be a round ahead of it; and a trial that errored and runs again
(``resume="ERRORED_ONLY"``) is judged anew after the point it restarts from. Such a
trial replays results its files hold. Those the scheduler has not heard are given to it
(and not recorded again), so it judges the trial at its own decision points against
everything it recorded before the resume; those it has heard are not given twice.
Pure: no engines, no files.

Example:
    >>> heard = HeardResults()
    >>> heard.mark("t0", {"training_iteration": 1, "acc": 0.5})
    >>> [r["training_iteration"] for r in heard.unheard(
    ...     "t0", [{"training_iteration": i} for i in (1, 2, 3, 4)], recorded_until=3)]
    [2, 3]
    >>> heard.unheard("t0", [{"training_iteration": 4}], recorded_until=3)  # caught up
    []
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Optional, Sequence

from tuneflows import result as R
from tuneflows.trial import ERROR, Trial, TrialSnapshot

#: The status reason of a trial that errored and runs again.
RERUN_REASON = "re-run (resume=ERRORED_ONLY)"


def _iteration(result: Optional[Mapping[str, Any]]) -> int:
    return int(result[R.TRAINING_ITERATION]) if result else 0


class HeardResults:
    """The last result the scheduler and searcher heard of each trial whose records are
    ahead of them; a trial not listed has been heard up to its records."""

    def __init__(self) -> None:
        self._last: dict[str, Optional[dict[str, Any]]] = {}

    def mark(self, trial_id: str, heard: Optional[Mapping[str, Any]]) -> None:
        """The scheduler has heard the trial's results up to ``heard`` (None: none)."""
        self._last[trial_id] = dict(heard) if heard is not None else None

    def forget(self, trial_id: str) -> None:
        """Every result the trial gives from now on is new (a PBT clone)."""
        self._last.pop(trial_id, None)

    def view(self, snapshot: TrialSnapshot) -> TrialSnapshot:
        """``snapshot`` as the scheduler knows the trial: its last result the last one
        the scheduler heard (where its next decision point is counted from)."""
        if snapshot.trial_id not in self._last:
            return snapshot
        heard = self._last[snapshot.trial_id]
        if heard is None:
            return dataclasses.replace(snapshot, last_result=None)
        return snapshot.with_result(heard)

    def unheard(self, trial_id: str, results: Sequence[Mapping[str, Any]],
                recorded_until: int) -> list[dict[str, Any]]:
        """Of a round's ``results``, the replayed ones (up to ``recorded_until``, which
        are not recorded again) the scheduler has not heard; it hears them now."""
        if trial_id not in self._last:
            return []
        after = _iteration(self._last[trial_id])
        replayed = [dict(r) for r in results
                    if after < int(r[R.TRAINING_ITERATION]) <= recorded_until]
        if replayed:
            self._last[trial_id] = replayed[-1]
        if any(int(r[R.TRAINING_ITERATION]) >= recorded_until for r in results):
            del self._last[trial_id]  # caught up with its records
        return replayed


def runs_again(trial: Trial, errored_only: bool) -> bool:
    """Whether a trial of saved state runs on a resume: unfinished, or errored with
    ``errored_only``."""
    return not trial.is_finished() or (trial.status == ERROR and errored_only)


def heard_before_rerun(recorded: Sequence[Mapping[str, Any]],
                       checkpoint_iteration: Optional[int]) -> Optional[dict[str, Any]]:
    """What the scheduler counts as heard of a trial that errored and runs again: its
    recorded result at the checkpoint it restarts from (None: it restarts from its
    start, so every result is judged anew).

    Example:
        >>> heard_before_rerun([{"training_iteration": i} for i in (1, 2, 3)], 2)
        {'training_iteration': 2}
        >>> heard_before_rerun([{"training_iteration": 1}], None) is None
        True
    """
    if checkpoint_iteration is None:
        return None
    return next((dict(r) for r in reversed(recorded)
                 if _iteration(r) <= checkpoint_iteration), None)
