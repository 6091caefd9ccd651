"""What MLflow shows of an experiment beyond metrics, as plain data: the tags that say
how a trial run ended, and the parent run's params (the scheduler's and searcher's
settings, the best trial's config), metrics, tags (counts by outcome) and artifacts (the
experiment spec, the leaderboard). Pure: the writer processes make the MLflow calls.

Outcomes are :mod:`tuneflows.model.trial_outcome`'s, the best trial and its ranking
:mod:`tuneflows.model.best_trial`'s, the leaderboard's rows
:mod:`tuneflows.recording.experiment_report`'s, so MLflow, the Prefect artifacts and the
status block tell the same story.

Example:
    >>> from tuneflows.trial import Trial
    >>> t = Trial("a_00001", "1_lr=0.1", {"lr": 0.1}, "train", "", status="TERMINATED",
    ...           last_result={"training_iteration": 3, "early_stopped": True, "acc": 0.4},
    ...           status_reason="stopped at rung 3: 0.41 < cutoff 0.52")
    >>> trial_end_tags(t, "ASHA")["outcome"], trial_end_tags(t, "ASHA")["stop_rule"]
    ('stopped-early', 'ASHA')
    >>> best_trial_record([t], "acc", "max").metrics
    {'best.acc': 0.4}
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

from tuneflows.recording.mlflow import tags as mlflow_tags
from tuneflows.model.best_trial import best_trial, metric_value, ranked_trials
from tuneflows.recording.experiment_report import SummaryFacts, leaderboard_rows, summary_markdown
from tuneflows.recording.trial_files import ERROR_FILE, flatten
from tuneflows.spec import Experiment
from tuneflows.trial import Trial
from tuneflows.model.trial_outcome import (
    ERRORED, OUTCOMES, STOPPED_EARLY, UNFINISHED, Outcome, trial_outcome,
)

#: Artifacts of the parent run.
SPEC_ARTIFACT = "experiment.json"
LEADERBOARD_ARTIFACT = "leaderboard.csv"
#: The ``status`` tag of a trial run the experiment ended before it did.
KILLED = "KILLED"

_PLAIN = (str, int, float, bool, type(None))


def trial_end_tags(trial: Trial, rule: str, experiment_status: str = "") -> dict[str, str]:
    """The tags that say how a trial ended: ``outcome`` (completed, stopped-early,
    errored, unfinished), ``stop_reason`` in words, ``stop_rule`` for an early stop (the
    scheduler's short name, or "client"), ``error`` (the exception's line) for a failure;
    the reason is also the run's description, which MLflow's run page shows in full.

    Args:
        trial: The trial, ended or (when the experiment ended first) unfinished.
        rule: The scheduler's :func:`~tuneflows.model.trial_outcome.rule_name`.
        experiment_status: How the experiment ended, for an unfinished trial's reason.

    Example:
        >>> from tuneflows.trial import Trial
        >>> t = Trial("a_00002", "2", {}, "train", "", status="RUNNING")
        >>> trial_end_tags(t, "ASHA", "FAILED")["stop_reason"]
        'the experiment ended (FAILED) while the trial was RUNNING'
    """
    outcome = trial_outcome(trial, rule)
    tags = {mlflow_tags.OUTCOME: outcome.tag, mlflow_tags.STOP_REASON: outcome.describe()}
    if outcome.kind == STOPPED_EARLY:
        tags[mlflow_tags.STOP_RULE] = outcome.rule
    elif outcome.kind == ERRORED:
        tags[mlflow_tags.ERROR] = trial.error_msg or "unknown error"
    elif outcome.kind == UNFINISHED:
        ended = f" ({experiment_status})" if experiment_status else ""
        tags[mlflow_tags.STOP_REASON] = f"the experiment ended{ended} while the trial was {trial.status}"
        tags[mlflow_tags.STATUS] = KILLED
    note = tags[mlflow_tags.STOP_REASON]
    if outcome.kind == ERRORED:
        note += f"\n\nThe traceback is in the artifacts: `{ERROR_FILE}`."
    tags[mlflow_tags.DESCRIPTION] = note
    return tags


def settings(component: Any, prefix: str, depth: int = 2) -> dict[str, Any]:
    """A scheduler's or searcher's settings as params: its class name under ``prefix``,
    then every setting its public ``settings()`` gives (each constructor argument,
    defaults included; :class:`~tuneflows.model.settings.KeepsSettings`) — an object
    without one shows its public attributes. Plain data is kept as it is; a setting
    holding another component (a wrapped searcher) is described in turn, ``depth``
    levels down; anything else by its name or ``repr``. Private attributes are never
    read.

    Example:
        >>> from tuneflows.schedulers import AsyncHyperBandScheduler
        >>> s = settings(AsyncHyperBandScheduler(metric="acc", mode="max", max_t=9,
        ...                                      grace_period=1), "scheduler")
        >>> s["scheduler"], s["scheduler.metric"], s["scheduler.max_t"], s["scheduler.grace_period"]
        ('AsyncHyperBandScheduler', 'acc', 9, 1)
    """
    found: dict[str, Any] = {prefix: type(component).__name__}
    told = getattr(component, "settings", None)
    if callable(told):
        values = dict(told())
    else:
        values = {k: v for k, v in getattr(component, "__dict__", {}).items()
                  if not k.startswith("_")}
    for name, value in values.items():
        key = f"{prefix}.{name}"
        if is_plain(value):
            found[key] = value
        elif depth > 1 and callable(getattr(value, "settings", None)):
            found.update(settings(value, key, depth - 1))
        else:
            found[key] = _described(value)
    return found


def _described(value: Any) -> str:
    """A setting that is not plain data, in words: a function or class by its name,
    anything else by its (shortened) ``repr``."""
    if callable(value) and hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', '')}.{value.__qualname__}".lstrip(".")
    text = repr(value)
    return text if len(text) <= 500 else text[:497] + "..."


def is_plain(value: Any) -> bool:
    """Whether ``value`` is plain data: None, a bool, number or string, or a short list
    or dict of those.

    Example:
        >>> is_plain([1, "a"]), is_plain({"x": 1.5}), is_plain(object())
        (True, True, False)
    """
    if isinstance(value, _PLAIN):
        return True
    if isinstance(value, (list, tuple)):
        return len(value) <= 100 and all(isinstance(v, _PLAIN) for v in value)
    if isinstance(value, dict):
        return len(value) <= 100 and all(
            isinstance(k, str) and isinstance(v, _PLAIN) for k, v in value.items())
    return False


def experiment_spec_json(experiment: Experiment) -> str:
    """The experiment as specified (the search space as given, stop criteria, samples,
    resources, checkpointing), as the parent run's ``experiment.json``."""
    spec = {"name": experiment.name, "run": experiment.trainable_name,
            **experiment.trial_settings(),
            "max_seconds_without_result": experiment.max_seconds_without_result,
            "local_dir": experiment.local_dir}
    return json.dumps(spec, indent=2, default=repr) + "\n"


