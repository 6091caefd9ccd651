"""Grid × samples variant generation, and the default searcher built on it.

Order follows Ray Tune: for each of ``num_samples`` samples, the full grid, with the **first**
grid key (in config order) varying fastest. For the seed's quick start (``lr`` grid
``[0.2, 0.4, 0.6]``, ``momentum`` grid ``[0.1, 0.2]``) the trials are lr=0.2,momentum=0.1;
lr=0.4,momentum=0.1; lr=0.6,momentum=0.1; lr=0.2,momentum=0.2; … Every grid cell gets fresh
draws of the random domains.

Resolution of one variant: grid values are set, then random domains are sampled (a domain
sampled to a value holding further domains, e.g. a ``choice`` of dicts, is resolved in turn),
then ``sample_from`` functions are called with a :class:`~tuneflows.search.spec_view.SpecView`,
in repeated passes so one may read another; a pass that makes no progress is a cycle and
raises ``ValueError`` naming the paths.

Example:
    >>> from tuneflows.search import grid_search, uniform
    >>> gen = BasicVariantGenerator({"lr": grid_search([0.2, 0.4]), "x": uniform(0, 1)},
    ...                             num_samples=2, seed=0)
    >>> gen.total_trials
    4
    >>> gen.suggest("t0")["lr"], gen.experiment_tag("t0").split(",")[0]
    (0.2, 'lr=0.2')
"""

from __future__ import annotations

import math
from typing import Any, Iterator, Mapping, Optional, Sequence

import numpy as np

from tuneflows.search.config_values import is_grid_dict, to_domain
from tuneflows.search.domains import Choice, Domain, GridSearch, SampleFrom, as_rng
from tuneflows.search.spec_view import PendingValue, SpecView, UnresolvedValueError
from tuneflows.search.searcher import FINISHED, Searcher, Suggestion

__all__ = [
    "BasicVariantGenerator",
    "generate_variants",
    "resolve_config",
    "count_variants",
    "validate_config",
    "grid_variables",
    "format_vars",
    "flatten_points",
]

Path = tuple


def _path_str(path: Sequence[Any]) -> str:
    return "/".join(str(p) for p in path)


def _is_hyperopt_expr(value: Any) -> bool:
    return type(value).__module__.startswith("hyperopt")


# ---- static walk: validation and grid discovery -----------------------------------------


def _walk_static(value: Any, path: Path, grids: list, nested_in: Optional[str],
                 allow_hyperopt: bool) -> None:
    where = _path_str(path) or "<config>"
    if _is_hyperopt_expr(value):
        if not allow_hyperopt:
            raise ValueError(
                f"config value at {where!r} is a hyperopt hp.* expression; those work only "
                f"with HyperOptSearch (search_alg=...). Use tuneflows.uniform/choice/... "
                f"for random or grid search."
            )
        return
    value = to_domain(value, where)
    if isinstance(value, GridSearch):
        if nested_in is not None:
            raise ValueError(
                f"grid_search at {where!r} is nested inside the {nested_in}; grids must be "
                f"config values, not inside another grid or a choice."
            )
        grids.append((path, value.values))
        for i, v in enumerate(value.values):
            _walk_static(v, path, grids, f"grid_search at {where!r}", allow_hyperopt)
    elif isinstance(value, Choice):
        for v in value.categories:
            _walk_static(v, path, grids, nested_in or f"choice at {where!r}", allow_hyperopt)
    elif isinstance(value, Domain):
        return
    elif isinstance(value, Mapping):
        for k, v in value.items():
            _walk_static(v, path + (k,), grids, nested_in, allow_hyperopt)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _walk_static(v, path + (i,), grids, nested_in, allow_hyperopt)


def validate_config(config: Any, allow_hyperopt: bool = False) -> None:
    """Checks a config before any trial starts.

    Raises:
        ValueError: naming the path of an empty or malformed grid (``{"grid_search": x}``
            with other keys or a non-list), a function that cannot take ``spec``, a grid
            nested inside a grid or a choice, or a hyperopt expression outside HyperOptSearch.
    """
    if config is None:
        return
    if not isinstance(config, Mapping):
        raise ValueError(f"config must be a dict, got {type(config).__name__}: {config!r}.")
    _walk_static(config, (), [], None, allow_hyperopt)


