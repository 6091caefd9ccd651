"""Trial schedulers: pure objects that decide continue / pause / stop / perturb.

Each algorithm lives in its own module and is re-exported here; :data:`SCHEDULERS`
maps the names used by YAML specs and the CLI to the classes, and
:func:`create_scheduler` builds one by name with validated keyword arguments.

Example:
    >>> from tuneflows.schedulers import create_scheduler
    >>> create_scheduler("asha", metric="loss", mode="min", max_t=27, grace_period=1)
    ... # doctest: +ELLIPSIS
    <tuneflows.schedulers.async_hyperband.AsyncHyperBandScheduler object at ...>
"""

from __future__ import annotations

from typing import Any

from tuneflows.model.by_name import build_by_name
from tuneflows.schedulers.async_hyperband import ASHAScheduler, AsyncHyperBandScheduler
from tuneflows.schedulers.fifo import FIFOScheduler
from tuneflows.schedulers.hyperband import HyperBandScheduler
from tuneflows.schedulers.hyperopt_fifo import HyperOptScheduler
from tuneflows.schedulers.median_stopping import MedianStoppingRule
from tuneflows.schedulers.metric_spec import MetricSpec
from tuneflows.schedulers.pbt import PopulationBasedTraining
from tuneflows.schedulers.trial_scheduler import Decision, TrialScheduler

SCHEDULERS: dict[str, type[TrialScheduler]] = {
    "fifo": FIFOScheduler,
    "median": MedianStoppingRule,
    "asha": AsyncHyperBandScheduler,
    "async_hyperband": AsyncHyperBandScheduler,
    "hyperband": HyperBandScheduler,
    "pbt": PopulationBasedTraining,
    "hyperopt": HyperOptScheduler,
}


def create_scheduler(name: str, **kwargs: Any) -> TrialScheduler:
    """Builds the scheduler registered as ``name`` (case-insensitive, ``-`` = ``_``).

    Args:
        name: A key of :data:`SCHEDULERS`.
        **kwargs: Constructor arguments of that scheduler.

    Raises:
        ValueError: For an unknown name or keyword argument, listing the valid ones.
    """
    return build_by_name("scheduler", SCHEDULERS, name, **kwargs)


__all__ = [
    "ASHAScheduler",
    "AsyncHyperBandScheduler",
    "Decision",
    "FIFOScheduler",
    "HyperBandScheduler",
    "HyperOptScheduler",
    "MedianStoppingRule",
    "MetricSpec",
    "PopulationBasedTraining",
    "SCHEDULERS",
    "TrialScheduler",
    "create_scheduler",
]
