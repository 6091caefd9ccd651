"""A list that only grows at its end: the part of a scheduler's or searcher's state
that is written once, item by item, instead of whole at every state write.

A decision object whose state grows with the trials (HyperOpt's documents, one a
trial) returns that part from ``get_state()`` as an :class:`AppendOnlyList` of plain
data. It is still a list (it survives JSON, and ``set_state`` reads it back as one),
but it promises that an item, once in it, never changes and is never removed: the
state writer (:mod:`tuneflows.runs.state_logs`) appends only the items added since its
last write to a log file beside the state, so writing the state does not cost more
as trials finish.

Example:
    >>> settled = AppendOnlyList([{"tid": 0}])
    >>> settled.append({"tid": 1})
    >>> import json; json.dumps({"settled": settled})
    '{"settled": [{"tid": 0}, {"tid": 1}]}'
"""

from __future__ import annotations

from typing import Any

__all__ = ["AppendOnlyList"]


class AppendOnlyList(list):
    """A list of plain JSON data whose items never change once appended.

    Only ``append`` and ``extend`` are meant to be used on it; the promise is the
    caller's (nothing checks it, as checking would walk every item).
    """

    def __repr__(self) -> str:
        return f"AppendOnlyList({list.__repr__(self)})"

