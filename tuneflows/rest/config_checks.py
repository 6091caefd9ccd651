"""Checks on the configs a Client API request sends: a JSON object the spec validator
accepts, and resolved (plain values: no ``grid_search``, search domain or lambda).

Example:
    >>> check_client_config({"lr": 0.1})
    >>> check_client_config([1])
    Traceback (most recent call last):
    ...
    ValueError: spec['config'] must be a JSON object, got list.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from tuneflows.search import Domain, validate_config


def check_resolved_config(config: Any, path: str = "") -> None:
    """Checks that a client-added config is resolved: no ``grid_search``, no search
    domains (``tuneflows.uniform(...)``...), no ``sample_from``/lambdas.

    Args:
        config: The config to check (nested dicts and lists are walked).
        path: Where ``config`` sits, for messages (``"a/b"``).

    Raises:
        ValueError: Naming the first unresolved key.

    Example:
        >>> check_resolved_config({"lr": 0.1, "net": {"layers": [64, 64]}})
        >>> check_resolved_config({"net": {"lr": {"grid_search": [1, 2]}}})
        Traceback (most recent call last):
        ...
        ValueError: config key 'net/lr' is a grid_search; a client-added trial needs a resolved config (plain values).
    """
    where = path or "<config>"
    if isinstance(value := config, Mapping):
        if "grid_search" in value:
            raise ValueError(f"config key {where!r} is a grid_search; a client-added trial "
                             f"needs a resolved config (plain values).")
        for k, v in value.items():
            check_resolved_config(v, f"{path}/{k}" if path else str(k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            check_resolved_config(v, f"{path}/{i}" if path else str(i))
    elif isinstance(value, Domain) or callable(value):
        raise ValueError(f"config key {where!r} is a search domain ({value!r}); a client-added "
                         f"trial needs a resolved config (plain values).")
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"config key {where!r} is {value!r}; a client-added trial's config "
                         f"holds plain JSON values (finite numbers).")


def check_client_config(config: Any) -> None:
    """Checks a config a client sends to ``/api/trials``: a JSON object that the spec
    validator accepts, resolved (:func:`check_resolved_config`).

    Raises:
        ValueError: Naming the first bad key.
    """
    if not isinstance(config, dict):
        raise ValueError(f"spec['config'] must be a JSON object, got {type(config).__name__}.")
    validate_config(config)
    check_resolved_config(config)
