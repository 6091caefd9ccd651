"""Broadcasting large objects to trials through Ray's object store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tuneflows.execution.ray_session import ensure_ray

_PINNED: list[Any] = []


@dataclass(frozen=True)
class PinnedObjectId:
    """A handle to an object pinned in Ray's object store; picklable into closures."""

    ref: Any


def pin_in_object_store(obj: Any) -> PinnedObjectId:
    """Puts ``obj`` into Ray's object store and keeps it there while the driver runs.

    Starts (or joins) Ray if needed.

    Example:
        >>> import numpy as np
        >>> X_id = pin_in_object_store(np.random.random(size=1000))  # doctest: +SKIP
        >>> def f(config, reporter):
        ...     X = get_pinned_object(X_id)   # read-only array, shared, not copied
    """
    ensure_ray()
    import ray

    ref = ray.put(obj)
    _PINNED.append(ref)
    return PinnedObjectId(ref)


def get_pinned_object(pinned_id: PinnedObjectId) -> Any:
    """Fetches a pinned object (arrays come back read-only, shared in memory)."""
    import ray

    if not isinstance(pinned_id, PinnedObjectId):
        raise TypeError(f"get_pinned_object expects the id returned by pin_in_object_store, "
                        f"got {pinned_id!r}.")
    return ray.get(pinned_id.ref)
