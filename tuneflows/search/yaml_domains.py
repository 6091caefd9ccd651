"""Search spaces written in YAML, read into the search layer's domains.

A single-key mapping naming a domain, with its
arguments as a list, becomes that domain (``{uniform: [0.1, 0.6]}`` is
``tuneflows.uniform(0.1, 0.6)``); the seed's ``{grid_search: [...]}`` stays as it is. A
single-key mapping whose key is close to a domain's name is taken for a misspelled
domain and refused; other mappings are plain config values.

Example:
    >>> space = yaml_config({"lr": {"uniform": [0.1, 0.6]}, "act": {"choice": [["relu", "tanh"]]},
    ...                      "net": {"layers": {"randint": [1, 4]}}, "bs": 32})
    >>> type(space["lr"]).__name__, space["lr"].low, space["net"]["layers"].high, space["bs"]
    ('Uniform', 0.1, 4, 32)
    >>> yaml_config({"lr": {"uniform": 0.1}})
    Traceback (most recent call last):
    ...
    ValueError: config['lr']: {uniform: ...} takes a list of arguments, e.g. {uniform: [0.1, 0.6]}; got 0.1.
    >>> yaml_config({"lr": {"unifrom": [0.1, 0.6]}})
    Traceback (most recent call last):
    ...
    ValueError: config['lr']: unknown search-space domain 'unifrom' (did you mean 'uniform'?).
    >>> yaml_config({"net": {"units": 3}})  # a plain mapping
    {'net': {'units': 3}}
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

from tuneflows.model.by_name import close_names
from tuneflows.search import domains

#: The domains a YAML spec can name, by name.
YAML_DOMAINS: dict[str, Callable[..., Any]] = {
    name: getattr(domains, name)
    for name in ("uniform", "quniform", "loguniform", "qloguniform", "randint", "randn", "choice")
}
#: The single keys of search-space mappings: the domains and the seed's grid.
SEARCH_SPACE_KEYS = (*YAML_DOMAINS, "grid_search")


def yaml_config(config: Mapping[str, Any], path: str = "config") -> dict[str, Any]:
    """``config`` with every YAML domain mapping replaced by its domain.

    Raises:
        ValueError: A domain's arguments are not a list or do not fit it, or a single-key
            mapping's key looks like a misspelled domain (names the key).
    """
    converted: dict[str, Any] = {}
    for key, value in config.items():
        where = f"{path}[{key!r}]"
        misspelled = misspelled_search_space(value)
        if misspelled is not None:
            raise ValueError(f"{where}: unknown search-space domain {next(iter(value))!r} "
                             f"(did you mean {misspelled!r}?).")
        if isinstance(value, Mapping) and len(value) == 1 and next(iter(value)) in YAML_DOMAINS:
            [(name, args)] = value.items()
            if not isinstance(args, list):
                raise ValueError(f"{where}: {{{name}: ...}} takes a list of arguments, e.g. "
                                 f"{{uniform: [0.1, 0.6]}}; got {args!r}.")
            try:
                converted[key] = YAML_DOMAINS[name](*args)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{where}: {{{name}: {args!r}}} is not a valid domain: "
                                 f"{exc}") from exc
        elif isinstance(value, Mapping) and "grid_search" not in value:
            converted[key] = yaml_config(value, where)
        else:
            converted[key] = value
    return converted


def misspelled_search_space(value: Any) -> Optional[str]:
    """The search-space key (a domain's name, ``grid_search``) a single-key mapping's
    unknown key is close to, if any: the rule of YAML specs and the Python API alike.

    Example:
        >>> misspelled_search_space({"grid_serach": [1, 2]}), misspelled_search_space({"units": 3})
        ('grid_search', None)
    """
    if not isinstance(value, Mapping) or len(value) != 1:
        return None
    name = next(iter(value))
    if not isinstance(name, str) or name in SEARCH_SPACE_KEYS:
        return None
    close = close_names(name, SEARCH_SPACE_KEYS, n=1)
    return close[0] if close else None
