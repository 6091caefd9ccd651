"""Seed-era import path ``ray.tune.median_stopping_rule``;
re-exports :class:`tuneflows.schedulers.median_stopping.MedianStoppingRule`.

Example:
    >>> from tuneflows.median_stopping_rule import MedianStoppingRule
    >>> MedianStoppingRule.__module__
    'tuneflows.schedulers.median_stopping'
"""

from tuneflows.schedulers.median_stopping import MedianStoppingRule

__all__ = ["MedianStoppingRule"]
