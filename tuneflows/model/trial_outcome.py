"""How a trial ended, in the words every display uses (the status block, the Prefect
leaderboard, summary and round states, the flow run's logs): completed, stopped early
(by which rule, and why), errored, or unfinished (the experiment ended first).

Derived from the trial's own record (status, reason, the ``early_stopped`` mark the
controller sets on a stopped trial's last result), so a trial read back on resume gets
the same outcome it had.

Example:
    >>> from tuneflows.trial import Trial
    >>> t = Trial("a_00001", "1_lr=0.1", {}, "train", "", status="TERMINATED",
    ...           last_result={"training_iteration": 3, "early_stopped": True},
    ...           status_reason="stopped at rung 3: 0.41 < cutoff 0.52")
    >>> outcome = trial_outcome(t, "ASHA")
    >>> outcome.kind, outcome.rule
    ('stopped early', 'ASHA')
    >>> outcome.describe()
    'stopped by ASHA at rung 3: 0.41 < cutoff 0.52'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from tuneflows.model.codes import EventKind, OutcomeKind
from tuneflows.result import EARLY_STOPPED
from tuneflows.trial import ERROR, TERMINATED, Trial

COMPLETED, STOPPED_EARLY, ERRORED, UNFINISHED = (
    OutcomeKind.COMPLETED, OutcomeKind.STOPPED_EARLY, OutcomeKind.ERRORED, OutcomeKind.UNFINISHED)

#: Every outcome, in the order displays list them.
OUTCOMES = (COMPLETED, STOPPED_EARLY, ERRORED, UNFINISHED)

#: The reason of a trial a client (REST API, ``TuneClient``) stopped.
CLIENT_STOP_REASON = "stopped by client"

_RULE_NAMES = {
    "AsyncHyperBandScheduler": "ASHA",
    "ASHAScheduler": "ASHA",
    "HyperBandScheduler": "HyperBand",
    "MedianStoppingRule": "the median rule",
    "PopulationBasedTraining": "PBT",
    "FIFOScheduler": "FIFO",
    "HyperOptScheduler": "HyperOpt",
}


def rule_name(scheduler: Any) -> str:
    """A scheduler's short name, as in "stopped by ASHA".

    Example:
        >>> from tuneflows.schedulers import AsyncHyperBandScheduler, MedianStoppingRule
        >>> rule_name(AsyncHyperBandScheduler()), rule_name(MedianStoppingRule())
        ('ASHA', 'the median rule')
    """
    name = type(getattr(scheduler, "wrapped", scheduler)).__name__  # ExperimentStops: its own
    return _RULE_NAMES.get(name, name)


@dataclass(frozen=True)
class Outcome:
    """How one trial ended.

    Attributes:
        kind: COMPLETED, STOPPED_EARLY, ERRORED or UNFINISHED.
        rule: Who stopped it early: a scheduler's :func:`rule_name` or ``"client"``.
        reason: The scheduler's reason, the stop key reached, or the error's last line.
    """

    kind: str
    rule: str = ""
    reason: str = ""

    @property
    def tag(self) -> str:
        """The kind as a tag value (``"stopped-early"``)."""
        return self.kind.replace(" ", "-")

    def describe(self) -> str:
        """One phrase: "completed (training_iteration reached)", "stopped by ASHA at rung
        3: ...", "stopped by client", "errored: ValueError: boom", "unfinished"."""
        if self.kind == STOPPED_EARLY:
            if self.reason == CLIENT_STOP_REASON or not self.reason:
                return f"stopped by {self.rule}"
            if self.reason.startswith("stopped "):
                return f"stopped by {self.rule} {self.reason[len('stopped '):]}"
            return f"stopped by {self.rule}: {self.reason}"
        if self.kind == ERRORED:
            return f"errored: {self.reason}" if self.reason else ERRORED
        if self.kind == COMPLETED and self.reason:
            return f"completed ({self.reason})"
        return self.kind


def trial_outcome(trial: Trial, rule: str) -> Outcome:
    """How ``trial`` ended; ``rule`` names the experiment's scheduler (:func:`rule_name`)."""
    if trial.status == ERROR:
        return Outcome(ERRORED, reason=trial.error_msg or "")
    if trial.status != TERMINATED:
        return Outcome(UNFINISHED)
    if trial.status_reason == CLIENT_STOP_REASON:
        return Outcome(STOPPED_EARLY, "client", CLIENT_STOP_REASON)
    if (trial.last_result or {}).get(EARLY_STOPPED):
        return Outcome(STOPPED_EARLY, rule, trial.status_reason)
    return Outcome(COMPLETED, reason=trial.status_reason)


def decision_phrase(kind: str, rule: str, reason: str) -> str:
    """A decision that does not end the trial, in words: "paused by HyperBand: ...",
    "perturbed by PBT: ...", "restarted after failure 1/3: ValueError: ...",
    "client request: stop".

    Example:
        >>> decision_phrase(EventKind.PAUSE, "HyperBand", "waiting for bracket s=2 at 3")
        'paused by HyperBand: waiting for bracket s=2 at 3'
        >>> decision_phrase(EventKind.RESTART, "ASHA", "failure 1/3: ValueError: bad batch")
        'restarted after failure 1/3: ValueError: bad batch'
    """
    if kind == EventKind.PAUSE:
        return f"paused by {rule}" + (f": {reason}" if reason else "")
    if kind == EventKind.PERTURB:
        return f"perturbed by {rule}" + (f": {reason}" if reason else "")
    if kind == EventKind.RESTART:
        return f"restarted after {reason}" if reason else "restarted"
    return f"{kind}: {reason}" if reason else kind


def failures_text(trials: Sequence[Trial]) -> str:
    """The trials that ended in ERROR, each with its exception and error file: the
    message of ``run_experiments``' TuneError and of the failed flow run's state.

    Example:
        >>> t = Trial(trial_id="a_00000", experiment_tag="0", config={},
        ...           trainable_name="f", logdir="/r/f_0", status=ERROR)
        >>> t.error_msg, t.error_file = "ValueError: bad batch", "/r/f_0/error.txt"
        >>> print(failures_text([t]))
        1 trial(s) did not complete:
         - f_0: ValueError: bad batch (see /r/f_0/error.txt)
    """
    failed = [t for t in trials if t.status == ERROR]
    lines = [f"{len(failed)} trial(s) did not complete:"]
    for trial in failed:
        lines.append(f" - {trial.name}: {trial.error_msg} (see {trial.error_file})")
    return "\n".join(lines)
