"""The one definition of an experiment's metric and its best trial, shared by the status
block, the Prefect summary and leaderboard, the MLflow parent run and ``flows/``."""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from tuneflows.trial import Trial

#: Stop keys that count budget, not quality: never taken as the metric.
BUDGET_KEYS = frozenset({"training_iteration", "timesteps_total", "time_total_s"})
#: Keys every result carries for bookkeeping: never offered as a metric.
BOOKKEEPING_KEYS = frozenset({"pid", "timestamp", "time_this_iter_s", "timesteps_this_iter"})


def experiment_metric(scheduler: Any, searcher: Any, stop: Optional[Mapping[str, Any]],
                      metric: Optional[str] = None,
                      mode: Optional[str] = None) -> tuple[Optional[str], str]:
    """The metric and mode an experiment is judged by: the ``metric`` given to
    ``run_experiments``, else the scheduler's, else the searcher's, else the first stop
    criterion that is not a budget key; the mode is the one given with the metric, else
    ``"max"``. The one place for this rule: the status block, the Prefect reports, the
    MLflow parent run, the saved state and the warm start all call it.

    Example:
        >>> experiment_metric(None, None, {}, "loss", "min")
        ('loss', 'min')
        >>> class S: metric, mode = "loss", "min"
        >>> experiment_metric(S(), None, {"mean_accuracy": 99})
        ('loss', 'min')
        >>> experiment_metric(None, None, {"training_iteration": 9, "mean_accuracy": 99})
        ('mean_accuracy', 'max')
        >>> experiment_metric(None, None, {})
        (None, 'max')
    """
    if metric:
        return metric, mode or "max"
    for source in (scheduler, searcher):
        named = getattr(source, "metric", None)
        if named:
            return named, getattr(source, "mode", None) or "max"
    for key in stop or {}:
        if key not in BUDGET_KEYS:
            return key, "max"
    return None, "max"


def metric_value(trial: Trial, metric: Optional[str]) -> Optional[float]:
    """The trial's last reported value of ``metric``, if it is a number."""
    if metric is None or not trial.last_result:
        return None
    value = trial.last_result.get(metric)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def reported_metrics(trials: Sequence[Trial]) -> list[str]:
    """The numeric keys of the trials' last results (bookkeeping keys left out), sorted:
    the metrics a best trial could be chosen by.

    Example:
        >>> from tuneflows.trial import Trial
        >>> trial = Trial("t0", "0", {}, "f", "", last_result={
        ...     "acc": 0.9, "pid": 7, "done": True, "date": "today", "training_iteration": 3})
        >>> reported_metrics([trial])
        ['acc', 'training_iteration']
    """
    keys = {key for trial in trials for key in trial.last_result or {}
            if key not in BOOKKEEPING_KEYS and metric_value(trial, key) is not None}
    return sorted(keys)


def ranked_trials(trials: Sequence[Trial], metric: Optional[str], mode: str) -> list[Trial]:
    """Trials best first: by ``metric`` (``mode`` ``"max"`` or ``"min"``), ties broken by
    fewer iterations, then trial order; trials without the metric come last, in order.

    Example:
        >>> from tuneflows.trial import Trial
        >>> def t(i, acc, it):
        ...     return Trial(f"t{i}", str(i), {}, "f", "", last_result={
        ...         "acc": acc, "training_iteration": it})
        >>> [x.trial_id for x in ranked_trials([t(0, 9, 5), t(1, 9, 3), t(2, 1, 1)], "acc", "max")]
        ['t1', 't0', 't2']
        >>> [x.trial_id for x in ranked_trials([t(0, 9, 5), t(2, 1, 1)], "acc", "min")]
        ['t2', 't0']
    """
    sign = -1.0 if mode == "max" else 1.0
    order = {id(trial): index for index, trial in enumerate(trials)}

    def key(trial: Trial) -> tuple:
        value = metric_value(trial, metric)
        if value is None:
            return (1, 0.0, 0, order[id(trial)])
        return (0, sign * value, trial.iteration, order[id(trial)])

    return sorted(trials, key=key)


def best_trial(trials: Sequence[Trial], metric: Optional[str], mode: str) -> Optional[Trial]:
    """The best trial that reported ``metric`` (see :func:`ranked_trials`), or None."""
    ranked = ranked_trials(trials, metric, mode)
    if not ranked or metric_value(ranked[0], metric) is None:
        return None
    return ranked[0]
