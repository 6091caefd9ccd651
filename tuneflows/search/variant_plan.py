"""Which grid cell and sample each trial index is: the layout of grid × samples.

Trials are numbered in Ray Tune's order: for each of ``num_samples`` samples, the full grid,
with the **first** grid key (in config order) varying fastest. Points to evaluate come first,
one sample each, expanding only the grids they leave unset.

Example:
    >>> from tuneflows.search import grid_search
    >>> plan = VariantPlan({"a": grid_search([1, 2]), "b": grid_search([3, 4])}, num_samples=2)
    >>> plan.total, plan.locate(1), plan.locate(6)
    (8, (0, {('a',): 2, ('b',): 3}, {}), (1, {('a',): 1, ('b',): 4}, {}))
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from tuneflows.search.config_paths import flatten_points
from tuneflows.search.config_validation import grid_variables, validate_config, validate_point

__all__ = ["VariantPlan", "count_variants", "grid_cell", "grid_size"]

Grids = Sequence[tuple[tuple, list]]


def grid_size(grids: Grids) -> int:
    """Number of cells of ``grids`` (1 for no grid)."""
    return math.prod(len(values) for _, values in grids)


def grid_cell(grids: Grids, index: int) -> dict[tuple, Any]:
    """Cell ``index`` of ``grids`` as ``{path: value}``, the first grid varying fastest."""
    cell, rest = {}, index
    for path, values in grids:
        cell[path] = values[rest % len(values)]
        rest //= len(values)
    return cell


def count_variants(config: Optional[Mapping[str, Any]], num_samples: int = 1,
                   points_to_evaluate: Optional[Sequence[Mapping[str, Any]]] = None) -> int:
    """Number of trials ``BasicVariantGenerator(config, num_samples, ...)`` makes."""
    return VariantPlan(config or {}, num_samples, points_to_evaluate).total


class VariantPlan:
    """Which (sample, grid cell, fixed values) each trial index is, and how many there are.

    Args:
        config: The experiment's config.
        num_samples: Samples of the full grid; raised to the number of points if below it.
        points_to_evaluate: Partial configs run first (see
            :func:`~tuneflows.search.config_paths.flatten_points`).

    Raises:
        ValueError: for ``num_samples`` not an int >= 1, a point that is not a dict or that
            :func:`~tuneflows.search.config_validation.validate_point` rejects (a key the
            config lacks, a search space instead of a value), or a config
            :func:`~tuneflows.search.config_validation.validate_config` rejects.
    """

    def __init__(self, config: Mapping[str, Any], num_samples: int = 1,
                 points_to_evaluate: Optional[Sequence[Mapping[str, Any]]] = None):
        if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) \
                or num_samples < 1:
            raise ValueError(f"num_samples must be an int >= 1, got num_samples={num_samples!r}.")
        validate_config(config)
        self.grids = grid_variables(config)
        for i, p in enumerate(points_to_evaluate or []):
            if not isinstance(p, Mapping):
                raise ValueError(f"points_to_evaluate[{i}] must be a dict, got {p!r}.")
        self.points = [flatten_points(p, config) for p in (points_to_evaluate or [])]
        for i, point in enumerate(self.points):
            validate_point(point, config, i)
        self.num_samples = max(int(num_samples), len(self.points))
        self.sizes = [grid_size(self._free_grids(p)) for p in self.points]
        self.sizes += [grid_size(self.grids)] * (self.num_samples - len(self.points))
        self.total = sum(self.sizes)

    def _free_grids(self, point: Mapping[tuple, Any]) -> list:
        return [(p, v) for p, v in self.grids
                if not any(p[: len(q)] == q for q in point)]

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
        return sample, grid_cell(grids, index), point
