"""A search space in hyperopt's terms: labelled ``hp.*`` expressions, and values back to configs.

:class:`HyperoptSpace` flattens a (nested) space of ``hp.*`` expressions and tuneflows
domains into hyperopt's ``{label: expression}`` (a tuneflows domain's label is its config
path, ``"a/b"``), turns points to evaluate into hyperopt's raw values, and turns the values TPE
chose back into a resolved config (``sample_from`` functions run after TPE's choice, so they
may read its values).

Example:
    >>> import numpy as np
    >>> from tuneflows.search import choice, uniform
    >>> space = HyperoptSpace({"x": uniform(0, 1), "act": choice(["relu", "tanh"]), "k": 3})
    >>> space.labels
    ['act', 'x']
    >>> space.point_vals({"x": 0.5, "act": "tanh"}, 0)
    {'x': 0.5, 'act': 1}
    >>> space.config_from_vals({"x": 0.5, "act": 1}, np.random.default_rng(0))[0]
    {'x': 0.5, 'act': 'tanh', 'k': 3}
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

import numpy as np

from tuneflows.search.config_paths import flatten_points, format_path
from tuneflows.search.config_values import is_grid_dict
from tuneflows.search.domains import (
    Choice,
    Domain,
    GridSearch,
    LogUniform,
    QUniform,
    RandInt,
    RandN,
    SampleFrom,
    Uniform,
)
from tuneflows.search.hyperopt_conversion import hyperopt_label, is_hyperopt_expression, to_hyperopt
from tuneflows.search.spec_resolver import resolve_config

__all__ = ["HyperoptSpace"]


class HyperoptSpace:
    """A search space flattened for hyperopt, with the way back to configs.

    Args:
        space: A (nested) dict of ``hp.*`` expressions, tuneflows domains, ``sample_from``
            functions and constants; or one ``hp.*`` expression evaluating to a dict.
        base: Config entries merged under a dict ``space`` (or beside an expression's dict).
        spec: Other top-level spec entries ``sample_from`` functions may read.

    Raises:
        ValueError: for a space that is neither a dict nor an expression, one with nothing to
            search, or a ``grid_search`` in it (naming its path).
    """

    def __init__(self, space: Any, base: Optional[Mapping[str, Any]] = None,
                 spec: Optional[Mapping[str, Any]] = None):
        self.spec = dict(spec or {})
        self.expressions: dict[str, Any] = {}  # label -> hp expression
        self.paths: dict[str, tuple] = {}  # label -> config path
        self.domains: dict[str, Domain] = {}  # label -> the tuneflows domain it came from
        if isinstance(space, Mapping) and not is_grid_dict(space):
            self.template = _deep_merge(base or {}, space)
        elif is_hyperopt_expression(space):
            self.template = dict(base or {})
            self.expressions[""] = space
        else:
            raise ValueError(
                f"HyperOptSearch space must be a dict or an hp.* expression, got {space!r}."
            )
        self._collect(self.template, ())
        if not self.expressions:
            raise ValueError(
                "HyperOptSearch space has nothing to search: give hp.* expressions or "
                "tuneflows primitives (uniform, loguniform, choice, ...)."
            )
        self.domain = self._hyperopt_domain()

    @property
    def labels(self) -> list[str]:
        """hyperopt's parameter labels, as ``hyperopt.Domain`` orders them."""
        return list(self.domain.params)

    def _hyperopt_domain(self) -> Any:
        from hyperopt import Domain as HyperoptDomain

        return HyperoptDomain(_never_evaluated, self.expressions)

    def _collect(self, value: Any, path: tuple) -> None:
        where = format_path(path)
        if is_hyperopt_expression(value):
            self.expressions[where] = value
            self.paths[where] = path
        elif is_grid_dict(value) or isinstance(value, GridSearch):
            to_hyperopt(GridSearch(value["grid_search"]) if is_grid_dict(value) else value, where)
        elif isinstance(value, Domain) and not isinstance(value, SampleFrom):
            self.expressions[where] = to_hyperopt(value, where)
            self.paths[where] = path
            self.domains[where] = value
        elif isinstance(value, Mapping):
            for k, v in value.items():
                self._collect(v, path + (k,))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                self._collect(v, path + (i,))

    def point_vals(self, point: Mapping[str, Any], i: int) -> dict[str, Any]:
        """A point to evaluate as hyperopt ``vals`` (label -> raw value).

        Args:
            point: Config values (nested or ``"a/b"`` keys; a ``choice`` takes the value
                itself), or hyperopt's raw values keyed by the labels of native expressions
                (an ``hp.choice`` takes the index).
            i: The point's index, named in errors.

        Raises:
            ValueError: for a value that is not a searched parameter, a value that is not one
                of a choice's categories, or a point that misses a parameter.
        """
        labels = set(self.labels)
        vals: dict[str, Any] = {}
        for key, v in point.items():  # native labels given directly
            if key in labels and key not in self.domains:
                vals[key] = v
        rest = {k: v for k, v in point.items() if k not in vals}
        for path, v in flatten_points(rest, self.template).items():
            where = format_path(path)
            dom = self.domains.get(where)
            if dom is None:
                label = where if where in labels else hyperopt_label(self.expressions.get(where))
                if label in labels:
                    vals[label] = v
                    continue
                raise ValueError(
                    f"points_to_evaluate[{i}] sets {where!r}, which is not a searched "
                    f"parameter; searched: {sorted(self.domains) or sorted(labels)}."
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
        missing = [p for p in self.domains if p not in vals]
        if missing:
            raise ValueError(f"points_to_evaluate[{i}] misses {missing}; give every parameter.")
        return vals

    def observed_vals(self, config: Mapping[str, Any]) -> Optional[dict[str, Any]]:
        """A resolved config (one a trial ran with) as hyperopt ``vals``, or None when it
        does not fit the space: a searched parameter missing, a value that is not one of
        a choice's categories, or a native ``hp.*`` expression (whose raw values a config
        does not hold).

        Example:
            >>> from tuneflows.search import choice, uniform
            >>> space = HyperoptSpace({"x": uniform(0, 1), "act": choice(["relu", "tanh"])})
            >>> space.observed_vals({"x": 0.5, "act": "tanh", "seed": 3})
            {'x': 0.5, 'act': 1}
            >>> space.observed_vals({"x": 0.5, "act": "gelu"}) is None
            True
        """
        if set(self.expressions) != set(self.domains):
            return None
        vals: dict[str, Any] = {}
        for where, dom in self.domains.items():
            node: Any = config
            for key in self.paths[where]:
                if not isinstance(node, Mapping) or key not in node:
                    return None
                node = node[key]
            if isinstance(dom, Choice):
                matches = [j for j, c in enumerate(dom.categories) if c == node]
                if not matches:
                    return None
                node = matches[0]
            vals[where] = node
        return vals

    def config_from_vals(self, vals: Mapping[str, Any],
                         rng: np.random.Generator) -> tuple[dict, dict[str, Any]]:
        """The resolved config for hyperopt's values, as ``resolve_config`` returns it.

        Values are cast back to the tuneflows domains' types (ints, quantised floats); ``rng``
        draws only for the ``sample_from`` functions and domains they return.

        Raises:
            ValueError: when a whole-space expression does not evaluate to a dict.
        """
        from hyperopt import space_eval

        values = space_eval(self.expressions, dict(vals))
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
            dom = self.domains.get(where)
            if isinstance(dom, RandInt):
                v = int(v)
            elif isinstance(dom, (Uniform, QUniform, LogUniform)):
                v = dom.quantize(float(v))
            elif isinstance(dom, RandN):
                v = float(v)
            elif isinstance(v, np.generic):
                v = v.item()
            fixed[self.paths[where]] = v
        return resolve_config(self.template, rng, None, fixed, self.spec)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        del state["domain"]  # hyperopt's Domain is rebuilt from the expressions
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.domain = self._hyperopt_domain()


def _never_evaluated(_: Any) -> float:
    """The objective hyperopt's Domain requires; ask/tell never calls it (no ``fmin``)."""
    raise RuntimeError("HyperOptSearch never evaluates the objective itself")


def _deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict:
    out = dict(base)
    for k, v in top.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) \
                and not is_grid_dict(v) and not is_grid_dict(out[k]):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out
