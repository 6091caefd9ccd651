"""Tree-structured Parzen Estimator search through hyperopt, asked and told by the flow.

:class:`HyperOptSearch` keeps its own ``hyperopt.Trials`` and calls ``tpe.suggest`` once per
suggestion (no ``fmin`` thread, no callback): the flow asks, the searcher answers, results are
written back into the trial documents.

References:
    Bergstra, Bardenet, Bengio, Kégl. *Algorithms for Hyper-Parameter Optimization*,
    NeurIPS 2011 (TPE). Falkner, Klein, Hutter. *BOHB: Robust and Efficient Hyperparameter
    Optimization at Scale*, ICML 2018 (learning from trials stopped at lower budgets).

Example:
    >>> from tuneflows.search import HyperOptSearch, uniform
    >>> s = HyperOptSearch({"x": uniform(-5, 5)}, metric="loss", mode="min",
    ...                    random_state_seed=0, n_initial_points=3)
    >>> for i in range(6):
    ...     cfg = s.suggest(str(i))
    ...     s.on_trial_complete(str(i), {"loss": (cfg["x"] - 1) ** 2})
    >>> sorted(s.best_result()) == ["config", "trial_id", "value"]
    True

Early-stopped trials (the BOHB idea, simplified). When a scheduler (ASHA, HyperBand, median
stopping) ends a trial early, the flow passes its last result to :meth:`on_trial_complete`
with ``result["early_stopped"] = True`` (``searcher.EARLY_STOPPED``). That result is an
observation at a *lower budget* (``budget_attr``, default ``training_iteration``), not a final
score. TPE only uses the *order* of losses (it splits observations at the ``gamma`` quantile),
so this searcher ranks observations as successive halving does: every finished trial ranks
above every early-stopped one; early-stopped trials rank by the budget they reached (a trial
promoted further is better), then by their metric at that budget. Finished trials keep their
true loss; early-stopped ones get pseudo-losses above the worst finished loss, in that order.
Stopped trials thus feed the model (mostly into TPE's "bad" density, as successive halving
judged them) instead of being dropped or mistaken for finished results. Without the flag every
completed trial counts as finished (Ray Tune's behaviour).

Failures (``error=True``) are marked ``STATUS_FAIL`` / ``JOB_STATE_ERROR``: hyperopt then
leaves them out of the model; they are never scored. A NaN metric counts as a failure.

Running trials stay in the ``Trials`` object as hyperopt's own parallel workers leave them:
TPE counts them as unfinished (infinite loss), which spreads concurrent suggestions.
"""

from __future__ import annotations

import copy
import math
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from tuneflows.search.config_values import is_grid_dict
from tuneflows.search.domains import (
    Choice,
    Domain,
    GridSearch,
    LogUniform,
    QLogUniform,
    QUniform,
    RandInt,
    RandN,
    SampleFrom,
    Uniform,
)
from tuneflows.search.searcher import EARLY_STOPPED, Searcher, Suggestion
from tuneflows.search.config_paths import flatten_points, format_path
from tuneflows.search.experiment_tags import format_vars
from tuneflows.search.spec_resolver import resolve_config

__all__ = ["HyperOptSearch", "to_hyperopt"]


def _objective(_: Any) -> float:  # the Domain's fn: never called (no fmin)
    raise RuntimeError("HyperOptSearch never evaluates the objective itself")


def _is_hp(value: Any) -> bool:
    from hyperopt import pyll

    return isinstance(value, pyll.Apply)


def _native_label(expr: Any) -> Optional[str]:
    """Label of the first ``hyperopt_param`` under an ``hp.*`` expression (its own label)."""
    if expr is None or not _is_hp(expr):
        return None
    todo, seen = [expr], set()
    while todo:
        node = todo.pop(0)
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.name == "hyperopt_param":
            return node.pos_args[0].obj
        todo.extend(node.inputs())
    return None


