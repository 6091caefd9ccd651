"""The one conversion of nested values to plain JSON data: mappings become dicts with
string keys, lists, tuples and sets lists, numpy scalars and arrays Python numbers and
lists, NaN and infinities None; what JSON cannot hold becomes its ``repr`` (or what
``unknown`` makes of it). Pure; numpy is recognised without importing it.

Example:
    >>> import numpy as np
    >>> plain_json({"a": (np.float64(0.5), [np.int64(2)]), 3: float("nan"), "f": len})
    {'a': [0.5, [2]], '3': None, 'f': '<built-in function len>'}
    >>> plain_data({1: (np.float64(0.5), float("inf"))})
    {1: [0.5, inf]}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Callable

_SCALARS = (str, int, bool, type(None))
_SEQUENCES = (list, tuple, set, frozenset)


def plain_json(value: Any, *, unknown: Callable[[Any], Any] = repr, keep_keys: bool = False,
               keep_non_finite: bool = False) -> Any:
    """``value`` as plain JSON data (containers are new).

    Args:
        value: Nested mappings, sequences and scalars.
        unknown: What becomes of a value JSON cannot hold (default: its ``repr``).
        keep_keys: Keep mapping keys as they are instead of making them strings.
        keep_non_finite: Keep NaN and infinities instead of making them None.
    """
    def walk(item: Any) -> Any:
        kind = type(item)  # the plain types first, by identity: most of a state is them
        if kind is dict:
            return {(k if keep_keys else str(k)): walk(v) for k, v in item.items()}
        if kind in _SCALARS:
            return item
        if kind is float:
            return item if keep_non_finite or math.isfinite(item) else None
        if kind in _SEQUENCES:
            return [walk(v) for v in item]
        if kind.__module__ == "numpy" and hasattr(item, "tolist"):
            return walk(item.tolist())
        if item is None or isinstance(item, (bool, int, str)):
            return item
        if isinstance(item, float):
            return item if keep_non_finite or math.isfinite(item) else None
        if isinstance(item, Mapping):
            return {(k if keep_keys else str(k)): walk(v) for k, v in item.items()}
        if isinstance(item, (list, tuple, set, frozenset)):
            return [walk(v) for v in item]
        return unknown(item)

    return walk(value)


def plain_data(value: Any) -> Any:
    """``value`` with new plain containers and numpy scalars as Python ones; keys, NaN
    and other objects are kept (what searchers' and schedulers' state and configs go
    through, so they survive JSON)."""
    return plain_json(value, unknown=_same, keep_keys=True, keep_non_finite=True)


def _same(value: Any) -> Any:
    return value
