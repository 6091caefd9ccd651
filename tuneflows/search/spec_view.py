"""The read-only trial spec that ``sample_from`` functions read, with its unresolved values.

A ``sample_from`` function gets a :class:`SpecView`: ``spec.config.lr`` (or
``spec["config"]["lr"]``) reads another config value. While a config is being resolved,
values still to be computed are :class:`PendingValue` placeholders; reading one raises
:class:`UnresolvedValueError`, which tells the resolver to call that function again later.

Example:
    >>> spec = SpecView({"config": {"lr": 0.1, "layers": [32, 32]}})
    >>> spec.config.lr, spec["config"]["layers"]
    (0.1, [32, 32])
    >>> spec.config.to_dict()
    {'lr': 0.1, 'layers': [32, 32]}
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping, Optional

from tuneflows.error import SpecError

__all__ = ["SpecView", "PendingValue", "RecursiveDependencyError", "UnresolvedValueError"]


class RecursiveDependencyError(SpecError):
    """``sample_from`` values that depend on each other in a cycle (the seed's name, in
    ``ray.tune.variant_generator``); the message reads "`x` recursively depends on `y`".
    """


class UnresolvedValueError(LookupError):
    """A ``sample_from`` function read a value that is not resolved yet (retried later)."""

    def __init__(self, path: str):
        super().__init__(f"{path!r} is not resolved yet")
        self.path = path


class PendingValue:
    """Placeholder for a value still to be computed (a ``sample_from``, during resolution).

    Args:
        domain: The :class:`~tuneflows.search.domains.SampleFrom` that computes it.
        path: Its config path (``"a/b"``), named in errors.
    """

    __slots__ = ("domain", "path")

    def __init__(self, domain: Any, path: str):
        self.domain = domain
        self.path = path

    def __repr__(self) -> str:
        return f"<unresolved {self.path}>"


def _find_pending(value: Any) -> Optional[str]:
    """The path of the first :class:`PendingValue` inside ``value`` (dicts, lists), or None."""
    if isinstance(value, PendingValue):
        return value.path
    if isinstance(value, Mapping):
        children = value.values()
    elif isinstance(value, (list, tuple)):
        children = value
    else:
        return None
    for child in children:
        path = _find_pending(child)
        if path:
            return path
    return None


class SpecView(Mapping):
    """Read-only, attribute-accessible view of a (partly resolved) trial spec.

    ``spec.config.lr`` and ``spec["config"]["lr"]`` both work. Reading a value that is
    still unresolved raises :class:`UnresolvedValueError`, which makes the resolver retry
    that function after the others. Config keys named like Mapping methods (``items``,
    ``values``, ``get``, ``keys``) are reached with ``spec.config["values"]``.
    """

    __slots__ = ("_data", "_path")

    def __init__(self, data: Mapping[str, Any], path: str = ""):
        object.__setattr__(self, "_data", data)
        object.__setattr__(self, "_path", path)

    def __getitem__(self, key: Any) -> Any:
        value = self._data[key]
        path = f"{self._path}/{key}" if self._path else str(key)
        if isinstance(value, Mapping):
            return SpecView(value, path)
        pending = _find_pending(value)
        if pending:
            raise UnresolvedValueError(pending)
        return value

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            where = self._path or "spec"
            raise AttributeError(
                f"{where} has no key {name!r}; its keys are {sorted(map(str, self._data))}"
            ) from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise TypeError("the spec is read-only inside sample_from")

    def __iter__(self) -> Iterator[Any]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"SpecView({dict(self._data)!r})"

    def to_dict(self) -> dict:
        """A plain-dict copy (raises UnresolvedValueError if something is unresolved)."""
        return {k: (v.to_dict() if isinstance(v, SpecView) else v) for k, v in self.items()}

    def __getstate__(self) -> Any:
        return (self._data, self._path)

    def __setstate__(self, state: Any) -> None:
        object.__setattr__(self, "_data", state[0])
        object.__setattr__(self, "_path", state[1])
