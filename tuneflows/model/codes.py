"""The codes tuneflows passes between its layers, each kind its own enum, so a trial's
status, how a round ended, a decision recorded as an event, how a trial ended and the
name of a round's Prefect state are never confused for one another. Members are strings
(``StrEnum``): they compare equal to, print, ``repr`` and serialise as their values, so
code reading a trial's status sees the seed's strings.

Example:
    >>> TrialStatus.TERMINATED == "TERMINATED", f"{EventKind.PAUSE}", [TrialStatus.ERROR]
    (True, 'pause', ['ERROR'])
    >>> RoundEnd.PAUSE.ends_driving, RoundEnd.CONTINUE.ends_driving
    (True, False)
"""

from __future__ import annotations

from enum import StrEnum


class Code(StrEnum):
    """A code: a string whose ``repr`` is its value's."""

    def __repr__(self) -> str:
        return repr(self.value)


class TrialStatus(Code):
    """A trial's status, in the seed's words."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    TERMINATED = "TERMINATED"
    ERROR = "ERROR"


class RoundEnd(Code):
    """How a round (or a trial's start) left its trial, for the loop driving it."""

    CONTINUE = "CONTINUE"  #: play another round
    RETRY = "RETRY"  #: (re)started on an actor: play a round
    PAUSE = "PAUSE"  #: paused, its slot freed
    STOP = "STOP"  #: stopped early by the scheduler or a client
    TERMINATED = "TERMINATED"  #: finished
    ERROR = "ERROR"  #: failed for good

    @property
    def ends_driving(self) -> bool:
        """The loop stops driving the trial (it plays no more rounds for now)."""
        return self in (RoundEnd.PAUSE, RoundEnd.STOP, RoundEnd.TERMINATED, RoundEnd.ERROR)


class EventKind(Code):
    """What a trial's ``events.json`` records, with its reason: a decision, or its end."""

    PAUSE = "pause"
    PERTURB = "perturb"
    RESTART = "restart"
    CLIENT_REQUEST = "client request"
    TERMINATED = "terminated"
    ERROR = "error"

    @property
    def is_decision(self) -> bool:
        """A decision that leaves the trial running or waiting (not its end)."""
        return self not in (EventKind.TERMINATED, EventKind.ERROR)


class OutcomeKind(Code):
    """How a trial ended, in the words every display uses."""

    COMPLETED = "completed"
    STOPPED_EARLY = "stopped early"
    ERRORED = "errored"
    UNFINISHED = "unfinished"


class RoundStateName(Code):
    """The name of a round's final Prefect state (what the UI's timeline shows)."""

    COMPLETED = "Completed"
    STOPPED = "Stopped"
    PAUSED = "Paused"
    PERTURBED = "Perturbed"
    RESTARTED = "Restarted"
    ERRORED = "Errored"


class ActorFate(Code):
    """What happens to a trial's actor when the trial ends."""

    RELEASE = "release"  #: stop the trainable cleanly and return the actor to the pool
    DISCARD = "discard"  #: kill it (it died, or it holds a trial that will not stop)
    NO_ACTOR = "none"  #: the trial holds no actor
