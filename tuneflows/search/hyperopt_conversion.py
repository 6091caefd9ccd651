"""Converts tuneflows domains to hyperopt ``hp.*`` expressions, and recognises those.

hyperopt is imported only when a conversion runs, so recognising an expression costs nothing
for configs that hold none.

Example:
    >>> from tuneflows.search import choice, loguniform
    >>> expr = to_hyperopt(loguniform(1e-3, 1), "lr")
    >>> is_hyperopt_expression(expr), hyperopt_label(expr)
    (True, 'lr')
    >>> hyperopt_label(to_hyperopt(choice([{"act": "relu"}, {"act": "tanh"}]), "net"))
    'net'
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional

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

__all__ = ["is_hyperopt_expression", "hyperopt_label", "to_hyperopt"]


def is_hyperopt_expression(value: Any) -> bool:
    """True for a hyperopt ``hp.*`` expression (a ``pyll.Apply`` node)."""
    if not type(value).__module__.startswith("hyperopt"):
        return False
    from hyperopt import pyll

    return isinstance(value, pyll.Apply)


def hyperopt_label(expr: Any) -> Optional[str]:
    """Label of the first ``hyperopt_param`` under an ``hp.*`` expression (its own label).

    None when ``expr`` is not an expression or holds no parameter.
    """
    if not is_hyperopt_expression(expr):
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

    Domains inside a ``choice``'s categories (dicts and lists of them) are converted too,
    labelled ``"<label>/<index>/<key>"``.

    Raises:
        ValueError: for ``grid_search`` (TPE samples, it does not enumerate) or a domain with
            no hyperopt equivalent, naming ``label``.
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
            label, [_convert_tree(c, f"{label}/{i}") for i, c in enumerate(domain.categories)]
        )
    raise ValueError(f"{type(domain).__name__} at {label!r} has no hyperopt equivalent.")


def _convert_tree(value: Any, label: str) -> Any:
    """Converts domains nested in a choice category (dicts and lists)."""
    if is_hyperopt_expression(value):
        return value
    if is_grid_dict(value):
        value = GridSearch(value["grid_search"])
    if isinstance(value, Domain) and not isinstance(value, SampleFrom):
        return to_hyperopt(value, label)
    if isinstance(value, Mapping):
        return {k: _convert_tree(v, f"{label}/{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_convert_tree(v, f"{label}/{i}") for i, v in enumerate(value)]
    return value
