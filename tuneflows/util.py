"""Seed-era import path ``ray.tune.util``: pinning large objects in Ray's object store
for trials to read, implemented in :mod:`tuneflows.execution.pinned_objects`.

Example:
    >>> from tuneflows.util import get_pinned_object, pin_in_object_store
    >>> pin_in_object_store.__module__
    'tuneflows.execution.pinned_objects'
"""

from tuneflows.execution.pinned_objects import get_pinned_object, pin_in_object_store

__all__ = ["get_pinned_object", "pin_in_object_store"]
