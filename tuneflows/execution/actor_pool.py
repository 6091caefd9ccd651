"""Trial actors are started once per slot and reused between trials (a new Ray
worker costs about 2 s, far more than a round)."""

from __future__ import annotations

import logging
from typing import Any

import ray

from tuneflows.execution.trial_actor import TrialActor

logger = logging.getLogger(__name__)


class ActorPool:
    """Idle trial actors with one resource shape.

    Args:
        resources: ``{"cpu": c, "gpu": g}`` each actor holds.
    """

    def __init__(self, resources: dict[str, float]) -> None:
        self._remote = ray.remote(TrialActor).options(
            num_cpus=resources.get("cpu", 0), num_gpus=resources.get("gpu", 0),
            max_restarts=0, max_concurrency=2,  # a stop request reaches a running round
        )
        self._idle: list[Any] = []
        self._all: list[Any] = []

    @property
    def has_idle(self) -> bool:
        """An idle actor is waiting for a trial."""
        return bool(self._idle)

    def acquire(self) -> Any:
        """An idle actor, or a new one."""
        if self._idle:
            return self._idle.pop()
        actor = self._remote.remote()
        self._all.append(actor)
        return actor

    def release(self, actor: Any) -> None:
        """Returns a healthy actor whose trial has been stopped."""
        self._idle.append(actor)

    def discard(self, actor: Any) -> None:
        """Kills an actor that died or holds a trial that would not stop."""
        if actor in self._all:
            self._all.remove(actor)
        if actor in self._idle:
            self._idle.remove(actor)
        try:
            ray.kill(actor, no_restart=True)
        except Exception:  # noqa: BLE001 - already dead
            pass

    def shutdown(self) -> None:
        """Kills every actor of the pool."""
        for actor in list(self._all):
            self.discard(actor)
        self._idle.clear()
