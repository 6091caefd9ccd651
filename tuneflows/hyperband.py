"""Seed-era import path ``ray.tune.hyperband``;
re-exports :class:`tuneflows.schedulers.hyperband.HyperBandScheduler`.

Example:
    >>> from tuneflows.hyperband import HyperBandScheduler
    >>> HyperBandScheduler.__module__
    'tuneflows.schedulers.hyperband'
"""

from tuneflows.schedulers.hyperband import HyperBandScheduler

__all__ = ["HyperBandScheduler"]