def grid_variables(config: Mapping[str, Any]) -> list[tuple[tuple, list]]:
    """The top-level grids of ``config`` as ``[(path, values), ...]`` in config order."""
    grids: list = []
    _walk_static(config or {}, (), grids, None, True)
    # grids nested in grid values are rejected by the walk; keep the top-level ones
    return [(p, v) for p, v in grids]


def count_variants(config: Optional[Mapping[str, Any]], num_samples: int = 1,
                   points_to_evaluate: Optional[Sequence[Mapping[str, Any]]] = None) -> int:
    """Number of trials ``BasicVariantGenerator(config, num_samples, ...)`` makes."""
    return _Plan(config or {}, num_samples, points_to_evaluate).total


# ---- flattening of points_to_evaluate -----------------------------------------------------


def flatten_points(point: Mapping[str, Any], config: Mapping[str, Any]) -> dict[tuple, Any]:
    """Flattens a partial config to ``{path: value}``.

    A key may be a nested dict following the config's nesting, or a ``"a/b"`` path string.
    Descent stops where the config holds a domain or a constant (the value replaces it).
    """
    out: dict[tuple, Any] = {}

    def rec(p: Mapping[str, Any], cfg: Any, prefix: tuple) -> None:
        for k, v in p.items():
            keys = tuple(k.split("/")) if isinstance(k, str) and "/" in k else (k,)
            sub = cfg
            for kk in keys:
                sub = sub.get(kk) if isinstance(sub, Mapping) and not _is_grid_like(sub) else None
            path = prefix + keys
            if isinstance(v, Mapping) and isinstance(sub, Mapping) and not _is_grid_like(sub):
                rec(v, sub, path)
            else:
                out[path] = v

    rec(point, config, ())
    return out


def _is_grid_like(value: Any) -> bool:
    return isinstance(value, Mapping) and "grid_search" in value


def _set_path(tree: Any, path: tuple, value: Any) -> None:
    node = tree
    for k in path[:-1]:
        if isinstance(node, Mapping):
            if k not in node or not isinstance(node[k], (Mapping, list)) or _is_grid_like(node[k]):
                node[k] = {}
        node = node[k]
    node[path[-1]] = value


# ---- resolution of one variant ------------------------------------------------------------


class _Resolver:
    def __init__(self, rng: np.random.Generator, grid: Mapping[tuple, Any],
                 fixed: Mapping[tuple, Any]):
        self.rng = rng
        self.grid = grid
        self.fixed = fixed
        self.resolved: dict[str, Any] = {}  # path string -> value, in config order
        self.pending: list[tuple[PendingValue, Any, Any]] = []  # (pending, container, key)

    def walk(self, value: Any, path: tuple, container: Any = None, key: Any = None,
             record: bool = True) -> Any:
        where = _path_str(path)
        if path in self.fixed and record:
            v = self.fixed[path]
            self.resolved[where] = v
            return self.walk(v, path, container, key, record=False)
        if _is_hyperopt_expr(value):
            raise ValueError(
                f"config value at {where!r} is a hyperopt hp.* expression; use HyperOptSearch."
            )
        value = to_domain(value, where)
        if isinstance(value, GridSearch):
            if path not in self.grid:
                raise ValueError(f"grid_search at {where!r} is nested inside another domain.")
            v = self.grid[path]
            if record:
                self.resolved[where] = v
            return self.walk(v, path, container, key, record=False)
        if isinstance(value, SampleFrom):
            pend = PendingValue(value, where)
            if record:
                self.resolved[where] = pend
            self.pending.append((pend, container, key))
            return pend
        if isinstance(value, Domain):
            v = value.sample(self.rng)
            if record:
                self.resolved[where] = v
            return self.walk(v, path, container, key, record=False)
        if isinstance(value, Mapping):
            out: dict = {}
            for k, v in value.items():
                out[k] = self.walk(v, path + (k,), out, k, record)
            return out
        if isinstance(value, list):
            out_l: list = [None] * len(value)
            for i, v in enumerate(value):
                out_l[i] = self.walk(v, path + (i,), out_l, i, record)
            return out_l
        return value  # constants, tuples included (as Ray Tune: only dicts and lists nest)

    def run_lambdas(self, spec_root: dict) -> None:
        pending = self.pending
        while pending:
            waiting: list = []
            blocked: dict[str, str] = {}
            for pend, container, key in pending:
                try:
                    v = pend.domain.fn(SpecView(spec_root))
                except UnresolvedValueError as e:
                    waiting.append((pend, container, key))
                    blocked[pend.path] = e.path
                    continue
                except Exception as e:  # a user function failed: say which one
                    raise ValueError(
                        f"sample_from at {pend.path!r} raised {type(e).__name__}: {e}"
                    ) from e
                if isinstance(v, Domain) and not isinstance(v, (GridSearch, SampleFrom)):
                    v = v.sample(self.rng)
                if container is not None:
                    container[key] = v
                if self.resolved.get(pend.path) is pend:
                    self.resolved[pend.path] = v
            if len(waiting) == len(pending):
                cycle = "; ".join(f"{p!r} waits for {q!r}" for p, q in blocked.items())
                raise ValueError(
                    f"sample_from values depend on each other in a cycle: {cycle}."
                )
            pending = waiting
        self.pending = []


