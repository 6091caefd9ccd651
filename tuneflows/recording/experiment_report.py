"""What the Prefect artifacts of an experiment say, as plain data: the leaderboard's
rows, the progress figure and the end-of-run summary (markdown). Pure: the Prefect
writes are :mod:`tuneflows.recording.prefect_reports`'s job.

Example:
    >>> from tuneflows.trial import PAUSED, PENDING, RUNNING, Trial
    >>> trials = [Trial(f"x_{i}", f"{i}_lr={lr}", {"lr": lr}, "train", "", status="TERMINATED",
    ...                 last_result={"acc": acc, "training_iteration": 9})
    ...           for i, (lr, acc) in enumerate([(0.1, 0.5), (0.2, 0.9)])]
    >>> [row["trial"] for row in leaderboard_rows(trials, "acc", "max", "FIFO")]
    ['train_1_lr=0.2', 'train_0_lr=0.1']
    >>> artifact_key("My Experiment_2", "leaderboard")
    'my-experiment-2-leaderboard'
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

from tuneflows.model.best_trial import metric_value, ranked_trials
from tuneflows.recording.trial_counts import TrialCounts
from tuneflows.trial import PAUSED, PENDING, RUNNING, Trial
from tuneflows.model.trial_outcome import OUTCOMES, STOPPED_EARLY, trial_outcome


def artifact_key(experiment_name: str, kind: str) -> str:
    """A Prefect artifact key (lowercase letters, digits, dashes) for ``kind`` of the
    experiment, the same for every run of it so the versions line up."""
    slug = re.sub(r"[^a-z0-9]+", "-", experiment_name.lower()).strip("-")[:80] or "experiment"
    return f"{slug}-{kind}"


def config_text(config: Mapping[str, Any]) -> str:
    """A config on one line, nested keys joined by ``/``: ``lr=0.1, model/depth=3``."""
    return ", ".join(f"{key}={_short(value)}" for key, value in _flat(config))


def leaderboard_rows(trials: Sequence[Trial], metric: Optional[str], mode: str,
                     rule: str) -> list[dict[str, Any]]:
    """A row per trial, best first (:func:`~tuneflows.model.best_trial.ranked_trials`):
    the config's parameters first (nested keys joined by ``/``; a name taken by another
    column gets a ``config/`` prefix), then rank, trial name, the metric, status,
    outcome, reason, iterations and trial id; numbers to 4 significant digits."""
    rows = []
    for rank, trial in enumerate(ranked_trials(trials, metric, mode), start=1):
        outcome = trial_outcome(trial, rule)
        facts: dict[str, Any] = {"rank": rank, "trial": trial.name}
        if metric:
            facts[metric if metric not in _COLUMNS else f"metric:{metric}"] = readable_number(
                json_number(metric_value(trial, metric)))
        facts.update({
            "status": trial.status,
            "outcome": outcome.kind if outcome.kind != STOPPED_EARLY
            else f"{outcome.kind} by {outcome.rule}",
            "reason": outcome.reason,
            "iterations": trial.iteration,
            "trial_id": trial.trial_id,
        })
        row = {(key if key not in facts else f"config/{key}"): _cell_value(value)
               for key, value in _flat(trial.config)}
        row.update(facts)
        rows.append(row)
    return rows


_COLUMNS = ("rank", "trial", "status", "outcome", "reason", "iterations", "trial_id")


def readable_number(value: Any) -> Any:
    """A float to 4 significant digits (anything else as it is).

    Example:
        >>> readable_number(0.123456789), readable_number(12345.678), readable_number("a")
        (0.1235, 12350.0, 'a')
    """
    if isinstance(value, float) and math.isfinite(value):
        return float(f"{value:.4g}")
    return value


def _cell_value(value: Any) -> Any:
    """A config value as a table cell: plain numbers, strings and bools as they are
    (floats to 4 significant digits), the rest as short text."""
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, float):
        return readable_number(json_number(value))
    return _short(value)


def json_number(value: Optional[float]) -> Optional[float]:
    """``value``, or None when JSON cannot hold it (NaN, infinities)."""
    if value is None or not math.isfinite(value):
        return None
    return value


def progress_percent(ended: int, total: int) -> float:
    """Percentage of trials ended, 0 with no trials, never above 100.

    Example:
        >>> progress_percent(3, 12), progress_percent(0, 0), progress_percent(5, 4)
        (25.0, 0.0, 100.0)
    """
    if total <= 0:
        return 0.0
    return min(100.0, round(100.0 * ended / total, 1))


def outcome_counts(trials: Sequence[Trial], rule: str) -> dict[str, int]:
    """How many trials ended each way (every outcome, zeros included), plus
    ``"stopped early by <rule>"`` counts per rule."""
    return TrialCounts.of(trials, rule).outcomes


def progress_text(trials: Sequence[Trial], planned: int, rule: str,
                  stop: Optional[Mapping[str, Any]] = None) -> str:
    """The progress artifact's description: trials ended (by outcome) of those planned,
    the unfinished by state, and the iterations spent against the budget (the bar is the
    trials ended: at the end, the budget that trials ending before it left unused is said
    as such, not as a second percentage beside a full bar).

    Args:
        trials: The trials so far.
        planned: How many trials the searcher will suggest in all (0: unknown).
        rule: The scheduler's short name.
        stop: The stop criteria (their ``training_iteration`` sets a trial's budget).

    Example:
        >>> from tuneflows.trial import Trial
        >>> ts = [Trial("a", "1", {}, "f", "", status="TERMINATED",
        ...             last_result={"training_iteration": 9}),
        ...       Trial("b", "2", {}, "f", "", status="RUNNING",
        ...             last_result={"training_iteration": 2})]
        >>> progress_text(ts, 4, "ASHA", {"training_iteration": 9})
        '1 of 4 trials ended (1 completed); 1 running, 2 to come · 11 of 36 iterations (31 % of the iteration budget)'
        >>> ts[1].status = "TERMINATED"
        >>> progress_text(ts, 2, "ASHA", {"training_iteration": 9})
        '2 of 2 trials ended (2 completed) · 11 of 18 iterations run: 39 % of the iteration budget left unused by trials that ended before it'
    """
    return progress_wording(TrialCounts.of(trials, rule), planned, stop)


def progress_wording(counts: TrialCounts, planned: int,
                     stop: Optional[Mapping[str, Any]] = None) -> str:
    """:func:`progress_text` from the trials' counts (kept as trials end by a
    :class:`~tuneflows.recording.trial_counts.ProgressTally`)."""
    total = max(counts.trials, planned)
    ended = [f"{counts.outcomes[kind]} {kind}" for kind in OUTCOMES[:3]
             if counts.outcomes[kind]]
    states = [f"{counts.statuses[status]} {status.lower()}"
              for status in (RUNNING, PAUSED, PENDING) if counts.statuses.get(status)]
    if total > counts.trials:
        states.append(f"{total - counts.trials} to come")
    budget = counts.budget(stop)
    full = budget.per_trial * total
    text = f"{counts.ended} of {total} trials ended" + (f" ({', '.join(ended)})" if ended else "")
    if states:
        text += "; " + ", ".join(states)
    if full and counts.ended == total and budget.spent < full:
        text += (f" · {budget.spent:,} of {full:,} iterations run: "
                 f"{100 - 100 * budget.spent / full:.0f} % of the iteration budget left unused "
                 "by trials that ended before it")
    elif full:
        text += (f" · {budget.spent:,} of {full:,} iterations "
                 f"({100 * budget.spent / full:.0f} % of the iteration budget)")
    return text


@dataclass(frozen=True)
class SummaryFacts:
    """What the end-of-run summary is made of, besides the trials.

    Attributes:
        experiment: The experiment's name.
        metric: The metric trials are ranked by (None: none known).
        mode: ``"max"`` or ``"min"``.
        rule: The scheduler's short name.
        stop: The experiment's stop criteria.
        where: Lines saying where to look (MLflow, the logdir...), markdown allowed.
        status: How the experiment ended (``"FINISHED"``, ``"FAILED"``).
        importances: The parameter importances, most important first.
        pictures: Where the run's pictures are (markdown links).
    """

    experiment: str
    metric: Optional[str]
    mode: str
    rule: str
    stop: Mapping[str, Any] = field(default_factory=dict)
    where: Sequence[str] = ()
    status: str = "FINISHED"
    importances: Mapping[str, float] = field(default_factory=dict)
    pictures: Sequence[str] = ()


def summary_markdown(trials: Sequence[Trial], facts: SummaryFacts) -> str:
    """The summary artifact: best trial with its config and metric, outcome counts,
    the iteration budget, where to look."""
    ranked = ranked_trials(trials, facts.metric, facts.mode)
    best = ranked[0] if ranked and metric_value(ranked[0], facts.metric) is not None else None
    state = "" if facts.status == "FINISHED" else f" ({facts.status})"
    lines = [f"# {facts.experiment}: {len(trials)} trials{state}", ""]
    if best is None:
        lines.append("**Best trial:** none (no trial reported "
                     f"{'a metric' if facts.metric is None else repr(facts.metric)}).")
    else:
        lines += [f"**Best trial:** `{best.name}` (`{best.trial_id}`) with "
                  f"**{facts.metric} = {_short(metric_value(best, facts.metric))}** "
                  f"({facts.mode}) after {best.iteration} iterations", "",
                  "| config | value |", "|---|---|"]
        lines += [f"| {key} | {_cell(_short(value))} |" for key, value in _flat(best.config)]
    if facts.importances:
        lines += ["", f"## Parameter importances for {facts.metric} (fANOVA)", "",
                  "| parameter | importance |", "|---|---|"]
        lines += [f"| {_cell(name)} | {share:.3f} |" for name, share in facts.importances.items()]
    if facts.pictures:
        lines += ["", "## Pictures", " · ".join(facts.pictures)]
    tally = TrialCounts.of(trials, facts.rule)  # one walk for outcomes and budget
    counts = tally.outcomes
    lines += ["", "## Outcomes", f"- completed: {counts['completed']}",
              f"- stopped early: {counts[STOPPED_EARLY]}" + _by_rule(counts),
              f"- errored: {counts['errored']}"]
    if counts["unfinished"]:
        lines.append(f"- unfinished: {counts['unfinished']}")
    budget = tally.budget(facts.stop)
    if counts[STOPPED_EARLY]:
        lines += ["", "## Budget", f"{budget.spent} iterations spent of {budget.full} without "
                  f"early stopping ({budget.trials} trials × {budget.per_trial})"
                  + (f": {100 - 100 * budget.spent / budget.full:.0f} % saved."
                     if budget.full and budget.spent <= budget.full else ".")]
    else:  # trials that met their own stop criteria saved nothing
        lines += ["", "## Budget", f"{budget.spent} iterations spent; no trial was stopped "
                  f"early."]
    if facts.where:
        lines += ["", "## Where to look", *[f"- {line}" for line in facts.where]]
    return "\n".join(lines) + "\n"


def _by_rule(counts: Mapping[str, int]) -> str:
    prefix = f"{STOPPED_EARLY} by "
    parts = [f"{key[len(prefix):]}: {n}" for key, n in counts.items() if key.startswith(prefix)]
    return f" ({', '.join(parts)})" if parts else ""


def _flat(config: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = []
    for key, value in config.items():
        if isinstance(value, Mapping) and value:
            items.extend(_flat(value, f"{prefix}{key}/"))
        else:
            items.append((f"{prefix}{key}", value))
    return items


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (str, int, bool)) or value is None:
        return str(value)
    try:
        return json.dumps(value, default=repr)[:200]
    except (TypeError, ValueError):
        return repr(value)[:200]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
