"""Seed-era import path ``ray.tune.async_hyperband``;
re-exports :class:`tuneflows.schedulers.async_hyperband.AsyncHyperBandScheduler`.

Example:
    >>> from tuneflows.async_hyperband import AsyncHyperBandScheduler
    >>> AsyncHyperBandScheduler.__module__
    'tuneflows.schedulers.async_hyperband'
"""

from tuneflows.schedulers.async_hyperband import AsyncHyperBandScheduler

__all__ = ["AsyncHyperBandScheduler"]
