"""What the trial controller asks the experiment loop to carry out: plain, immutable
records, one class per kind of action."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Union

from tuneflows.model.codes import ActorFate
from tuneflows.trial import Trial

#: The fates of a trial's actor, as module names the controller uses.
RELEASE, DISCARD, NO_ACTOR = ActorFate.RELEASE, ActorFate.DISCARD, ActorFate.NO_ACTOR


@dataclass(frozen=True)
class AddTrial:
    """A new trial exists: create its records (params, MLflow run)."""

    trial: Trial


@dataclass(frozen=True)
class StartTrial:
    """Run ``trial`` on a slot: on a new or reused actor (restoring its latest
    checkpoint, if any), or, when ``parked``, on the actor that still holds it."""

    trial: Trial
    parked: bool = False


@dataclass(frozen=True)
class StoreCheckpoint:
    """Keep a checkpoint: ``blob`` when the round brought one, else ask the trial's
    actor for one (when its trainable can checkpoint)."""

    trial: Trial
    blob: Optional[bytes] = None
    iteration: int = 0


@dataclass(frozen=True)
class ContinueTrial:
    """Play another round of ``trial``."""

    trial: Trial


@dataclass(frozen=True)
class PauseTrial:
    """Checkpoint ``trial`` and free its slot (or park it on its actor when its
    trainable cannot checkpoint); report back with ``TrialController.on_paused``."""

    trial: Trial
    reason: str


@dataclass(frozen=True)
class CloneTrial:
    """PBT exploit: restart ``trial`` from ``donor_id``'s latest checkpoint with the
    trial's new config (already set); ``old_config`` is what it ran with before."""

    trial: Trial
    donor_id: str
    old_config: Mapping[str, Any]
    reason: str


@dataclass(frozen=True)
class RestartTrial:
    """Start ``trial`` again from its latest checkpoint after a failure."""

    trial: Trial
    reason: str
    error: str
    drop_actor: bool


@dataclass(frozen=True)
class EndTrial:
    """``trial`` has ended (its status is final): record it and free its actor.

    Attributes:
        trial: The trial, TERMINATED or ERROR.
        reason: Why it ended (shown in the status block, events, MLflow).
        actor: RELEASE, DISCARD or NO_ACTOR.
        error: The failure's full text when it ended in ERROR.
        early_stopped: A scheduler or client stopped it before its own end.
    """

    trial: Trial
    reason: str
    actor: ActorFate = ActorFate.RELEASE
    error: Optional[str] = None
    early_stopped: bool = False
    tags: Mapping[str, Any] = field(default_factory=dict)


Action = Union[AddTrial, StartTrial, StoreCheckpoint, ContinueTrial, PauseTrial,
               CloneTrial, RestartTrial, EndTrial]
