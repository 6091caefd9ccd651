"""Seed-era import path ``ray.tune.experiment``: :class:`~tuneflows.spec.Experiment`.

Example:
    >>> from tuneflows.experiment import Experiment
    >>> Experiment.from_json("e", {"run": lambda config, reporter: None, "local_dir": "/r"}).name
    'e'
"""

from tuneflows.spec import Experiment

__all__ = ["Experiment"]
