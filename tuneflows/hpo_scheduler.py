"""Seed-era import path of ``HyperOptScheduler``; the class lives in ``tuneflows.schedulers``.

This module only re-exports :class:`tuneflows.schedulers.HyperOptScheduler` (defined in
``tuneflows.schedulers.hyperopt_fifo``), so that the seed's
``from tuneflows.hpo_scheduler import HyperOptScheduler`` keeps working.
"""

from tuneflows.schedulers.hyperopt_fifo import HyperOptScheduler

__all__ = ["HyperOptScheduler"]