def resolve_config(config: Mapping[str, Any], rng: Any = None,
                   grid: Optional[Mapping[tuple, Any]] = None,
                   fixed: Optional[Mapping[tuple, Any]] = None,
                   spec: Optional[Mapping[str, Any]] = None) -> tuple[dict, dict[str, Any]]:
    """Resolves one variant of ``config``.

    Args:
        config: The unresolved config.
        rng: numpy Generator (or seed) for the random domains.
        grid: ``{path: value}`` for each grid of the config.
        fixed: ``{path: value}`` overriding config entries (points to evaluate).
        spec: Other top-level spec entries visible to lambdas besides ``config``.

    Returns:
        ``(resolved_config, resolved_vars)``: resolved_vars maps each varied path
        (``"a/b"``) to its value, in config order.
    """
    res = _Resolver(as_rng(rng), grid or {}, fixed or {})
    tree = res.walk(dict(config or {}), ())
    # fixed paths that are not in the config are added
    for path, v in (fixed or {}).items():
        where = _path_str(path)
        if where not in res.resolved:
            _set_path(tree, path, res.walk(v, path, record=False))
            res.resolved[where] = v
    spec_root = {k: v for k, v in (spec or {}).items() if k != "config"}
    spec_root["config"] = tree
    res.run_lambdas(spec_root)
    return tree, res.resolved


def generate_variants(spec_config: Optional[Mapping[str, Any]], num_samples: int = 1,
                      rng: Any = None, spec: Optional[Mapping[str, Any]] = None
                      ) -> Iterator[tuple[dict[str, Any], dict]]:
    """Yields ``(resolved_vars, config)`` for every variant: for each sample, the full grid.

    Args:
        spec_config: The experiment's ``config`` (grids, domains, lambdas, constants).
        num_samples: Samples (the seed's ``repeat``).
        rng: numpy Generator or seed.
        spec: Other spec entries (``run``, ``stop``, …) visible to lambdas as ``spec.<key>``.
    """
    validate_config(spec_config)
    gen = as_rng(rng)
    grids = grid_variables(spec_config or {})
    for _ in range(num_samples):
        for cell in _grid_cells(grids):
            config, resolved = resolve_config(spec_config or {}, gen, cell, None, spec)
            yield resolved, config


def _grid_cells(grids: Sequence[tuple[tuple, list]]) -> Iterator[dict[tuple, Any]]:
    """Grid combinations, first grid varying fastest."""
    sizes = [len(v) for _, v in grids]
    n = math.prod(sizes) if sizes else 1
    for j in range(n):
        cell, rest = {}, j
        for (path, values), size in zip(grids, sizes):
            cell[path] = values[rest % size]
            rest //= size
        yield cell


def format_vars(resolved: Mapping[str, Any]) -> str:
    """``"lr=0.2,momentum=0.1"``: short values (floats with 4 significant digits)."""
    return ",".join(f"{k}={_short(v)}" for k, v in resolved.items())


