"""The pure searcher interface: where new trial configurations come from."""

from __future__ import annotations

import copy
from typing import Any, Mapping, Optional, Union

from tuneflows.model.settings import SETTINGS_ATTR, KeepsSettings

FINISHED = "FINISHED"

Suggestion = Union[dict[str, Any], None, str]


class Searcher(KeepsSettings):
    """Base class of search algorithms.

    A searcher proposes configurations and learns from results. It is pure (no Ray,
    Prefect, MLflow or files), owns a seeded RNG and round-trips its state through
    :meth:`get_state` / :meth:`set_state`.

    The flow calls :meth:`suggest` whenever a slot is free, :meth:`on_trial_result` for
    every result, and :meth:`on_trial_complete` once per trial (``error=True`` when it
    failed: a failure is never reported as a score).
    """

    FINISHED = FINISHED

    metric: Optional[str] = None
    mode: str = "max"
    #: Its suggestions do not depend on results (a grid): the controller adds its trials
    #: PENDING ahead of free slots, so displays and clients see the plan.
    plans_ahead: bool = False

    def suggest(self, trial_id: str) -> Suggestion:
        """Proposes the configuration of a new trial.

        Args:
            trial_id: The id the flow will give the trial.

        Returns:
            A resolved config dict; None when no suggestion can be made now (e.g. a
            concurrency limit); or ``Searcher.FINISHED`` when the search is exhausted.
        """
        raise NotImplementedError

    def on_trial_result(self, trial_id: str, result: Mapping[str, Any]) -> None:
        """Called with each intermediate result of a suggested trial."""

    def on_trial_complete(
        self, trial_id: str, result: Optional[Mapping[str, Any]] = None, error: bool = False
    ) -> None:
        """Called once when a suggested trial ends.

        Args:
            trial_id: The trial.
            result: Its last result (also for trials a scheduler stopped early).
            error: True when the trial failed; ``result`` must not be used as a score.
        """

    def add_evaluated_trial(self, config: Mapping[str, Any], result: Mapping[str, Any]) -> bool:
        """Tells the searcher of a trial evaluated elsewhere (e.g. by the previous run of
        the experiment), as if it had suggested and completed it: a model-based searcher
        conditions on it; it is not run again. ``result`` holds the metric (and
        ``early_stopped`` when a scheduler ended that trial early).

        Call it after :meth:`set_search_properties` and before the first suggestion.

        Returns:
            True if the searcher learned from it; False if it ignores it (as the base
            class and searchers that do not learn from results) or the config does not
            fit its search space.
        """
        return False

    def set_search_properties(
        self, metric: Optional[str], mode: Optional[str], config: Optional[Mapping[str, Any]],
        **spec: Any,
    ) -> bool:
        """Gives the searcher the experiment's metric, mode and config before any suggestion.

        The flow calls this for a user-supplied searcher. Arguments the searcher was
        constructed with win (they are configuration).

        Args:
            metric: Result key to optimise (None if the experiment does not say).
            mode: "min" or "max" (None if the experiment does not say).
            config: The experiment's config (its search space, for searchers built without one).
            **spec: Other spec entries (``stop``, ``run``...) that lambdas may read.

        Returns:
            True if the searcher used them; False if it ignores them (as the base class).
        """
        return False

    def experiment_tag(self, trial_id: str) -> str:
        """Short description of the values varied for ``trial_id`` (e.g. ``"lr=0.2"``)."""
        return ""

    @property
    def total_trials(self) -> Optional[int]:
        """How many trials this searcher will suggest in all, if known."""
        return None

    def get_state(self) -> dict[str, Any]:
        """Mutable state for resume (not constructor configuration)."""
        return copy.deepcopy({k: v for k, v in self.__dict__.items() if k != SETTINGS_ATTR})

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Restores state produced by :meth:`get_state`."""
        self.__dict__.update(copy.deepcopy(dict(state)))
