"""What a round's task run says when it ends: the state name and message the Prefect
UI shows for it and its tags (the trial and, when the round ended the trial, how),
made from the actions the round led to. Pure.

Example:
    >>> from tuneflows.control.actions import EndTrial
    >>> from tuneflows.model.codes import RoundEnd
    >>> from tuneflows.trial import Trial
    >>> t = Trial("a_00002", "2_lr=0.5", {}, "train", "", status="TERMINATED",
    ...           last_result={"training_iteration": 3, "acc": 0.41, "early_stopped": True},
    ...           status_reason="stopped at rung 3: 0.41 < cutoff 0.52")
    >>> report = round_report(t, [{"training_iteration": 3}],
    ...     [EndTrial(t, "stopped at rung 3: 0.41 < cutoff 0.52", early_stopped=True)],
    ...     RoundEnd.STOP, "ASHA", "acc")
    >>> report.state_name, report.message
    ('Stopped', 'stopped by ASHA at rung 3: 0.41 < cutoff 0.52 (iteration 3, acc=0.41)')
    >>> report.tags
    ('trial:a_00002', 'outcome:stopped-early', 'stopped-by:ASHA')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

from tuneflows.control.actions import Action, CloneTrial, PauseTrial, RestartTrial
from tuneflows.model.codes import EventKind, RoundEnd, RoundStateName
from tuneflows.trial import Trial
from tuneflows.model.trial_outcome import (
    ERRORED, STOPPED_EARLY, decision_phrase, trial_outcome,
)


@dataclass(frozen=True)
class RoundReport:
    """How a round ended, for the experiment loop and the round's Prefect state.

    Attributes:
        ended: How the round left the trial, for the loop.
        state_name: The task run's state name: Completed, Stopped, Paused, Perturbed,
            Restarted or Errored.
        message: The decision and its reason, with the iteration reached.
        tags: ``trial:<id>``, ``mlflow_run:<id>`` (its MLflow run); when the trial ended ``outcome:<kind>`` (and
            ``stopped-by:<rule>``); ``decision:<kind>`` for a pause, perturbation or restart.
        failed: The trial ended in ERROR (the task run is shown as failed).
    """

    ended: RoundEnd
    state_name: RoundStateName
    message: str
    tags: tuple[str, ...]
    failed: bool = False


def round_report(trial: Trial, results: Sequence[Mapping[str, Any]], actions: Sequence[Action],
                 ended: RoundEnd, rule: str, metric: Optional[str],
                 mlflow_run_id: Optional[str] = None) -> RoundReport:
    """The report of a round of ``trial`` that brought the new ``results``, led to
    ``actions`` and ended ``ended``; ``rule`` names the scheduler, ``metric`` is shown;
    ``mlflow_run_id`` (the trial's MLflow run, when known) is tagged ``mlflow_run:<id>``."""
    where = _progress(trial, results, metric)
    base = (f"trial:{trial.trial_id}",) + ((f"mlflow_run:{mlflow_run_id}",)
                                           if mlflow_run_id else ())
    if trial.is_finished():  # in this round: a finished trial plays no more rounds
        outcome = trial_outcome(trial, rule)
        tags = base + (f"outcome:{outcome.tag}",)
        if outcome.kind == STOPPED_EARLY:
            tags += (f"stopped-by:{outcome.rule}",)
        name = {STOPPED_EARLY: RoundStateName.STOPPED,
                ERRORED: RoundStateName.ERRORED}.get(outcome.kind, RoundStateName.COMPLETED)
        return RoundReport(ended, name, f"{outcome.describe()} ({where})", tags,
                           failed=outcome.kind == ERRORED)
    for kind, name, action_type in ((EventKind.PERTURB, RoundStateName.PERTURBED, CloneTrial),
                                    (EventKind.RESTART, RoundStateName.RESTARTED, RestartTrial),
                                    (EventKind.PAUSE, RoundStateName.PAUSED, PauseTrial)):
        action = next((a for a in actions if isinstance(a, action_type)), None)
        if action is not None:
            return RoundReport(ended, name, f"{decision_phrase(kind, rule, action.reason)} "
                               f"({where})", base + (f"decision:{kind}",))
    return RoundReport(ended, RoundStateName.COMPLETED, f"continues ({where})", base)


def _progress(trial: Trial, results: Sequence[Mapping[str, Any]], metric: Optional[str]) -> str:
    """"iteration 3, acc=0.41" or "iterations 4-9, acc=0.8" (what the round reached)."""
    last = trial.iteration
    first = int(results[0].get("training_iteration", last)) if results else last
    text = f"iteration {last}" if first == last else f"iterations {first}-{last}"
    value = (trial.last_result or {}).get(metric) if metric else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        text += f", {metric}={value:.4g}"
    return text
