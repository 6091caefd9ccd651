"""Checks a config before any trial starts, and finds its grids.

The walk goes through dicts and lists, normalises each value
(:func:`~tuneflows.search.config_values.to_domain`) and rejects what no trial could resolve,
naming the path.

Example:
    >>> from tuneflows.search import choice, grid_search
    >>> grid_variables({"lr": grid_search([0.1, 0.2]), "net": {"act": {"grid_search": ["relu"]}}})
    [(('lr',), [0.1, 0.2]), (('net', 'act'), ['relu'])]
    >>> validate_config({"act": choice([grid_search([1, 2])])})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: grid_search at 'act' is nested inside the choice at 'act'; ...
"""

from __future__ import annotations

import pickle
from typing import Any, Mapping, Optional

from tuneflows.search.config_paths import format_path
from tuneflows.search.config_values import is_grid_dict, to_domain
from tuneflows.search.domains import Choice, Domain, GridSearch
from tuneflows.search.hyperopt_conversion import is_hyperopt_expression
from tuneflows.search.yaml_domains import misspelled_search_space

__all__ = ["validate_config", "grid_variables", "validate_point"]


def validate_config(config: Any, allow_hyperopt: bool = False) -> None:
    """Checks a config before any trial starts.

    Args:
        config: The experiment's config (None: nothing to check).
        allow_hyperopt: Whether ``hp.*`` expressions may appear (HyperOptSearch's spaces).

    Raises:
        ValueError: naming the path of an empty or malformed grid (``{"grid_search": x}``
            with other keys or a non-list), a single-key dict whose key looks like a
            misspelled search space (``{"grid_serach": [...]}``), a function that cannot take ``spec``, a grid
            nested inside a grid or a choice, or a hyperopt expression outside HyperOptSearch.
    """
    if config is None:
        return
    if not isinstance(config, Mapping):
        raise ValueError(f"config must be a dict, got {type(config).__name__}: {config!r}.")
    _walk(config, (), [], None, allow_hyperopt)


def validate_point(point: Mapping[tuple, Any], config: Mapping[str, Any], index: int) -> None:
    """Checks one flattened point to evaluate (``{path: value}``) against the config.

    With an empty config a point is a whole config and anything goes. Otherwise every
    path must name a setting of the config (a key of its dicts), and every value must be
    a value to try, not a search space.

    Args:
        point: The point, flattened by :func:`~tuneflows.search.config_paths.flatten_points`.
        config: The experiment's config.
        index: The point's index in ``points_to_evaluate``, for the message.

    Raises:
        ValueError: naming the point's index and the key, e.g.
            ``points_to_evaluate[1] sets 'lrr', which the config does not have``.

    Example:
        >>> from tuneflows.search import uniform
        >>> validate_point({("lr",): 0.1}, {"lr": uniform(0, 1)}, 0)
        >>> validate_point({("lrr",): 0.1}, {"lr": uniform(0, 1), "bs": 32}, 2)
        Traceback (most recent call last):
        ...
        ValueError: points_to_evaluate[2] sets 'lrr', which the config does not have; its keys are 'lr', 'bs'.
    """
    if not config:
        return
    for path, value in point.items():
        where = format_path(path)
        if isinstance(value, Domain) or is_grid_dict(value):
            raise ValueError(
                f"points_to_evaluate[{index}][{where!r}] is a search space "
                f"({type(to_domain(value)).__name__}), not a value; a point gives the "
                f"values to try first.")
        node: Any = config
        for depth, key in enumerate(path):
            if not isinstance(node, Mapping) or is_grid_dict(node) or key not in node:
                holder = format_path(path[:depth])
                if isinstance(node, Mapping) and not is_grid_dict(node):
                    keys = ", ".join(repr(str(k)) for k in node)
                    inside = f"its {holder!r} has" if holder else "its keys are"
                    detail = f"; {inside} {keys}" if keys else ""
                else:
                    detail = f"; {holder!r} is a single setting, not a dict of them"
                raise ValueError(f"points_to_evaluate[{index}] sets {where!r}, which the "
                                 f"config does not have{detail}.")
            node = node[key]


def grid_variables(config: Mapping[str, Any]) -> list[tuple[tuple, list]]:
    """The grids of ``config`` as ``[(path, values), ...]`` in config order.

    Raises:
        ValueError: as :func:`validate_config` (hyperopt expressions are allowed).
    """
    grids: list[tuple[tuple, list]] = []
    _walk(config or {}, (), grids, None, True)
    return grids


def _walk(value: Any, path: tuple, grids: list, nested_in: Optional[str],
          allow_hyperopt: bool) -> None:
    where = format_path(path) or "<config>"
    if is_hyperopt_expression(value):
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
        for v in value.values:
            _walk(v, path, grids, f"grid_search at {where!r}", allow_hyperopt)
    elif isinstance(value, Choice):
        for v in value.categories:
            _walk(v, path, grids, nested_in or f"choice at {where!r}", allow_hyperopt)
    elif isinstance(value, Domain):
        return
    elif isinstance(value, Mapping):
        misspelled = misspelled_search_space(value)
        if misspelled is not None:
            raise ValueError(f"config[{where!r}]: {next(iter(value))!r} is not a search space "
                             f"(did you mean {misspelled!r}?); a plain dict needs another key.")
        for k, v in value.items():
            _walk(v, path + (k,), grids, nested_in, allow_hyperopt)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _walk(v, path + (i,), grids, nested_in, allow_hyperopt)
    elif not isinstance(value, PLAIN_TYPES) and not callable(value):
        check_picklable(value, where)


#: Config values that always reach a trial's process.
PLAIN_TYPES = (type(None), bool, int, float, str, bytes)


def check_picklable(value: Any, where: str) -> None:
    """Checks that a config value can be sent to a trial's process (pickled).

    Raises:
        ValueError: Naming ``where`` and why, e.g. for a lock.

    Example:
        >>> import threading
        >>> check_picklable(threading.Lock(), "guard")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: config value at 'guard' (a lock) cannot be sent to a trial's process: ...
    """
    try:
        pickle.dumps(value)
    except Exception as exc:  # noqa: BLE001 - any pickling failure names the key
        raise ValueError(f"config value at {where!r} (a {type(value).__name__}) cannot be sent "
                         f"to a trial's process: {exc}. Create it inside the trainable, or "
                         f"pass what builds it.") from None
