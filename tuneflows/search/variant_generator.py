"""Grid × samples variant generation, and the default searcher built on it.

Order follows Ray Tune (:mod:`tuneflows.search.variant_plan`): for each of ``num_samples``
samples, the full grid, with the **first** grid key (in config order) varying fastest. For the
seed's quick start (``lr`` grid ``[0.2, 0.4, 0.6]``, ``momentum`` grid ``[0.1, 0.2]``) the
trials are lr=0.2,momentum=0.1; lr=0.4,momentum=0.1; lr=0.6,momentum=0.1; lr=0.2,momentum=0.2;
… Every grid cell gets fresh draws of the random domains; each variant is resolved by
:func:`~tuneflows.search.spec_resolver.resolve_config`.

This is also the module seed-era programs know as ``ray.tune.variant_generator``: it
offers ``grid_search`` and ``generate_variants`` under that name.

Example:
    >>> from tuneflows.search import uniform
    >>> gen = BasicVariantGenerator({"lr": grid_search([0.2, 0.4]), "x": uniform(0, 1)},
    ...                             num_samples=2, seed=0)
    >>> gen.total_trials
    4
    >>> gen.suggest("t0")["lr"], gen.experiment_tag("t0").split(",")[0]
    (0.2, 'lr=0.2')
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping, Optional, Sequence

import numpy as np

from tuneflows.search.config_validation import grid_variables, validate_config
from tuneflows.search.domains import as_rng, grid_search
from tuneflows.search.experiment_tags import format_vars
from tuneflows.search.searcher import FINISHED, Searcher, Suggestion
from tuneflows.search.spec_resolver import resolve_config
from tuneflows.search.variant_plan import VariantPlan, grid_cell, grid_size

__all__ = ["BasicVariantGenerator", "generate_variants", "grid_search"]


def generate_variants(spec_config: Optional[Mapping[str, Any]], num_samples: int = 1,
                      rng: Any = None, spec: Optional[Mapping[str, Any]] = None
                      ) -> Iterator[tuple[dict[str, Any], dict]]:
    """Yields ``(resolved_vars, config)`` for every variant: for each sample, the full grid.

    Unlike :class:`BasicVariantGenerator`, one RNG draws for all variants in turn.

    Args:
        spec_config: The experiment's ``config`` (grids, domains, lambdas, constants).
        num_samples: Samples (the seed's ``repeat``).
        rng: numpy Generator or seed.
        spec: Other spec entries (``run``, ``stop``, …) visible to lambdas as ``spec.<key>``.

    Example:
        >>> [v for v, _ in generate_variants({"a": grid_search([1, 2])}, num_samples=2)]
        [{'a': 1}, {'a': 2}, {'a': 1}, {'a': 2}]
    """
    validate_config(spec_config)
    gen = as_rng(rng)
    grids = grid_variables(spec_config or {})
    for _ in range(num_samples):
        for j in range(grid_size(grids)):
            config, resolved = resolve_config(spec_config or {}, gen, grid_cell(grids, j),
                                              None, spec)
            yield resolved, config


class BasicVariantGenerator(Searcher):
    """Grid × samples over a config (the default searcher; Ray Tune's variant generation).

    Args:
        config: The experiment's config: constants, grids, domains, lambdas, nested. None:
            taken from the experiment by :meth:`set_search_properties`.
        num_samples: How many times the grid is repeated, each with fresh random draws
            (the seed's ``repeat``). None: the experiment's (1 when used on its own).
        seed: Seed of this generator's RNG; the same seed gives the same trials. Trial ``k``
            depends only on (seed, k), so resuming from :meth:`get_state` continues exactly.
        points_to_evaluate: Configs evaluated first, then the grid × samples ones: partial
            configs (nested dicts or ``"a/b"`` keys) whose unset settings are drawn as
            usual and whose unset grids still expand. Each point counts as one of
            ``num_samples`` (raised to the number of points if below it). A point setting
            a key the config lacks, or giving a search space instead of a value, is a
            ``ValueError`` naming its index and the key (with an empty config, points are
            whole configs).
        spec: Other top-level spec entries lambdas may read (``spec.stop``, …).

    Example:
        >>> from tuneflows.search import grid_search
        >>> g = BasicVariantGenerator({"lr": grid_search([0.2, 0.4, 0.6]),
        ...                            "momentum": grid_search([0.1, 0.2])})
        >>> [g.experiment_tag(t) for t in map(str, range(6)) if g.suggest(t)][:2]
        ['lr=0.2,momentum=0.1', 'lr=0.4,momentum=0.1']
    """

    plans_ahead = True

    def __init__(self, config: Optional[Mapping[str, Any]] = None,
                 num_samples: Optional[int] = None, seed: Optional[int] = None,
                 points_to_evaluate: Optional[Sequence[Mapping[str, Any]]] = None,
                 spec: Optional[Mapping[str, Any]] = None):
        self._config_given = config is not None
        self._samples_given = num_samples is not None
        self.points_to_evaluate = [dict(p) if isinstance(p, Mapping) else p
                                   for p in (points_to_evaluate or [])]
        self.seed = seed
        self._plan_for(config or {}, 1 if num_samples is None else num_samples, spec or {})
        # Mutable state (get_state / set_state):
        self._entropy = int(np.random.SeedSequence(seed).entropy)
        self._next = 0
        self._tags: dict[str, str] = {}
        self._index: dict[str, int] = {}

    def _plan_for(self, config: Mapping[str, Any], num_samples: int,
                  spec: Mapping[str, Any]) -> None:
        self._plan = VariantPlan(config, num_samples, self.points_to_evaluate)
        self.config = dict(config)
        self.spec = dict(spec)
        self.num_samples = self._plan.num_samples

    def set_search_properties(self, metric: Optional[str], mode: Optional[str],
                              config: Optional[Mapping[str, Any]], **spec: Any) -> bool:
        """Takes the experiment's config and ``num_samples`` (a ``spec`` entry) when the
        constructor was not given them, and the other spec entries for lambdas. Called
        before the first suggestion; the points to evaluate are checked against the
        config it ends up with.

        Example:
            >>> from tuneflows.search import grid_search
            >>> g = BasicVariantGenerator(points_to_evaluate=[{"lr": 0.5}])
            >>> g.set_search_properties(None, None, {"lr": grid_search([0.1, 0.2])},
            ...                         num_samples=2)
            True
            >>> [g.suggest(str(i))["lr"] for i in range(3)], g.suggest("3")
            ([0.5, 0.1, 0.2], 'FINISHED')
        """
        if self._next:
            raise ValueError("set_search_properties must come before the first suggestion.")
        num_samples = spec.pop("num_samples", None)
        config = self.config if self._config_given or config is None else config
        if self._samples_given or num_samples is None:
            num_samples = self.num_samples if self._samples_given else 1
        self._plan_for(config, num_samples, {**spec, **self.spec})
        return True

    @property
    def total_trials(self) -> int:
        return self._plan.total

    def suggest(self, trial_id: str) -> Suggestion:
        if trial_id in self._index:
            raise ValueError(f"trial_id {trial_id!r} was already suggested.")
        if self._next >= self._plan.total:
            return FINISHED
        k = self._next
        config, resolved = self._variant(k)
        self._next += 1
        self._index[trial_id] = k
        self._tags[trial_id] = format_vars(resolved)
        return config

    def _variant(self, k: int) -> tuple[dict, dict]:
        _, cell, fixed = self._plan.locate(k)
        rng = np.random.default_rng([self._entropy, k])
        return resolve_config(self.config, rng, cell, fixed, self.spec)

    def experiment_tag(self, trial_id: str) -> str:
        return self._tags.get(trial_id, "")

    def get_state(self) -> dict[str, Any]:
        return {
            "entropy": self._entropy,
            "next": self._next,
            "tags": dict(self._tags),
            "index": dict(self._index),
        }

    def set_state(self, state: Mapping[str, Any]) -> None:
        self._entropy = int(state["entropy"])
        self._next = int(state["next"])
        self._tags = dict(state["tags"])
        self._index = dict(state["index"])
