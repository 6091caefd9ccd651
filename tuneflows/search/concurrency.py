"""Wrappers limiting how many trials a searcher runs: at once, and in all."""

from __future__ import annotations

from typing import Any, Mapping, Optional

from tuneflows.search.argument_checks import validate_max_concurrent, validate_positive_int
from tuneflows.search.searcher import FINISHED, Searcher, Suggestion

__all__ = ["ConcurrencyLimiter", "TrialLimiter", "searcher_name", "without_trial_limit"]


class _Wrapper(Searcher):
    def __init__(self, searcher: Searcher):
        if not isinstance(searcher, Searcher):
            raise ValueError(f"searcher must be a tuneflows Searcher, got {searcher!r}.")
        self.searcher = searcher

    @property
    def metric(self) -> Optional[str]:  # type: ignore[override]
        return self.searcher.metric

    @property
    def mode(self) -> str:  # type: ignore[override]
        return self.searcher.mode

    def on_trial_result(self, trial_id: str, result: Mapping[str, Any]) -> None:
        self.searcher.on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: Optional[Mapping[str, Any]] = None,
                          error: bool = False) -> None:
        self.searcher.on_trial_complete(trial_id, result, error)

    def set_search_properties(self, metric: Optional[str], mode: Optional[str],
                              config: Optional[Mapping[str, Any]], **spec: Any) -> bool:
        return self.searcher.set_search_properties(metric, mode, config, **spec)

    def add_evaluated_trial(self, config: Mapping[str, Any], result: Mapping[str, Any]) -> bool:
        return self.searcher.add_evaluated_trial(config, result)

    def experiment_tag(self, trial_id: str) -> str:
        return self.searcher.experiment_tag(trial_id)

    @property
    def total_trials(self) -> Optional[int]:
        return self.searcher.total_trials

    def __getattr__(self, name: str) -> Any:  # e.g. best_result of the wrapped searcher
        if name == "searcher":
            raise AttributeError(name)
        return getattr(self.searcher, name)


class ConcurrencyLimiter(_Wrapper):
    """At most ``max_concurrent`` suggested trials unfinished at once.

    ``suggest`` returns None (not now) while the limit is reached; the flow asks again
    when a trial completes.

    Example:
        >>> from tuneflows.search import BasicVariantGenerator, grid_search
        >>> s = ConcurrencyLimiter(BasicVariantGenerator({"a": grid_search([1, 2, 3])}), 2)
        >>> s.suggest("0"), s.suggest("1"), s.suggest("2")
        ({'a': 1}, {'a': 2}, None)
    """

    def __init__(self, searcher: Searcher, max_concurrent: int):
        super().__init__(searcher)
        self.max_concurrent = validate_max_concurrent(max_concurrent, allow_none=False)
        self._live: set[str] = set()

    def suggest(self, trial_id: str) -> Suggestion:
        if len(self._live) >= self.max_concurrent:
            return None
        suggestion = self.searcher.suggest(trial_id)
        if isinstance(suggestion, dict):
            self._live.add(trial_id)
        return suggestion

    def on_trial_complete(self, trial_id: str, result: Optional[Mapping[str, Any]] = None,
                          error: bool = False) -> None:
        self._live.discard(trial_id)
        self.searcher.on_trial_complete(trial_id, result, error)

    def get_state(self) -> dict[str, Any]:
        return {"live": sorted(self._live), "searcher": self.searcher.get_state()}

    def set_state(self, state: Mapping[str, Any]) -> None:
        self._live = set(state["live"])
        self.searcher.set_state(state["searcher"])


class TrialLimiter(_Wrapper):
    """FINISHED after ``max_trials`` suggestions (``num_samples`` for open-ended searchers).

    Example:
        >>> from tuneflows.search import BasicVariantGenerator
        >>> s = TrialLimiter(BasicVariantGenerator({}, num_samples=5), 2)
        >>> s.suggest("0"), s.suggest("1"), s.suggest("2"), s.total_trials
        ({}, {}, 'FINISHED', 2)
    """

    def __init__(self, searcher: Searcher, max_trials: int):
        super().__init__(searcher)
        self.max_trials = validate_positive_int("max_trials", max_trials)
        self._count = 0

    def suggest(self, trial_id: str) -> Suggestion:
        if self._count >= self.max_trials:
            return FINISHED
        suggestion = self.searcher.suggest(trial_id)
        if isinstance(suggestion, dict):
            self._count += 1
        return suggestion

    @property
    def total_trials(self) -> Optional[int]:
        inner = self.searcher.total_trials
        return self.max_trials if inner is None else min(inner, self.max_trials)

    def get_state(self) -> dict[str, Any]:
        return {"count": self._count, "searcher": self.searcher.get_state()}

    def set_state(self, state: Mapping[str, Any]) -> None:
        self._count = int(state["count"])
        self.searcher.set_state(state["searcher"])


def searcher_name(searcher: Searcher) -> str:
    """The searcher's name as Prefect and MLflow show it: a :class:`TrialLimiter`
    (which ``run_experiments`` adds for ``num_samples``) is not named, a
    :class:`ConcurrencyLimiter` names what it wraps.

    Example:
        >>> from tuneflows.search import BasicVariantGenerator
        >>> searcher_name(TrialLimiter(ConcurrencyLimiter(BasicVariantGenerator({}), 2), 9))
        'ConcurrencyLimiter(BasicVariantGenerator)'
    """
    searcher = without_trial_limit(searcher)
    if isinstance(searcher, ConcurrencyLimiter):
        return f"ConcurrencyLimiter({searcher_name(searcher.searcher)})"
    return type(searcher).__name__


def without_trial_limit(searcher: Searcher) -> Searcher:
    """The searcher under the :class:`TrialLimiter` ``run_experiments`` added, if any:
    what a user chose, for its settings on the MLflow parent run.

    Example:
        >>> from tuneflows.search import BasicVariantGenerator
        >>> type(without_trial_limit(TrialLimiter(BasicVariantGenerator({}), 3))).__name__
        'BasicVariantGenerator'
    """
    while isinstance(searcher, TrialLimiter):
        searcher = searcher.searcher
    return searcher
