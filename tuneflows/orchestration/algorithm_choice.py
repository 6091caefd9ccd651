"""The scheduler and searcher an experiment runs with, from objects or from names (YAML,
CLI, deployment parameters); a name is built with the experiment's metric and mode."""

from __future__ import annotations

import inspect
from typing import Any, Mapping, Optional, Sequence, Union

from tuneflows.model.by_name import registered_class
from tuneflows.model.metric_mode import validate_mode
from tuneflows.schedulers import (
    SCHEDULERS, AsyncHyperBandScheduler, FIFOScheduler, TrialScheduler, create_scheduler,
)
from tuneflows.search import SEARCHERS, create_searcher
from tuneflows.search.concurrency import TrialLimiter
from tuneflows.search.config_validation import validate_config
from tuneflows.search.argument_checks import warn_if_mode_missing
from tuneflows.search.searcher import Searcher
from tuneflows.search.variant_generator import BasicVariantGenerator
from tuneflows.spec import Experiment

def check_metric_and_mode(metric: Optional[str], mode: Optional[str]) -> None:
    """Rejects a bad ``metric`` / ``mode`` pair with a message naming the value.

    Example:
        >>> check_metric_and_mode("loss", "min")
        >>> check_metric_and_mode("loss", "down")
        Traceback (most recent call last):
        ...
        ValueError: mode must be 'max' or 'min', got mode='down'.
    """
    if metric is not None and (not isinstance(metric, str) or not metric):
        raise ValueError(f"metric must be a result key, got {metric!r}.")
    validate_mode(mode, allow_none=True)
    if mode is not None and metric is None:
        raise ValueError(f"mode={mode!r} was given without a metric; pass metric= too.")


def _with_metric(kind: str, name: str, cls: type, metric: Optional[str],
                 mode: Optional[str]) -> dict[str, Any]:
    """The metric and mode keyword arguments a class named ``name`` takes."""
    params = inspect.signature(cls.__init__).parameters
    if "metric" not in params:
        return {}
    if metric is None:
        raise ValueError(
            f"{kind} {name!r} needs the result key to optimise: pass metric=... and "
            f"mode='max'|'min' to run_experiments (CLI: --metric/--mode; a deployment: "
            f"its metric and mode parameters).")
    warn_if_mode_missing(metric, mode, f"{kind} {name!r} with run_experiments", stacklevel=5)
    return {"metric": metric, "mode": mode or "max"}


#: ASHA's ``max_t`` by name when the spec sets no limit on its time attribute: no trial is
#: cut at a ``max_t`` the spec never asked for (its rungs go on: 10, 30, 90, ...).
UNBOUNDED_MAX_T = 10 ** 9


def resolve_scheduler(scheduler: Union[TrialScheduler, str, None], metric: Optional[str] = None,
                      mode: Optional[str] = None,
                      stops: Sequence[Optional[Mapping[str, Any]]] = ()) -> TrialScheduler:
    """The scheduler object: as given, FIFO for None, or built by name with
    ``metric`` and ``mode``; ASHA by name never cuts a trial at a default ``max_t`` the
    experiments' ``stops`` did not ask for (:func:`_asha_max_t`).

    Example:
        >>> resolve_scheduler("asha", metric="acc", mode="max").metric
        'acc'
        >>> resolve_scheduler("asha")
        Traceback (most recent call last):
        ...
        ValueError: scheduler 'asha' needs the result key to optimise: pass metric=... and mode='max'|'min' to run_experiments (CLI: --metric/--mode; a deployment: its metric and mode parameters).
    """
    check_metric_and_mode(metric, mode)
    if scheduler is None:
        return FIFOScheduler()
    if isinstance(scheduler, str):
        cls = registered_class(SCHEDULERS, scheduler)
        kwargs = _with_metric("scheduler", scheduler, cls, metric, mode) if cls else {}
        if cls is AsyncHyperBandScheduler:
            kwargs["max_t"] = _asha_max_t(stops)
        return create_scheduler(scheduler, **kwargs)
    if isinstance(scheduler, TrialScheduler):
        return scheduler
    raise ValueError(f"scheduler must be a TrialScheduler or a scheduler name, got {scheduler!r}.")


