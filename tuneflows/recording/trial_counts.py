"""What the progress artifact and the summary count of an experiment's trials: outcomes,
states, iterations against the budget; counted in one walk, or kept as trials end
(:class:`ProgressTally`), so the progress text at 10,000 trials looks only at the trials
that are not finished.

Example:
    >>> from tuneflows.trial import Trial
    >>> trials = [Trial("a", "1", {}, "f", "", status="TERMINATED",
    ...                 last_result={"training_iteration": 9}),
    ...           Trial("b", "2", {}, "f", "", status="RUNNING",
    ...                 last_result={"training_iteration": 2})]
    >>> counts = TrialCounts.of(trials, "FIFO")
    >>> counts.ended, counts.statuses, counts.budget({"training_iteration": 9})
    (1, {'RUNNING': 1}, Budget(spent=11, per_trial=9, trials=2))
    >>> ProgressTally("FIFO").counts(trials) == counts
    True
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional, Sequence

from tuneflows.model.open_trials import OpenTrials
from tuneflows.model.trial_outcome import OUTCOMES, STOPPED_EARLY, trial_outcome
from tuneflows.trial import Trial

__all__ = ["Budget", "ProgressTally", "TrialCounts"]


@dataclass(frozen=True)
class Budget:
    """Iterations the trials ran against what they would have run without early
    stopping (``per_trial`` each: the ``training_iteration`` stop criterion, else the
    most iterations a trial ran)."""

    spent: int
    per_trial: int
    trials: int

    @property
    def full(self) -> int:
        """Iterations without early stopping."""
        return self.per_trial * self.trials


@dataclass
class TrialCounts:
    """Counts over trials.

    Attributes:
        outcomes: Trials by outcome kind (every kind, zeros included), plus
            ``"stopped early by <rule>"`` per rule.
        statuses: Unfinished trials by status.
        trials: Trials counted.
        ended: Finished trials.
        spent: Iterations run, all trials.
        most: The most iterations a trial ran.
    """

    outcomes: dict[str, int] = field(default_factory=lambda: {kind: 0 for kind in OUTCOMES})
    statuses: dict[str, int] = field(default_factory=dict)
    trials: int = 0
    ended: int = 0
    spent: int = 0
    most: int = 0

    @classmethod
    def of(cls, trials: Iterable[Trial], rule: str) -> "TrialCounts":
        """The counts of ``trials`` (``rule``: the scheduler's short name)."""
        counts = cls()
        for trial in trials:
            counts.add(trial, rule)
        return counts

    def add(self, trial: Trial, rule: str) -> None:
        """Counts one more trial."""
        outcome = trial_outcome(trial, rule)
        self.outcomes[outcome.kind] += 1
        if outcome.kind == STOPPED_EARLY:
            key = f"{STOPPED_EARLY} by {outcome.rule}"
            self.outcomes[key] = self.outcomes.get(key, 0) + 1
        if trial.is_finished():
            self.ended += 1
        else:
            self.statuses[trial.status] = self.statuses.get(trial.status, 0) + 1
        iterations = trial.iteration
        self.trials += 1
        self.spent += iterations
        self.most = max(self.most, iterations)

    def budget(self, stop: Optional[Mapping[str, Any]]) -> Budget:
        """The :class:`Budget` under the stop criteria ``stop``."""
        limit = (stop or {}).get("training_iteration")
        per_trial = int(limit) if isinstance(limit, (int, float)) and not isinstance(
            limit, bool) else self.most
        return Budget(self.spent, per_trial, self.trials)


class ProgressTally:
    """:class:`TrialCounts` of an experiment's trials, each finished trial counted once
    as it is first seen finished; a count looks only at new and unfinished trials.

    Args:
        rule: The scheduler's short name.
    """

    def __init__(self, rule: str) -> None:
        self._rule = rule
        self._trials = OpenTrials()
        self._finished = TrialCounts()

    def counts(self, trials: Sequence[Trial]) -> TrialCounts:
        """The counts of ``trials`` (the experiment's, in the order they were added)."""
        for trial in self._trials.look(trials):
            self._finished.add(trial, self._rule)
        counts = copy.deepcopy(self._finished)
        for trial in self._trials.unfinished:
            counts.add(trial, self._rule)
        return counts
