"""Building an algorithm by its registered name, with its keyword arguments checked first.

Pure and dependency-free, so that both decision packages (``tuneflows.schedulers`` and
``tuneflows.search``) look their algorithms up by name the same way.
"""

from __future__ import annotations

import inspect
from typing import Any, Mapping, Optional, TypeVar

T = TypeVar("T")


def registered_class(registry: Mapping[str, type[T]], name: str) -> Optional[type[T]]:
    """The class registered under ``name`` (case-insensitive, ``-`` read as ``_``), or None.

    Example:
        >>> registered_class({"async_hyperband": int}, " Async-HyperBand ")
        <class 'int'>
    """
    return registry.get(str(name).strip().lower().replace("-", "_"))


def build_by_name(kind: str, registry: Mapping[str, type[T]], name: str, **kwargs: Any) -> T:
    """Builds ``registry[name](**kwargs)`` after checking the name and the keywords.

    Names are case-insensitive and ``-`` reads as ``_`` (``"Async-HyperBand"`` finds
    ``"async_hyperband"``), so registry keys are lower case with underscores.

    Args:
        kind: What the registry holds (``"scheduler"``, ``"searcher"``), for messages.
        registry: Lower-case names to classes.
        name: The name to look up.
        **kwargs: Constructor arguments; each must be a parameter of the class.

    Returns:
        The new instance.

    Raises:
        ValueError: For an unknown name (listing the valid ones) or unknown keyword
            arguments (naming them and listing the valid ones).

    Example:
        >>> from tuneflows.schedulers import SCHEDULERS
        >>> scheduler = build_by_name("scheduler", SCHEDULERS, "Async-HyperBand", metric="loss",
        ...                           mode="min")
        >>> type(scheduler).__name__, scheduler.metric
        ('AsyncHyperBandScheduler', 'loss')
        >>> build_by_name("scheduler", SCHEDULERS, "bohb")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: Unknown scheduler 'bohb'; valid names: ['asha', ...].
        >>> build_by_name("scheduler", SCHEDULERS, "fifo", grace=3)
        Traceback (most recent call last):
        ...
        ValueError: Unknown keyword argument(s) ['grace'] for scheduler 'fifo' (FIFOScheduler); valid: ['seed'].
    """
    cls = registered_class(registry, name)
    if cls is None:
        raise ValueError(f"Unknown {kind} {name!r}; valid names: {sorted(registry)}.")
    valid = list(inspect.signature(cls).parameters)
    unknown = sorted(set(kwargs) - set(valid))
    if unknown:
        raise ValueError(
            f"Unknown keyword argument(s) {unknown} for {kind} {name!r} "
            f"({cls.__name__}); valid: {valid}."
        )
    return cls(**kwargs)