def to_hyperopt(domain: Domain, label: str) -> Any:
    """Converts a tuneflows domain to the equivalent ``hp.*`` expression.

    Raises:
        ValueError: for ``grid_search`` (TPE samples, it does not enumerate) naming ``label``.
    """
    from hyperopt import hp

    if isinstance(domain, GridSearch):
        raise ValueError(
            f"grid_search at {label!r} cannot be used with HyperOptSearch: TPE samples values, "
            f"it does not enumerate a grid. Use choice({domain.values!r}) instead."
        )
    if isinstance(domain, QLogUniform):
        return hp.qloguniform(label, math.log(domain.low), math.log(domain.high), domain.q)
    if isinstance(domain, LogUniform):
        return hp.loguniform(label, math.log(domain.low), math.log(domain.high))
    if isinstance(domain, QUniform):
        return hp.quniform(label, domain.low, domain.high, domain.q)
    if isinstance(domain, Uniform):
        return hp.uniform(label, domain.low, domain.high)
    if isinstance(domain, RandInt):
        return hp.randint(label, domain.low, domain.high)
    if isinstance(domain, RandN):
        return hp.normal(label, domain.mean, domain.sd)
    if isinstance(domain, Choice):
        return hp.choice(
            label, [_convert_tree(c, f"{label}/{i}", {}) for i, c in enumerate(domain.categories)]
        )
    raise ValueError(f"{type(domain).__name__} at {label!r} has no hyperopt equivalent.")


def _convert_tree(value: Any, label: str, post: dict) -> Any:
    """Converts domains nested in a choice category (dicts and lists)."""
    if _is_hp(value):
        return value
    if is_grid_dict(value):
        value = GridSearch(value["grid_search"])
    if isinstance(value, Domain) and not isinstance(value, SampleFrom):
        return to_hyperopt(value, label)
    if isinstance(value, Mapping):
        return {k: _convert_tree(v, f"{label}/{k}", post) for k, v in value.items()}
    if isinstance(value, list):
        return [_convert_tree(v, f"{label}/{i}", post) for i, v in enumerate(value)]
    return value