def _asha_max_t(stops: Sequence[Optional[Mapping[str, Any]]]) -> float:
    """ASHA's ``max_t`` by name: its default (100), or the experiments' largest
    ``training_iteration`` stop when that is larger, so ASHA never cuts a trial before
    its own stop does; with no such stop in some experiment, :data:`UNBOUNDED_MAX_T`.

    Example:
        >>> _asha_max_t([{"training_iteration": 300}]), _asha_max_t([{"training_iteration": 9}])
        (300, 100)
        >>> _asha_max_t([{"mean_accuracy": 99}]) == UNBOUNDED_MAX_T
        True
    """
    default = inspect.signature(AsyncHyperBandScheduler).parameters["max_t"].default
    limits = [stop.get("training_iteration") if isinstance(stop, Mapping) else None
              for stop in stops]
    if limits and all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0
                      for v in limits):
        return max(default, *limits)
    return UNBOUNDED_MAX_T


def resolve_search_alg(search_alg: Union[Searcher, str, None], metric: Optional[str] = None,
                       mode: Optional[str] = None,
                       points_to_evaluate: Optional[list] = None) -> Optional[Searcher]:
    """The searcher object: as given, or built by name with ``metric``, ``mode`` and
    ``points_to_evaluate`` (its search space then comes from the experiment's config).

    Raises:
        ValueError: A bad name, no metric for a searcher that needs one, or
            ``points_to_evaluate`` for a searcher object (give them to its constructor)
            or one that takes none.
    """
    if isinstance(search_alg, str):
        cls = registered_class(SEARCHERS, search_alg)
        if cls is BasicVariantGenerator:
            return None  # the default generator, built per experiment
        kwargs = _with_metric("search algorithm", search_alg, cls, metric, mode) if cls else {}
        if points_to_evaluate:
            if cls is not None and "points_to_evaluate" not in inspect.signature(cls).parameters:
                raise ValueError(f"points_to_evaluate: search algorithm {search_alg!r} takes "
                                 f"no points to evaluate.")
            kwargs["points_to_evaluate"] = points_to_evaluate
        return create_searcher(search_alg, **kwargs)
    if search_alg is not None and points_to_evaluate:
        raise ValueError(f"points_to_evaluate in the spec goes to the default generator or a "
                         f"searcher named by string; pass points_to_evaluate= to "
                         f"{type(search_alg).__name__}(...) instead.")
    if search_alg is not None and not isinstance(search_alg, Searcher):
        raise ValueError(f"search_alg must be a Searcher or a searcher name, got {search_alg!r}.")
    return search_alg


def make_searcher(exp: Experiment, scheduler: TrialScheduler, search_alg: Optional[Searcher],
                  metric: Optional[str] = None, mode: Optional[str] = None) -> Searcher:
    """The searcher of one experiment: ``search_alg`` told the experiment's metric,
    mode and config; else the scheduler's own (``HyperOptScheduler``); else the
    grid × samples generator."""
    if search_alg is not None:
        search_alg.set_search_properties(
            metric or scheduler.metric, mode or scheduler.mode, exp.config,
            stop=exp.stop, run=exp.trainable_name, num_samples=exp.num_samples,
        )
        if search_alg.total_trials is None:
            return TrialLimiter(search_alg, exp.num_samples)
        return search_alg
    searcher = scheduler.make_searcher(exp.config, exp.num_samples)
    if searcher is not None:
        if exp.points_to_evaluate:
            raise ValueError(f"Experiment {exp.name!r}: points_to_evaluate is not taken by "
                             f"{type(scheduler).__name__}'s own searcher.")
        return searcher
    validate_config(exp.config)
    return BasicVariantGenerator(exp.config, num_samples=exp.num_samples,
                                 points_to_evaluate=exp.points_to_evaluate)
