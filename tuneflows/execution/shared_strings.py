"""Results arriving from trial actors share their keys' strings with every other result.

A result crosses from the actor to the driver pickled, and unpickling makes new string
objects: every finished trial's ``last_result`` held its own copy of each key
(``"training_iteration"``, ``"time_this_iter_s"``...), ≈ 0.9 KB a trial for the 16 keys
of a result with one metric, and as much again for each nested mapping's. Interned on
arrival, a key is one object in the driver however many trials report it; so are the
values filled in the same for every result of a machine (its host name and address)
and of an experiment (its id).
"""

from __future__ import annotations

import sys
from typing import Any

from tuneflows import result as R

#: Keys whose string values repeat across results: shared like the keys.
_REPEATED_VALUES = frozenset({R.HOSTNAME, R.NODE_IP, R.EXPERIMENT_ID})


def with_shared_strings(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` with its keys (and nested mappings' keys) and its repeated values
    interned; the same items in the same order.

    Example:
        >>> import pickle
        >>> first, second = (pickle.loads(pickle.dumps({"loss": 1, "hostname": "vm"}))
        ...                  for _ in range(2))
        >>> [a is b for a, b in zip(first, second)]
        [False, False]
        >>> first, second = with_shared_strings(first), with_shared_strings(second)
        >>> [a is b for a, b in zip(first, second)], first["hostname"] is second["hostname"]
        ([True, True], True)
    """
    return {_shared(key): _shared_value(key, value) for key, value in result.items()}


def _shared(key: Any) -> Any:
    return sys.intern(key) if type(key) is str else key


def _shared_value(key: Any, value: Any) -> Any:
    if type(value) is dict:
        return with_shared_strings(value)
    if type(value) is str and key in _REPEATED_VALUES:
        return sys.intern(value)
    return value
