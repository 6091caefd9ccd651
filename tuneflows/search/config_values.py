"""Normalises config values: grid dicts and plain functions become domains, the rest constants.

A ``{"grid_search": [...]}`` dict (the seed's form) is a
:class:`~tuneflows.search.domains.GridSearch`, a plain function (``lambda spec: ...``) is a
:class:`~tuneflows.search.domains.SampleFrom`, and so is the seed's ``{"eval": "<python
expression>"}`` (a lambda written in JSON or YAML: the expression is evaluated with
``spec``, ``random`` and ``np`` in scope, as the seed's variant generator did); a domain
stays itself, anything else is a constant.

Example:
    >>> to_domain({"grid_search": [1, 2]})
    GridSearch(values=[1, 2])
    >>> to_domain(0.5), is_grid_dict({"grid_search": [1]})
    (0.5, True)
    >>> to_domain({"eval": "2 + 2"}).sample()
    4
"""

from __future__ import annotations

import inspect
import random
import types
from typing import Any, Callable, Mapping

import numpy as np

from tuneflows.search.domains import Domain, GridSearch, SampleFrom

__all__ = ["EvalExpression", "is_eval_dict", "is_grid_dict", "to_domain"]


def is_grid_dict(value: Any) -> bool:
    """True for the seed's ``{"grid_search": [...]}`` form."""
    return isinstance(value, Mapping) and "grid_search" in value


def is_eval_dict(value: Any) -> bool:
    """True for the seed's ``{"eval": "<expression>"}`` form (a dict of that one key)."""
    return isinstance(value, Mapping) and len(value) == 1 and "eval" in value


class EvalExpression:
    """The function an ``{"eval": expression}`` config value stands for: ``fn(spec)``
    evaluates the expression with ``spec`` (the trial spec, ``spec.config.x``),
    ``random`` and ``np`` in scope. Compiled when made, so a syntax error is found
    before any trial starts.

    Args:
        expression: The Python expression.
        where: The config path, named in errors.

    Raises:
        ValueError: The expression is not a string or does not compile.
    """

    def __init__(self, expression: Any, where: str = ""):
        at = f" at {where!r}" if where else ""
        if not isinstance(expression, str):
            raise ValueError(f"eval value{at} must be a Python expression (a string), got "
                             f"{expression!r}.")
        try:
            self._code = compile(expression, f"<eval{at}>", "eval")
        except SyntaxError as exc:
            raise ValueError(f"eval expression{at} {expression!r} is not valid Python: "
                             f"{exc.msg}.") from None
        self.expression = expression

    def __call__(self, spec: Any) -> Any:
        return eval(self._code, {"random": random, "np": np}, {"spec": spec})  # noqa: S307

    def __repr__(self) -> str:
        return f"eval({self.expression!r})"


def to_domain(value: Any, path: str = "") -> Any:
    """Normalises one config value: a Domain, or the value itself when it is a constant.

    ``{"grid_search": values}`` becomes :class:`GridSearch`, ``{"eval": expression}`` a
    :class:`SampleFrom` of an :class:`EvalExpression`; a plain function
    (``types.FunctionType``: lambdas and ``def`` functions, not classes or builtins) becomes
    :class:`SampleFrom`, as in Ray Tune. To pass a function as a constant value, wrap it:
    ``sample_from(lambda spec: my_fn)``.

    Raises:
        ValueError: naming ``path`` for a malformed grid dict, function or expression.
    """
    where = f" at {path!r}" if path else ""
    if isinstance(value, Domain):
        return value
    if is_eval_dict(value):
        return SampleFrom(EvalExpression(value["eval"], path))
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