def _plain(value: Any) -> Any:
    """Deep copy with numpy scalars turned into Python ones."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return copy.deepcopy(value)


def _deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict:
    out = dict(base)
    for k, v in top.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) \
                and not is_grid_dict(v) and not is_grid_dict(out[k]):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


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
        if mode is not None and mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got mode={mode!r}.")
        if reward_attr is not None:
            if metric is not None and metric != reward_attr:
                raise ValueError(
                    f"give metric or reward_attr, not both: metric={metric!r}, "
                    f"reward_attr={reward_attr!r}."
                )
            if mode == "min":
                raise ValueError(
                    f"reward_attr={reward_attr!r} is maximised; use metric= with mode='min'."
                )
            metric, mode = reward_attr, "max"
        if max_concurrent is not None and (
            isinstance(max_concurrent, bool) or not isinstance(max_concurrent, int)
            or max_concurrent < 1
        ):
            raise ValueError(f"max_concurrent must be None or an int >= 1, got {max_concurrent!r}.")
        if isinstance(n_initial_points, bool) or not isinstance(n_initial_points, int) \
                or n_initial_points < 1:
            raise ValueError(f"n_initial_points must be an int >= 1, got {n_initial_points!r}.")
        if not 0 < gamma < 1:
            raise ValueError(f"gamma must be in (0, 1), got gamma={gamma!r}.")
        if not isinstance(n_ei_candidates, int) or n_ei_candidates < 1:
            raise ValueError(f"n_ei_candidates must be an int >= 1, got {n_ei_candidates!r}.")
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
        self._base_config: Mapping[str, Any] = {}
        self._spec: Mapping[str, Any] = {}
        self._domain = None
        self._reset_state()
        if space is not None:
            self._build(space, {})

    # ---- configuration ------------------------------------------------------------------

    def _reset_state(self) -> None:
        from hyperopt import Trials

        # TPE's per-suggestion seeds come from _rng exactly as fmin draws them from its
        # rstate, so a seeded HyperOptSearch follows fmin(rstate=default_rng(seed)).
        self._rng = np.random.default_rng(self.random_state_seed)
        self._entropy = int(np.random.SeedSequence(self.random_state_seed).entropy)
        self._trials = Trials()
        self._configs: dict[str, dict] = {}
        self._tid: dict[str, int] = {}  # trial_id -> hyperopt tid
        self._live: set[str] = set()
        self._tags: dict[str, str] = {}
        self._last: dict[str, dict[str, Any]] = {}  # trial_id -> {metric, budget} last seen
        self._obs: dict[int, tuple[float, bool, float]] = {}  # tid -> (loss, partial, budget)
        self._points_done = 0

    def set_search_properties(self, metric: Optional[str], mode: Optional[str],
                              config: Optional[Mapping[str, Any]], **spec: Any) -> bool:
        """Takes metric, mode and space from the experiment when not given to the constructor.

        Constructor arguments win (they are configuration). With ``space`` given, the
        experiment config's other entries (constants, lambdas) are merged under it.
        """
        if mode is not None and mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got mode={mode!r}.")
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
        from hyperopt import Domain

        self._spec = dict(spec or {})
        self._flat: dict[str, Any] = {}  # path string -> hp expression
        self._paths: dict[str, tuple] = {}  # path string -> path tuple
        self._domains: dict[str, Domain] = {}  # path string -> tuneflows domain (post-process)
        if isinstance(space, Mapping) and not is_grid_dict(space):
            self._root_expr = None
            self._template = _deep_merge(base or {}, space)
            self._collect(self._template, ())
        elif _is_hp(space):
            self._root_expr = space
            self._template = dict(base or {})
            self._flat[""] = space
            self._collect(self._template, ())
        else:
            raise ValueError(
                f"HyperOptSearch space must be a dict or an hp.* expression, got {space!r}."
            )
        if not self._flat:
            raise ValueError(
                "HyperOptSearch space has nothing to search: give hp.* expressions or "
                "tuneflows primitives (uniform, loguniform, choice, ...)."
            )
        self._domain = Domain(_objective, self._flat)
        self._points = [self._point_vals(p, i) for i, p in enumerate(self._user_points)]

    def _collect(self, value: Any, path: tuple) -> None:
        where = format_path(path)
        if _is_hp(value):
            self._flat[where] = value
            self._paths[where] = path
        elif is_grid_dict(value) or isinstance(value, GridSearch):
            to_hyperopt(GridSearch(value["grid_search"]) if is_grid_dict(value) else value, where)
        elif isinstance(value, Domain) and not isinstance(value, SampleFrom):
            self._flat[where] = to_hyperopt(value, where)
            self._paths[where] = path
            self._domains[where] = value
        elif isinstance(value, Mapping):
            for k, v in value.items():
                self._collect(v, path + (k,))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                self._collect(v, path + (i,))

    def _point_vals(self, point: Mapping[str, Any], i: int) -> dict[str, Any]:
        """A point to evaluate as hyperopt ``vals`` (label -> raw value)."""
        labels = set(self._domain.params)
        vals: dict[str, Any] = {}
        for key, v in point.items():  # native labels given directly
            if key in labels and key not in self._domains:
                vals[key] = v
        for path, v in flatten_points(
                {k: v for k, v in point.items() if k not in vals}, self._template).items():
            where = format_path(path)
            dom = self._domains.get(where)
            if dom is None:
                label = where if where in labels else _native_label(self._flat.get(where))
                if label in labels:
                    vals[label] = v
                    continue
                raise ValueError(
                    f"points_to_evaluate[{i}] sets {where!r}, which is not a searched "
                    f"parameter; searched: {sorted(self._domains) or sorted(labels)}."
                )
            if isinstance(dom, Choice):
                matches = [j for j, c in enumerate(dom.categories) if c == v]
                if not matches:
                    raise ValueError(
                        f"points_to_evaluate[{i}][{where!r}]={v!r} is not one of the choices "
                        f"{dom.categories!r}."
                    )
                v = matches[0]
            vals[where] = v
        missing = [p for p in self._domains if p not in vals]
        if missing:
            raise ValueError(f"points_to_evaluate[{i}] misses {missing}; give every parameter.")
        return vals

    # ---- the searcher interface --------------------------------------------------------

    def suggest(self, trial_id: str) -> Suggestion:
        if self._domain is None:
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

        trials = self._trials
        tid = trials.new_trial_ids(1)[0]
        if self._points_done < len(self._points):
            docs = [self._point_doc(tid, self._points[self._points_done])]
            self._points_done += 1
        else:
            self._rank_losses()
            trials.refresh()
            seed = int(self._rng.integers(2**31 - 1))
            docs = tpe.suggest(
                [tid], self._domain, trials, seed,
                n_startup_jobs=self.n_initial_points, gamma=self.gamma,
                n_EI_candidates=self.n_ei_candidates, verbose=False,
            )
        trials.insert_trial_docs(docs)
        trials.refresh()
        doc = self._doc(tid)
        doc["state"] = JOB_STATE_RUNNING
        vals = {k: v[0] for k, v in doc["misc"]["vals"].items() if v}
        config, resolved = self._config_from_vals(vals, tid)
        self._configs[trial_id] = copy.deepcopy(config)
        self._tid[trial_id] = tid
        self._live.add(trial_id)
        self._tags[trial_id] = format_vars(resolved)
        return config

    def _point_doc(self, tid: int, vals: Mapping[str, Any]) -> dict:
        labels = list(self._domain.params)
        misc = {
            "tid": tid,
            "cmd": ("domain_attachment", "FMinIter_Domain"),
            "workdir": None,
            "idxs": {k: ([tid] if k in vals else []) for k in labels},
            "vals": {k: ([vals[k]] if k in vals else []) for k in labels},
        }
        return self._trials.new_trial_docs([tid], [None], [{"status": "new"}], [misc])[0]

    def _config_from_vals(self, vals: Mapping[str, Any], tid: int) -> tuple[dict, dict]:
        from hyperopt import space_eval

        values = space_eval(self._flat, dict(vals))
        fixed: dict[tuple, Any] = {}
        for where, v in values.items():
            if where == "":
                if not isinstance(v, Mapping):
                    raise ValueError(
                        f"the HyperOptSearch space evaluates to {v!r}; it must give a dict."
                    )
                for k, vv in v.items():
                    fixed[(k,)] = vv
                continue
            dom = self._domains.get(where)
            if isinstance(dom, RandInt):
                v = int(v)
            elif isinstance(dom, (Uniform, QUniform, LogUniform)):
                v = dom.quantize(float(v))
            elif isinstance(dom, RandN):
                v = float(v)
            elif isinstance(v, np.generic):
                v = v.item()
            fixed[self._paths[where]] = v
        rng = np.random.default_rng([self._entropy, tid])  # for lambdas; apart from TPE's
        return resolve_config(self._template, rng, None, fixed, self._spec)

    def _doc(self, tid: int) -> dict:
        index = self.__dict__.get("_doc_index")
        if index is None or tid not in index:
            index = self._doc_index = {d["tid"]: d for d in self._trials._dynamic_trials}
        return index[tid]

    def on_trial_result(self, trial_id: str, result: Mapping[str, Any]) -> None:
        if trial_id not in self._tid:
            return  # added externally: not tracked (as the seed's HyperOptScheduler)
        self._last[trial_id] = {"value": self._metric_value(trial_id, result),
                                "budget": result.get(self.budget_attr)}

    def _metric_value(self, trial_id: str, result: Mapping[str, Any]) -> float:
        if self.metric not in result:
            raise ValueError(
                f"HyperOptSearch optimises metric {self.metric!r}, but trial {trial_id!r} "
                f"reported {sorted(map(str, result))}; report {self.metric!r} or pass "
                f"metric= (reward_attr=) naming one of these."
            )
        try:
            return float(result[self.metric])
        except (TypeError, ValueError):
            raise ValueError(
                f"metric {self.metric!r} of trial {trial_id!r} must be a number, got "
                f"{result[self.metric]!r}."
            ) from None

    def on_trial_complete(self, trial_id: str, result: Optional[Mapping[str, Any]] = None,
                          error: bool = False) -> None:
        if trial_id not in self._tid:
            return
        from hyperopt import JOB_STATE_DONE, JOB_STATE_ERROR, STATUS_FAIL, STATUS_OK

        self._live.discard(trial_id)
        tid = self._tid[trial_id]
        doc = self._doc(tid)
        value, budget = None, None
        if not error:
            if result is not None and self.metric in result:
                value, budget = self._metric_value(trial_id, result), result.get(self.budget_attr)
            elif trial_id in self._last:
                value, budget = self._last[trial_id]["value"], self._last[trial_id]["budget"]
            elif result is not None:
                self._metric_value(trial_id, result)  # raises, naming the keys it reported
        self._last.pop(trial_id, None)
        if value is None or math.isnan(value):
            doc["result"] = {"status": STATUS_FAIL,
                             "failure": "error" if error else "no metric value"}
            doc["state"] = JOB_STATE_ERROR
        else:
            loss = -value if self.mode == "max" else value
            partial = bool(result and result.get(EARLY_STOPPED))
            b = float(budget) if isinstance(budget, (int, float)) else 0.0
            self._obs[tid] = (loss, partial, b)
            doc["result"] = {"status": STATUS_OK, "loss": loss, "metric_value": value,
                             "early_stopped": partial, "budget": budget}
            doc["state"] = JOB_STATE_DONE
        self._trials.refresh()

    def _rank_losses(self) -> None:
        """Writes TPE's losses: true losses for finished trials, ranked pseudo-losses after
        them for early-stopped ones (see the module docstring)."""
        partial = [(tid, o) for tid, o in self._obs.items() if o[1]]
        if not partial:
            return
        full = [o[0] for o in self._obs.values() if not o[1]]
        worst = max(full) if full else 0.0
        span = (max(full) - min(full)) if len(full) > 1 else 1.0
        step = span / max(len(full), 1) or 1.0
        partial.sort(key=lambda item: (-item[1][2], item[1][0]))
        for rank, (tid, _) in enumerate(partial):
            self._doc(tid)["result"]["loss"] = worst + step * (rank + 1)

    def experiment_tag(self, trial_id: str) -> str:
        return self._tags.get(trial_id, "")

    def best_result(self) -> Optional[dict[str, Any]]:
        """The finished (not early-stopped) trial with the best metric, or None."""
        best = None
        for trial_id, tid in self._tid.items():
            obs = self._obs.get(tid)
            if obs is None or obs[1]:
                continue
            if best is None or obs[0] < best[0]:
                best = (obs[0], trial_id, tid)
        if best is None:
            return None
        doc = self._doc(best[2])
        return {"trial_id": best[1], "value": doc["result"]["metric_value"],
                "config": copy.deepcopy(self._configs[best[1]])}

    # ---- state ------------------------------------------------------------------------

    def get_state(self) -> dict[str, Any]:
        """Mutable state: the trial documents, RNG, bookkeeping. Plain data (numpy scalars
        converted), so it also survives JSON (tuples become lists, int keys strings)."""
        return _plain({
            "docs": list(self._trials._dynamic_trials),
            "ids": sorted(self._trials._ids),
            "rng": self._rng.bit_generator.state,
            "entropy": self._entropy,
            "tid": self._tid,
            "configs": self._configs,
            "live": sorted(self._live),
            "tags": self._tags,
            "last": self._last,
            "obs": self._obs,
            "points_done": self._points_done,
        })

    def set_state(self, state: Mapping[str, Any]) -> None:
        from hyperopt import Trials

        state = copy.deepcopy(dict(state))
        self._trials = Trials()
        self._trials._insert_trial_docs(state["docs"])
        self._trials._ids.update(state["ids"])
        self._trials.refresh()
        self._doc_index = None
        self._rng = np.random.default_rng()
        self._rng.bit_generator.state = state["rng"]
        self._entropy = int(state["entropy"])
        self._tid = dict(state["tid"])
        self._configs = dict(state["configs"])
        self._live = set(state["live"])
        self._tags = dict(state["tags"])
        self._last = dict(state["last"])
        self._obs = {int(k): tuple(v) for k, v in state["obs"].items()}
        self._points_done = int(state["points_done"])

    def __getstate__(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["_domain"] = None  # hyperopt's Domain is rebuilt from the space
        d["_rebuild"] = self._domain is not None
        return d

    def __setstate__(self, d: dict[str, Any]) -> None:
        rebuild = d.pop("_rebuild", False)
        self.__dict__.update(d)
        if rebuild:
            from hyperopt import Domain

            self._domain = Domain(_objective, self._flat)
