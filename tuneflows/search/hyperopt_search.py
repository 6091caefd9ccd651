"""Tree-structured Parzen Estimator search through hyperopt, asked and told by the flow.

:class:`HyperOptSearch` keeps its own ``hyperopt.Trials`` and calls ``tpe.suggest`` once per
suggestion (no ``fmin`` thread, no callback): the flow asks, the searcher answers, results are
written back into the trial documents. The space's conversion lives in
:mod:`~tuneflows.search.hyperopt_space`, the documents in
:mod:`~tuneflows.search.hyperopt_trials`.

References:
    Bergstra, Bardenet, Bengio, Kégl. *Algorithms for Hyper-Parameter Optimization*,
    NeurIPS 2011 (TPE).

Example:
    >>> from tuneflows.search import HyperOptSearch, uniform
    >>> s = HyperOptSearch({"x": uniform(-5, 5)}, metric="loss", mode="min",
    ...                    random_state_seed=0, n_initial_points=3)
    >>> for i in range(6):
    ...     cfg = s.suggest(str(i))
    ...     s.on_trial_complete(str(i), {"loss": (cfg["x"] - 1) ** 2})
    >>> sorted(s.best_result()) == ["config", "trial_id", "value"]
    True

Early-stopped trials (``result["early_stopped"]`` at :meth:`~HyperOptSearch.on_trial_complete`)
are observations at a lower budget (``budget_attr``), ranked after every finished trial
(:mod:`~tuneflows.search.early_stop_ranking`); without the flag a trial counts as finished.

Failures (``error=True``) are marked ``STATUS_FAIL`` / ``JOB_STATE_ERROR``: hyperopt then
leaves them out of the model; they are never scored. A NaN metric counts as a failure.

Running trials stay in ``Trials`` as hyperopt's parallel workers leave them: TPE counts them
as unfinished (infinite loss), which spreads concurrent suggestions.
"""

from __future__ import annotations

import copy
import math
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from tuneflows.model.metric_mode import validate_mode
from tuneflows.search.argument_checks import (
    metric_and_mode, result_metric, validate_max_concurrent, validate_positive_int,
    warn_if_mode_missing,
)
from tuneflows.search.early_stop_ranking import Observations, early_stopped_losses
from tuneflows.search.experiment_tags import format_vars
from tuneflows.search.hyperopt_space import HyperoptSpace
from tuneflows.search.hyperopt_state import best_settled, restored, settled_record, trial_maps
from tuneflows.search.hyperopt_trials import HyperoptTrials, mark_done, mark_failed
from tuneflows.model.append_only import AppendOnlyList
from tuneflows.model.plain_json import plain_data
from tuneflows.result import EARLY_STOPPED
from tuneflows.search.searcher import Searcher, Suggestion

__all__ = ["HyperOptSearch"]


