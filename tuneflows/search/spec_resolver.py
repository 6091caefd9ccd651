"""Resolves one variant of a config: grid values set, random domains drawn, lambdas called.

Grid values are set first, then random domains are sampled (a domain sampled to a value
holding further domains, e.g. a ``choice`` of dicts, is resolved in turn), then
``sample_from`` functions are called with a :class:`~tuneflows.search.spec_view.SpecView`,
in repeated passes so one may read another; a pass that makes no progress is a cycle and
raises :class:`~tuneflows.search.spec_view.RecursiveDependencyError` naming the paths.

Example:
    >>> from tuneflows.search import grid_search, uniform
    >>> config, resolved = resolve_config(
    ...     {"lr": grid_search([0.1, 0.2]), "x": uniform(0, 1),
    ...      "lr2": lambda spec: spec.config.lr * 2},
    ...     rng=0, grid={("lr",): 0.2})
    >>> config["lr"], config["lr2"], list(resolved)
    (0.2, 0.4, ['lr', 'x', 'lr2'])
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

import numpy as np

from tuneflows.search.config_paths import format_path, set_path
from tuneflows.search.config_values import to_domain
from tuneflows.search.domains import Domain, GridSearch, SampleFrom, as_rng
from tuneflows.search.hyperopt_conversion import is_hyperopt_expression
from tuneflows.search.spec_view import (
    PendingValue, RecursiveDependencyError, SpecView, UnresolvedValueError,
)

__all__ = ["resolve_config"]


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

    Raises:
        ValueError: naming the path of a hyperopt expression, a grid nested in another
            domain, a ``sample_from`` that raised, or ``sample_from`` values in a cycle.
    """
    res = _Resolver(as_rng(rng), grid or {}, fixed or {})
    tree = res.walk(dict(config or {}), ())
    # fixed paths that are not in the config are added
    for path, v in (fixed or {}).items():
        where = format_path(path)
        if where not in res.resolved:
            set_path(tree, path, res.walk(v, path, record=False))
            res.resolved[where] = v
    spec_root = {k: v for k, v in (spec or {}).items() if k != "config"}
    spec_root["config"] = tree
    res.run_lambdas(spec_root)
    return tree, res.resolved


class _Resolver:
    """One resolution: the walk that sets and draws values, then the lambda passes."""

    def __init__(self, rng: np.random.Generator, grid: Mapping[tuple, Any],
                 fixed: Mapping[tuple, Any]):
        self.rng = rng
        self.grid = grid
        self.fixed = fixed
        self.resolved: dict[str, Any] = {}  # path string -> value, in config order
        self.pending: list[tuple[PendingValue, Any, Any]] = []  # (pending, container, key)

    def walk(self, value: Any, path: tuple, container: Any = None, key: Any = None,
             record: bool = True) -> Any:
        where = format_path(path)
        if path in self.fixed and record:
            v = self.fixed[path]
            self.resolved[where] = v
            return self.walk(v, path, container, key, record=False)
        if is_hyperopt_expression(value):
            raise ValueError(
                f"config value at {where!r} is a hyperopt hp.* expression; use HyperOptSearch."
            )
        value = to_domain(value, where)
        if isinstance(value, GridSearch):
            if path not in self.grid:
                raise ValueError(f"grid_search at {where!r} is nested inside another domain.")
            v = self.grid[path]
            if isinstance(to_domain(v, where), Domain):  # a grid of lambdas or domains:
                return self.walk(v, path, container, key, record)  # tagged with their values
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
                cycle = "; ".join(f"`{p}` recursively depends on `{q}`"
                                  for p, q in blocked.items())
                raise RecursiveDependencyError(
                    f"{cycle} (sample_from values in a cycle never resolve)."
                )
            pending = waiting
        self.pending = []