def _short(value: Any, limit: int = 24) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4g}"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, str):
        s = value
    elif callable(value):
        s = getattr(value, "__name__", type(value).__name__)
    else:
        s = str(value)
    s = "".join(s.split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


# ---- the default searcher -----------------------------------------------------------------


class _Plan:
    """Which (sample, grid cell) each trial index is, and how many there are."""

    def __init__(self, config: Mapping[str, Any], num_samples: int,
                 points: Optional[Sequence[Mapping[str, Any]]]):
        if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) \
                or num_samples < 1:
            raise ValueError(f"num_samples must be an int >= 1, got num_samples={num_samples!r}.")
        validate_config(config)
        self.grids = grid_variables(config)
        self.points = [flatten_points(p, config) for p in (points or [])]
        for i, p in enumerate(points or []):
            if not isinstance(p, Mapping):
                raise ValueError(f"points_to_evaluate[{i}] must be a dict, got {p!r}.")
        self.num_samples = max(int(num_samples), len(self.points))
        full = math.prod(len(v) for _, v in self.grids) if self.grids else 1
        self.sizes = [self._point_grid_size(p) for p in self.points]
        self.sizes += [full] * (self.num_samples - len(self.points))
        self.total = sum(self.sizes)

    def _free_grids(self, point: Mapping[tuple, Any]) -> list:
        return [(p, v) for p, v in self.grids
                if not any(p[: len(q)] == q for q in point)]

    def _point_grid_size(self, point: Mapping[tuple, Any]) -> int:
        free = self._free_grids(point)
        return math.prod(len(v) for _, v in free) if free else 1

    def locate(self, index: int) -> tuple[int, dict[tuple, Any], dict[tuple, Any]]:
        """Trial ``index`` -> (sample, grid cell, fixed values)."""
        if not 0 <= index < self.total:
            raise IndexError(index)
        sample = 0
        for size in self.sizes[: len(self.points)]:
            if index < size:
                break
            index -= size
            sample += 1
        else:  # past the points: every sample holds the full grid
            full = self.sizes[-1]
            sample, index = sample + index // full, index % full
        point = self.points[sample] if sample < len(self.points) else {}
        grids = self._free_grids(point) if point else self.grids
        cell, rest = {}, index
        for path, values in grids:
            cell[path] = values[rest % len(values)]
            rest //= len(values)
        return sample, cell, point


class BasicVariantGenerator(Searcher):
    """Grid × samples over a config (the default searcher; Ray Tune's variant generation).

    Args:
        config: The experiment's config: constants, grids, domains, lambdas, nested.
        num_samples: How many times the grid is repeated, each with fresh random draws
            (the seed's ``repeat``).
        seed: Seed of this generator's RNG; the same seed gives the same trials. Trial ``k``
            depends only on (seed, k), so resuming from :meth:`get_state` continues exactly.
        points_to_evaluate: Partial configs run first (nested dicts or ``"a/b"`` keys); grids
            they leave unset still expand. They count toward ``num_samples``.
        spec: Other top-level spec entries lambdas may read (``spec.stop``, …).

    Example:
        >>> from tuneflows.search import grid_search
        >>> g = BasicVariantGenerator({"lr": grid_search([0.2, 0.4, 0.6]),
        ...                            "momentum": grid_search([0.1, 0.2])})
        >>> [g.experiment_tag(t) for t in map(str, range(6)) if g.suggest(t)][:2]
        ['lr=0.2,momentum=0.1', 'lr=0.4,momentum=0.1']
    """

    def __init__(self, config: Optional[Mapping[str, Any]] = None, num_samples: int = 1,
                 seed: Optional[int] = None,
                 points_to_evaluate: Optional[Sequence[Mapping[str, Any]]] = None,
                 spec: Optional[Mapping[str, Any]] = None):
        self.config = dict(config or {})
        self.spec = dict(spec or {})
        self._plan = _Plan(self.config, num_samples, points_to_evaluate)
        self.num_samples = self._plan.num_samples
        self.seed = seed
        # Mutable state (get_state / set_state):
        self._entropy = int(np.random.SeedSequence(seed).entropy)
        self._next = 0
        self._tags: dict[str, str] = {}
        self._index: dict[str, int] = {}

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