class HyperOptSearch(Searcher):
    """TPE suggestions from hyperopt, asked and told one trial at a time.

    Args:
        space: The search space: a (nested) dict of hyperopt ``hp.*`` expressions, tuneflows
            primitives (converted to ``hp.*``), ``sample_from``/lambdas (resolved after TPE's
            choice, so they may read TPE's values) and constants; or one ``hp.*`` expression
            evaluating to a dict. None: taken from the experiment config by
            :meth:`set_search_properties`.
        metric: Result key to optimise.
        mode: ``"min"`` or ``"max"``.
        reward_attr: The seed's spelling: ``metric=reward_attr, mode="max"``.
        max_concurrent: At most this many trials running at once (``suggest`` returns None).
        points_to_evaluate: Configs to try first: dicts of config values (nested or ``"a/b"``
            keys; a ``choice`` takes the value itself). For native ``hp.*`` expressions give
            hyperopt's raw value keyed by its label, as ``fmin``'s ``points_to_evaluate``
            (an ``hp.choice`` takes the index).
        n_initial_points: Random suggestions before TPE models (hyperopt's ``n_startup_jobs``).
        random_state_seed: Seed of this searcher's RNG (TPE's seed per suggestion is drawn
            from it).
        gamma: TPE's quantile splitting good from bad observations.
        budget_attr: Result key measuring the budget of an early-stopped trial.
        n_ei_candidates: Candidates TPE scores by expected improvement per suggestion.
    """

    def __init__(
        self,
        space: Any = None,
        metric: Optional[str] = None,
        mode: Optional[str] = None,
        reward_attr: Optional[str] = None,
        max_concurrent: Optional[int] = None,
        points_to_evaluate: Optional[Sequence[Mapping[str, Any]]] = None,
        n_initial_points: int = 20,
        random_state_seed: Optional[int] = None,
        gamma: float = 0.25,
        budget_attr: str = "training_iteration",
        n_ei_candidates: int = 24,
    ):
        metric, mode = metric_and_mode(metric, mode, reward_attr)
        warn_if_mode_missing(metric, mode, type(self).__name__)
        validate_max_concurrent(max_concurrent, allow_none=True)
        validate_positive_int("n_initial_points", n_initial_points)
        if not 0 < gamma < 1:
            raise ValueError(f"gamma must be in (0, 1), got gamma={gamma!r}.")
        validate_positive_int("n_ei_candidates", n_ei_candidates)
        self.metric = metric
        self.mode = mode or "max"
        self._mode_given = mode is not None
        self.max_concurrent = max_concurrent
        self.n_initial_points = n_initial_points
        self.gamma = gamma
        self.budget_attr = budget_attr
        self.n_ei_candidates = n_ei_candidates
        self.random_state_seed = random_state_seed
        self._user_space = space
        self._user_points = [dict(p) for p in (points_to_evaluate or [])]
        self._space: Optional[HyperoptSpace] = None
        # Mutable state. TPE's seeds come from _rng as fmin draws them from its rstate.
        self._rng = np.random.default_rng(self.random_state_seed)
        self._entropy = int(np.random.SeedSequence(self.random_state_seed).entropy)
        self._documents = HyperoptTrials()
        self._configs: dict[str, dict] = {}
        self._tid: dict[str, int] = {}  # trial_id -> hyperopt tid
        self._live: set[str] = set()
        self._tags: dict[str, str] = {}
        self._last: dict[str, dict[str, Any]] = {}  # trial_id -> {metric, budget} last seen
        self._obs = Observations()  # tid -> what TPE learns from the trial
        self._settled = AppendOnlyList()  # a record a settled trial (hyperopt_state)
        self._points_done = 0
        self._stale = False
        if space is not None:
            self._build(space, {})

    def set_search_properties(self, metric: Optional[str], mode: Optional[str],
                              config: Optional[Mapping[str, Any]], **spec: Any) -> bool:
        """Takes metric, mode and space from the experiment when not given to the constructor.

        Constructor arguments win (they are configuration). With ``space`` given, the
        experiment config's other entries (constants, lambdas) are merged under it.
        """
        validate_mode(mode, allow_none=True)
        if self.metric is None and metric is not None:
            self.metric = metric
        if not self._mode_given and mode is not None:
            self.mode, self._mode_given = mode, True
        base = dict(config or {})
        if self._user_space is None:
            self._build(base, spec)
        else:
            self._build(self._user_space, spec, base)
        return True

    def _build(self, space: Any, spec: Mapping[str, Any],
               base: Optional[Mapping[str, Any]] = None) -> None:
        self._space = HyperoptSpace(space, base, spec)
        self._points = [self._space.point_vals(p, i) for i, p in enumerate(self._user_points)]

    def suggest(self, trial_id: str) -> Suggestion:
        if self._space is None:
            raise ValueError(
                "HyperOptSearch has no space: pass space= or let run_experiments call "
                "set_search_properties(metric, mode, config) with the experiment's config."
            )
        if self.metric is None:
            raise ValueError(
                "HyperOptSearch needs the metric to optimise: pass metric= and mode= "
                "(or the seed's reward_attr=)."
            )
        if self.max_concurrent is not None and len(self._live) >= self.max_concurrent:
            return None
        if trial_id in self._tid:
            raise ValueError(f"trial_id {trial_id!r} was already suggested.")
        from hyperopt import JOB_STATE_RUNNING, tpe

        tid = self._documents.new_tid()
        if self._points_done < len(self._points):
            docs = [self._documents.point_doc(tid, self._space.labels,
                                           self._points[self._points_done])]
            self._points_done += 1
        else:
            seed = int(self._rng.integers(2**31 - 1))
            docs = tpe.suggest(
                [tid], self._space.domain, self._tpe_trials(), seed,
                n_startup_jobs=self.n_initial_points, gamma=self.gamma,
                n_EI_candidates=self.n_ei_candidates, verbose=False,
            )
        self._documents.insert(docs)
        doc = self._documents.doc(tid)
        doc["state"] = JOB_STATE_RUNNING
        vals = {k: v[0] for k, v in doc["misc"]["vals"].items() if v}
        rng = np.random.default_rng([self._entropy, tid])  # for lambdas; apart from TPE's
        config, resolved = self._space.config_from_vals(vals, rng)
        self._configs[trial_id] = plain_data(copy.deepcopy(config))
        self._tid[trial_id] = tid
        self._live.add(trial_id)
        self._tags[trial_id] = format_vars(resolved)
        return config

    def on_trial_result(self, trial_id: str, result: Mapping[str, Any]) -> None:
        if trial_id not in self._tid:
            return  # added externally: not tracked (as the seed's HyperOptScheduler)
        self._last[trial_id] = {"value": self._metric_value(trial_id, result),
                                "budget": result.get(self.budget_attr)}

    def _metric_value(self, trial_id: str, result: Mapping[str, Any]) -> float:
        return result_metric(self.metric, trial_id, result, "HyperOptSearch")

    def on_trial_complete(self, trial_id: str, result: Optional[Mapping[str, Any]] = None,
                          error: bool = False) -> None:
        if trial_id not in self._tid:
            return
        self._stale = self._stale or trial_id not in self._live  # a trial run again: refresh
        self._live.discard(trial_id)
        tid = self._tid[trial_id]
        doc, last = self._documents.doc(tid), self._last.pop(trial_id, None)
        value, budget = None, None
        if not error:
            if result is not None and self.metric in result:
                value, budget = self._metric_value(trial_id, result), result.get(self.budget_attr)
            elif last is not None:
                value, budget = last["value"], last["budget"]
            elif result is not None:
                self._metric_value(trial_id, result)  # raises, naming the keys it reported
        observation = None
        if value is None or math.isnan(value):
            mark_failed(doc, "error" if error else "no metric value")
            self._stale = True  # it leaves what TPE reads at a refresh, a walk over all
        else:  # a completed document stays in what TPE reads: no refresh
            partial = bool(result and result.get(EARLY_STOPPED))
            observation = self._obs[tid] = mark_done(doc, value, self.mode, budget, partial)
        self._settled.append(settled_record(doc, trial_id, self._configs[trial_id],
                                            self._tags[trial_id], observation))

    def add_evaluated_trial(self, config: Mapping[str, Any], result: Mapping[str, Any]) -> bool:
        """Adds a trial evaluated elsewhere to the documents TPE reads, as a completed (or,
        with ``result["early_stopped"]``, early-stopped) observation counting toward
        ``n_initial_points``. ValueError: no space or metric yet, or none in ``result``.

        Example:
            >>> from tuneflows.search import uniform
            >>> s = HyperOptSearch({"x": uniform(0, 1)}, metric="loss", mode="min")
            >>> s.add_evaluated_trial({"x": 0.3}, {"loss": 0.1}), s.add_evaluated_trial(
            ...     {"y": 0.3}, {"loss": 0.1})  # the second is not a config of this space
            (True, False)
        """
        if self._space is None or self.metric is None:
            raise ValueError("add_evaluated_trial needs the space and metric: call it after "
                             "set_search_properties (or pass space=, metric= and mode=).")
        vals = self._space.observed_vals(config)
        if vals is None:
            return False
        value = self._metric_value("<evaluated before>", result)
        if math.isnan(value):
            return False
        tid = self._documents.new_tid()
        doc = self._documents.point_doc(tid, self._space.labels, vals)
        seen = mark_done(doc, value, self.mode, result.get(self.budget_attr),
                         bool(result.get(EARLY_STOPPED)))
        self._documents.insert([doc])
        self._obs[tid] = seen
        self._settled.append(settled_record(self._documents.doc(tid), None, None, None, seen))
        return True

    def _tpe_trials(self) -> Any:
        """The ``hyperopt.Trials`` TPE reads: refreshed if a trial failed since, and the
        early-stopped trials' pseudo-losses in their documents (in a new ``result``: the
        settled record keeps the one the trial ended with)."""
        if self._stale:
            self._documents.refresh()
            self._stale = False
        for tid, loss in early_stopped_losses(self._obs).items():
            doc = self._documents.doc(tid)
            if doc["result"]["loss"] != loss:
                doc["result"] = {**doc["result"], "loss": loss}
        return self._documents.trials

    def experiment_tag(self, trial_id: str) -> str:
        return self._tags.get(trial_id, "")

    def best_result(self) -> Optional[dict[str, Any]]:
        """The finished (not early-stopped) trial with the best metric, or None."""
        best = best_settled(self._settled)
        if best is None:
            return None
        return {"trial_id": best.trial_id, "value": best.result["metric_value"],
                "config": copy.deepcopy(best.config)}

    def get_state(self) -> dict[str, Any]:
        """Mutable state as plain data that survives JSON (int keys become strings): the
        settled trials' records (:mod:`~tuneflows.search.hyperopt_state`), the rest."""
        live = {trial_id: self._tid[trial_id] for trial_id in sorted(self._live)}
        return {"settled": AppendOnlyList(self._settled), **plain_data({
            "live_docs": [self._documents.doc(tid) for tid in live.values()],
            "allocated": self._documents.allocated,
            "rng": self._rng.bit_generator.state,
            "entropy": self._entropy,
            "live": live,
            "configs": {trial_id: self._configs[trial_id] for trial_id in live},
            "tags": {trial_id: self._tags[trial_id] for trial_id in live},
            "last": self._last,
            "points_done": self._points_done,
        })}

    def set_state(self, state: Mapping[str, Any]) -> None:
        state, settled = restored(copy.deepcopy(dict(state)))
        self._documents = HyperoptTrials.from_state(
            [(s.tid, s.misc, s.result) for s in settled], state["live_docs"],
            int(state["allocated"]))
        self._rng = np.random.default_rng()
        self._rng.bit_generator.state = state["rng"]
        self._entropy = int(state["entropy"])
        self._settled = AppendOnlyList(state["settled"])
        self._live = set(state["live"])
        self._tid, self._configs, self._tags = trial_maps(settled, state)
        self._last = dict(state["last"])
        self._obs = Observations((s.tid, s.observation) for s in settled
                                 if s.observation is not None)
        self._points_done = int(state["points_done"])
