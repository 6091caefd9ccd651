"""Seed-era import path ``ray.tune.trial_scheduler``; re-exports
:class:`tuneflows.schedulers.TrialScheduler` and :class:`tuneflows.schedulers.FIFOScheduler`.

Example:
    >>> from tuneflows.trial_scheduler import FIFOScheduler, TrialScheduler
    >>> issubclass(FIFOScheduler, TrialScheduler), TrialScheduler.PAUSE
    (True, 'PAUSE')
"""

from tuneflows.schedulers import FIFOScheduler, TrialScheduler

__all__ = ["FIFOScheduler", "TrialScheduler"]