@dataclass(frozen=True)
class ParentRunRecord:
    """What the parent run gets when the experiment ends (names not yet checked
    against MLflow's rules)."""

    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)


def best_trial_record(trials: Sequence[Trial], metric: Optional[str],
                      mode: str) -> ParentRunRecord:
    """The best trial (:func:`~tuneflows.model.best_trial.best_trial`) as the parent run shows
    it: its config as ``best.<key>`` params, its metric as ``best.<metric>``, its id,
    name and iterations as ``best.*`` tags; empty when no trial reported the metric."""
    best = best_trial(trials, metric, mode)
    if best is None or metric is None:
        return ParentRunRecord()
    return ParentRunRecord(
        params={f"best.{k}": v for k, v in flatten(best.config).items()},
        metrics={f"best.{metric}": metric_value(best, metric)},
        tags={"best.trial_id": best.trial_id, "best.trial": best.name,
              "best.iterations": best.iteration},
    )


def experiment_end_record(trials: Sequence[Trial], facts: SummaryFacts) -> ParentRunRecord:
    """Everything the parent run gets at the end: the best trial
    (:func:`best_trial_record`), the metric and mode it is judged by, the trials counted
    by outcome (``trials.<outcome>``, ``trials.stopped-early.<rule>``, ``trials.total``),
    the leaderboard CSV, and the summary the Prefect run shows as its description."""
    metric, mode, rule = facts.metric, facts.mode, facts.rule
    best = best_trial_record(trials, metric, mode)
    # Every outcome, zeros too: a resumed run's parent run still has the counts of its
    # interrupted end (trials.unfinished=2), which these overwrite.
    counts: dict[str, int] = {"trials.total": len(trials)}
    counts.update((f"trials.{Outcome(kind).tag}", 0) for kind in OUTCOMES)
    for trial in trials:
        outcome = trial_outcome(trial, rule)
        keys = [f"trials.{outcome.tag}"]
        if outcome.kind == STOPPED_EARLY:
            keys.append(f"trials.{outcome.tag}.{outcome.rule}")
        for key in keys:
            counts[key] = counts.get(key, 0) + 1
    judged = {mlflow_tags.METRIC: metric, mlflow_tags.MODE: mode} if metric else {}
    return ParentRunRecord(
        params=best.params, metrics=best.metrics,
        tags={**best.tags, **judged, **counts, mlflow_tags.DESCRIPTION: summary_markdown(trials, facts)},
        artifacts={LEADERBOARD_ARTIFACT: leaderboard_csv(
            leaderboard_rows(ranked_trials(trials, metric, mode), metric, mode, rule))},
    )


def leaderboard_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """Leaderboard rows (best first) as CSV, with every row's columns in the order they
    first appear (trials of a conditional search space have different parameters).

    Example:
        >>> print(leaderboard_csv([{"trial": "t1", "acc": 0.5}, {"trial": "t2", "acc": None}]))
        trial,acc
        t1,0.5
        t2,
        <BLANKLINE>
    """
    if not rows:
        return ""
    out = io.StringIO()
    columns = list(dict.fromkeys(key for row in rows for key in row))
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
