"""Plain, JSON-friendly copies of nested data: dicts, lists and Python scalars only.

Searcher state goes through this before :meth:`~tuneflows.search.Searcher.get_state`
returns it, so it survives JSON (which then only turns int keys into strings).

Example:
    >>> import numpy as np
    >>> from types import MappingProxyType
    >>> plain_data(MappingProxyType({"a": (np.float64(0.5), [np.int64(2)])}))
    {'a': [0.5, [2]]}
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

__all__ = ["plain_data"]


def plain_data(value: Any) -> Any:
    """Mappings become dicts, lists and tuples lists, numpy scalars Python ones (recursively).

    Containers are new; other values are returned as they are.
    """
    if isinstance(value, Mapping):
        return {k: plain_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_data(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
