"""Seed-era import path ``ray.tune.pbt``;
re-exports :class:`tuneflows.schedulers.pbt.PopulationBasedTraining`.

Example:
    >>> from tuneflows.pbt import PopulationBasedTraining
    >>> PopulationBasedTraining.__module__
    'tuneflows.schedulers.pbt'
"""

from tuneflows.schedulers.pbt import PopulationBasedTraining

__all__ = ["PopulationBasedTraining"]
