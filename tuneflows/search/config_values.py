"""Normalises config values: grid dicts and plain functions become domains, the rest constants.

A ``{"grid_search": [...]}`` dict (the seed's form) is a
:class:`~tuneflows.search.domains.GridSearch`, a plain function (``lambda spec: ...``) is a
:class:`~tuneflows.search.domains.SampleFrom`, a domain stays itself, anything else is a
constant.

Example:
    >>> to_domain({"grid_search": [1, 2]})
    GridSearch(values=[1, 2])
    >>> to_domain(0.5), is_grid_dict({"grid_search": [1]})
    (0.5, True)
"""

from __future__ import annotations

import inspect
import types
from typing import Any, Callable, Mapping

from tuneflows.search.domains import Domain, GridSearch, SampleFrom

__all__ = ["is_grid_dict", "to_domain"]


def is_grid_dict(value: Any) -> bool:
    """True for the seed's ``{"grid_search": [...]}`` form."""
    return isinstance(value, Mapping) and "grid_search" in value


def to_domain(value: Any, path: str = "") -> Any:
    """Normalises one config value: a Domain, or the value itself when it is a constant.

    ``{"grid_search": values}`` becomes :class:`GridSearch`; a plain function
    (``types.FunctionType``: lambdas and ``def`` functions, not classes or builtins) becomes
    :class:`SampleFrom`, as in Ray Tune. To pass a function as a constant value, wrap it:
    ``sample_from(lambda spec: my_fn)``.

    Raises:
        ValueError: naming ``path`` for a malformed grid dict or function.
    """
    where = f" at {path!r}" if path else ""
    if isinstance(value, Domain):
        return value
    if is_grid_dict(value):
        if len(value) != 1:
            raise ValueError(
                f"grid_search dict{where} must have the single key 'grid_search', "
                f"got keys {sorted(map(str, value))}."
            )
        try:
            return GridSearch(value["grid_search"])
        except ValueError as e:
            raise ValueError(f"{e.args[0][:-1]}{where}.") from None
    if isinstance(value, types.FunctionType):
        _check_spec_fn(value, where)
        return SampleFrom(value)
    return value


def _check_spec_fn(fn: Callable, where: str) -> None:
    try:
        inspect.signature(fn).bind(None)
    except TypeError:
        raise ValueError(
            f"function{where} is taken as sample_from and must accept one argument (spec); "
            f"got {getattr(fn, '__qualname__', fn)!r}. To pass a function as a constant, use "
            f"sample_from(lambda spec: fn)."
        ) from None
    except ValueError:  # no signature available
        pass
