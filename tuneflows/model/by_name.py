"""Building an algorithm by its registered name, with its keyword arguments checked first.

Pure and dependency-free, so that both decision packages (``tuneflows.schedulers`` and
``tuneflows.search``) look their algorithms up by name the same way.
"""

from __future__ import annotations

import difflib
import inspect
from typing import Any, Iterable, Mapping, Optional, TypeVar

T = TypeVar("T")

#: How close (``difflib`` ratio) a name must be to a known one to be taken for a typo of it.
TYPO_CUTOFF = 0.75


def close_names(name: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """The known names ``name`` is probably a typo of, closest first: the one rule for
    "did you mean" everywhere (spec keys, search-space domains, algorithm names, a run
    module's functions).

    Example:
        >>> close_names("stpo", ["stop", "config", "repeat"])
        ['stop']
    """
    return difflib.get_close_matches(name, list(choices), n=n, cutoff=TYPO_CUTOFF)


def close_name_hint(name: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for a name close to known ones, else "".

    Example:
        >>> close_name_hint("asah", ["asha", "pbt"]), close_name_hint("bohb", ["asha", "pbt"])
        (" (did you mean 'asha'?)", '')
    """
    close = close_names(name, choices)
    return f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""


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
        key = str(name).strip().lower().replace("-", "_")
        raise ValueError(f"Unknown {kind} {name!r}{close_name_hint(key, registry)}; valid "
                         f"names: {sorted(registry)}.")
    valid = list(inspect.signature(cls).parameters)
    unknown = sorted(set(kwargs) - set(valid))
    if unknown:
        hint = close_name_hint(unknown[0], valid) if len(unknown) == 1 else ""
        raise ValueError(
            f"Unknown keyword argument(s) {unknown}{hint} for {kind} {name!r} "
            f"({cls.__name__}); valid: {valid}."
        )
    return cls(**kwargs)
