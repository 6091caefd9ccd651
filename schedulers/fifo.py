"""First-in, first-out: every trial runs to its end in the order it was added."""

from __future__ import annotations

from typing import Optional

from tuneflows.schedulers.trial_scheduler import TrialScheduler, make_rng


class FIFOScheduler(TrialScheduler):
    """Runs trials in the order they were added and never stops, pauses or perturbs one.

    The seed's default scheduler. It has no decision points, so the flow may size
    rounds by the stop criterion and ``checkpoint_freq`` alone. ``choose_trial_to_run``
    returns the first PENDING trial, then the first PAUSED one.

    Args:
        seed: Seed of the scheduler's RNG (unused; accepted for a uniform interface).

    Example:
        >>> from tuneflows.schedulers import FIFOScheduler
        >>> from tuneflows.trial import TrialSnapshot
        >>> s = FIFOScheduler()
        >>> t = TrialSnapshot.make("t0", {"lr": 0.1})
        >>> s.on_trial_add(t)
        >>> s.on_trial_result(t, {"training_iteration": 1}).action
        'CONTINUE'
        >>> s.choose_trial_to_run([t])
        't0'
    """

    _STATE_ATTRS = ("_rng",)

    def __init__(self, seed: Optional[int] = None) -> None:
        self._rng = make_rng(seed)

    def debug_string(self) -> str:
        """The seed's status line."""
        return "Using FIFO scheduling algorithm."
