"""What the driver asks of a round and what a round gives back: plain data passed
between the trial controller and the trial's actor."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional


@dataclass(frozen=True)
class RoundRequest:
    """How far a round may go.

    Attributes:
        until: Result key to threshold; the round (not the trial) ends at the first
            result reaching one (the scheduler's next decision point).
        stop: The trial's stopping criteria; the trial ends at the first result
            reaching one, and no later iteration runs.
        max_seconds: Wall-clock slice: the round ends after the first result past it,
            so metrics stream while long trials run.
        checkpoint_freq: Save a checkpoint (and end the round) every N iterations.
        checkpoint_at_end: Save a checkpoint when the trial ends.
    """

    until: Mapping[str, float] = field(default_factory=dict)
    stop: Mapping[str, float] = field(default_factory=dict)
    max_seconds: float = 5.0
    checkpoint_freq: int = 0
    checkpoint_at_end: bool = False


@dataclass
class RoundOutcome:
    """What a round produced.

    Attributes:
        results: Completed results, in order.
        finished: The trial is over (its function returned or a stop key was reached).
        stop_key: The stopping-criterion key that was reached, if any.
        error: Formatted traceback when the trainable raised.
        checkpoint: Checkpoint bytes taken after the round's last result, if due.
        checkpoint_iteration: ``training_iteration`` of that checkpoint.
        stopped_by_client: The trial ended at this round's last result because a
            client asked it to stop (``TrialActor.request_stop``).
    """

    results: list[dict[str, Any]] = field(default_factory=list)
    finished: bool = False
    stop_key: Optional[str] = None
    error: Optional[str] = None
    checkpoint: Optional[bytes] = None
    checkpoint_iteration: int = 0
    stopped_by_client: bool = False
