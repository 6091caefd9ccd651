"""Ray Tune 1.x/2.x's import path of the stop rules (``ray.tune.stopper``):
``from tuneflows.stopper import TrialPlateauStopper``. They live with the schedulers
(``tuneflows.schedulers.stopping``); ``tuneflows.run(stop=...)`` and
``RunConfig(stop=...)`` take them."""

from tuneflows.schedulers.stopping import (
    CombinedStopper, ExperimentPlateauStopper, FunctionStopper, MaximumIterationStopper,
    NoopStopper, Stopper, TimeoutStopper, TrialPlateauStopper,
)

__all__ = [
    "CombinedStopper", "ExperimentPlateauStopper", "FunctionStopper", "MaximumIterationStopper",
    "NoopStopper", "Stopper", "TimeoutStopper", "TrialPlateauStopper",
]
