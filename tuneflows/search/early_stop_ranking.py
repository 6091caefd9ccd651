"""Ranks early-stopped trials after finished ones, as successive halving judged them.

When a scheduler (ASHA, HyperBand, median stopping) ends a trial early, its last result is an
observation at a *lower budget* (e.g. ``training_iteration``), not a final score. TPE only uses
the *order* of losses (it splits observations at the ``gamma`` quantile), so the observations
are ranked as successive halving does: every finished trial ranks above every early-stopped
one; early-stopped trials rank by the budget they reached (a trial promoted further is better),
then by their loss at that budget. Finished trials keep their true loss; early-stopped ones get
pseudo-losses above the worst finished loss, in that order. Stopped trials thus feed the model
(mostly into TPE's "bad" density) instead of being dropped or mistaken for finished results.

Reference:
    Falkner, Klein, Hutter. *BOHB: Robust and Efficient Hyperparameter Optimization at Scale*,
    ICML 2018 (learning from trials stopped at lower budgets; simplified here).

Example:
    >>> obs = {0: Observation(1.0, False, 9), 1: Observation(3.0, False, 9),
    ...        2: Observation(0.5, True, 3), 3: Observation(2.0, True, 1)}
    >>> early_stopped_losses(obs)
    {2: 4.0, 3: 5.0}
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, NamedTuple

__all__ = ["Observation", "Observations", "early_stopped_losses"]


class Observation(NamedTuple):
    """A completed trial as TPE sees it."""

    loss: float  #: minimised: the metric, negated for mode="max"
    early_stopped: bool  #: a scheduler ended it before it finished
    budget: float  #: the budget it reached (0.0 when it did not report one)


class Observations(dict):
    """Observations by hyperopt trial id that know which of them were stopped early, so
    a search without early stopping never walks them all to find none.

    Example:
        >>> obs = Observations({0: Observation(1.0, False, 9)})
        >>> obs[1] = Observation(0.5, True, 3)
        >>> obs.early_stopped, early_stopped_losses(Observations({0: obs[0]}))
        ({1}, {})
    """

    def __init__(self, items: Iterable[Any] = ()) -> None:
        super().__init__(items)
        self.early_stopped = {tid for tid, o in self.items() if o.early_stopped}

    def __reduce__(self) -> tuple:  # copies and pickles rebuild the set from the items
        return type(self), (list(self.items()),)

    def __setitem__(self, tid: int, observation: Observation) -> None:
        super().__setitem__(tid, observation)
        if observation.early_stopped:
            self.early_stopped.add(tid)
        else:
            self.early_stopped.discard(tid)


def early_stopped_losses(observations: Mapping[int, Observation]) -> dict[int, float]:
    """Pseudo-losses for the early-stopped observations, ranked after every finished one.

    Args:
        observations: By hyperopt trial id.

    Returns:
        ``{tid: pseudo_loss}`` for the early-stopped observations only (finished ones keep
        their loss): spaced by the finished losses' span over their count, above the worst.
    """
    if isinstance(observations, Observations) and not observations.early_stopped:
        return {}
    stopped = [(tid, o) for tid, o in observations.items() if o.early_stopped]
    if not stopped:
        return {}
    finished = [o.loss for o in observations.values() if not o.early_stopped]
    worst = max(finished) if finished else 0.0
    span = (max(finished) - min(finished)) if len(finished) > 1 else 1.0
    step = span / max(len(finished), 1) or 1.0
    stopped.sort(key=lambda item: (-item[1].budget, item[1].loss))
    return {tid: worst + step * (rank + 1) for rank, (tid, _) in enumerate(stopped)}
