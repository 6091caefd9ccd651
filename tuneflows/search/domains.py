"""Search space domains: typed value sets (``uniform``, ``choice``…) to sample from.

Every primitive is a :class:`Domain` with ``sample(rng, spec=None)``; arguments are checked
when the domain is built and a bad one is named in the error. The same domains drive random
search (:mod:`tuneflows.search.variant_generator`) and TPE
(:mod:`tuneflows.search.hyperopt_conversion` converts them to ``hp.*``).

Example:
    >>> import numpy as np
    >>> from tuneflows.search import domains
    >>> rng = np.random.default_rng(0)
    >>> 1e-4 <= domains.loguniform(1e-4, 1e-1).sample(rng) <= 1e-1
    True
    >>> domains.grid_search([0.2, 0.4]).values
    [0.2, 0.4]
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

from tuneflows.error import SpecError
from tuneflows.search.spec_view import SpecView

__all__ = [
    "Domain",
    "Float",
    "Uniform",
    "QUniform",
    "LogUniform",
    "QLogUniform",
    "RandInt",
    "Choice",
    "RandN",
    "GridSearch",
    "SampleFrom",
    "uniform",
    "quniform",
    "loguniform",
    "qloguniform",
    "randint",
    "choice",
    "randn",
    "grid_search",
    "sample_from",
    "as_rng",
]


def as_rng(rng: Any = None) -> np.random.Generator:
    """Returns a numpy ``Generator`` from a Generator, an int seed or None (fresh entropy)."""
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {value!r}.")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}.")
    return value


def _clean(x: float) -> float:
    """Removes float noise from quantised values (3 * 0.1 -> 0.3)."""
    return float(f"{x:.12g}")


class Domain:
    """A set of values to sample from. Subclasses implement :meth:`sample`."""

    def sample(self, rng: Any = None, spec: Any = None) -> Any:
        """Draws one value.

        Args:
            rng: A ``numpy.random.Generator`` (or a seed, or None for fresh entropy).
            spec: The trial spec view; only :class:`SampleFrom` uses it.
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: Any) -> bool:
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash((type(self).__name__, repr(self)))


class Float(Domain):
    """Base of the bounded continuous domains (``low < high``)."""

    def __init__(self, low: float, high: float, q: Optional[float] = None):
        self.low = _number("low", low)
        self.high = _number("high", high)
        if self.low >= self.high:
            raise ValueError(
                f"{type(self).__name__}: low must be below high, got low={low!r}, high={high!r}."
            )
        if q is not None:
            q = _number("q", q)
            if q <= 0:
                raise ValueError(f"{type(self).__name__}: q must be > 0, got q={q!r}.")
            lo, hi = math.ceil(self.low / q - 1e-9), math.floor(self.high / q + 1e-9)
            if lo > hi:
                raise ValueError(
                    f"{type(self).__name__}: no multiple of q={q!r} lies in "
                    f"[{low!r}, {high!r}]."
                )
        self.q = q

    def quantize(self, x: float) -> float:
        """Rounds ``x`` to a multiple of ``q`` inside ``[low, high]`` (identity if no q)."""
        if self.q is None:
            return float(min(max(x, self.low), self.high))
        k = round(x / self.q)
        lo, hi = math.ceil(self.low / self.q - 1e-9), math.floor(self.high / self.q + 1e-9)
        return _clean(min(max(k, lo), hi) * self.q)


class Uniform(Float):
    """Uniform on ``[low, high)``."""

    def __init__(self, low: float, high: float):
        super().__init__(low, high)

    def sample(self, rng: Any = None, spec: Any = None) -> float:
        return float(as_rng(rng).uniform(self.low, self.high))


class QUniform(Float):
    """``round(uniform(low, high) / q) * q``, kept inside ``[low, high]``."""

    def __init__(self, low: float, high: float, q: float):
        super().__init__(low, high, q)

    def sample(self, rng: Any = None, spec: Any = None) -> float:
        return self.quantize(float(as_rng(rng).uniform(self.low, self.high)))


class LogUniform(Float):
    """Log of the value uniform on ``[log(low), log(high))``; ``0 < low < high``.

    ``base`` is accepted for Ray Tune compatibility; the distribution does not depend on it.
    """

    def __init__(self, low: float, high: float, base: float = 10, q: Optional[float] = None):
        if _number("low", low) <= 0:
            raise ValueError(
                f"{type(self).__name__}: low must be > 0 for a log scale, got low={low!r}."
            )
        super().__init__(low, high, q)
        self.base = _number("base", base)
        if self.base <= 0 or self.base == 1:
            raise ValueError(f"{type(self).__name__}: base must be > 0 and != 1, got {base!r}.")

    def sample(self, rng: Any = None, spec: Any = None) -> float:
        x = float(np.exp(as_rng(rng).uniform(math.log(self.low), math.log(self.high))))
        return self.quantize(x)


class QLogUniform(LogUniform):
    """``round(loguniform(low, high) / q) * q``, kept inside ``[low, high]``."""

    def __init__(self, low: float, high: float, q: float, base: float = 10):
        super().__init__(low, high, base=base, q=q)


class RandInt(Domain):
    """An integer uniform on ``[low, high)`` (upper bound excluded, as Ray Tune and hyperopt)."""

    def __init__(self, low: int, high: Optional[int] = None):
        if high is None:
            low, high = 0, low
        for name, v in (("low", low), ("high", high)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise ValueError(f"RandInt: {name} must be an int, got {name}={v!r}.")
        if low >= high:
            raise ValueError(f"RandInt: low must be below high, got low={low!r}, high={high!r}.")
        self.low, self.high = int(low), int(high)

    def sample(self, rng: Any = None, spec: Any = None) -> int:
        return int(as_rng(rng).integers(self.low, self.high))


class Choice(Domain):
    """One of ``categories``, uniformly. A category may hold further domains (conditional spaces)."""

    def __init__(self, categories: Sequence[Any]):
        if isinstance(categories, (str, bytes, Mapping)) or not isinstance(
            categories, (list, tuple, range)
        ):
            raise ValueError(f"Choice: categories must be a list, got {categories!r}.")
        if len(categories) == 0:
            raise ValueError("Choice: categories must not be empty, got [].")
        self.categories = list(categories)

    def sample(self, rng: Any = None, spec: Any = None) -> Any:
        return self.categories[int(as_rng(rng).integers(len(self.categories)))]


class RandN(Domain):
    """Normal with ``mean`` and standard deviation ``sd > 0``."""

    def __init__(self, mean: float = 0.0, sd: float = 1.0):
        self.mean = _number("mean", mean)
        self.sd = _number("sd", sd)
        if self.sd <= 0:
            raise ValueError(f"RandN: sd must be > 0, got sd={sd!r}.")

    def sample(self, rng: Any = None, spec: Any = None) -> float:
        return float(as_rng(rng).normal(self.mean, self.sd))


class GridSearch(Domain):
    """Every value in turn: the variant generator makes one trial per value.

    ``sample`` (used only outside grid expansion) picks one value uniformly.
    """

    def __init__(self, values: Sequence[Any]):
        if isinstance(values, (str, bytes, Mapping)) or not isinstance(
            values, (list, tuple, range)
        ):
            raise SpecError(f"grid_search: values must be a list, got {values!r}.")
        if len(values) == 0:
            raise SpecError("grid_search: values must not be empty, got [].")
        self.values = list(values)

    def sample(self, rng: Any = None, spec: Any = None) -> Any:
        return self.values[int(as_rng(rng).integers(len(self.values)))]


class SampleFrom(Domain):
    """A value computed by ``fn(spec)``: conditional and dependent values.

    ``spec`` is a :class:`SpecView` of the trial spec: ``spec.config.lr`` (or
    ``spec["config"]["lr"]``) reads another, already resolved, config value.
    """

    def __init__(self, fn: Callable[[Any], Any]):
        if not callable(fn):
            raise ValueError(f"sample_from: fn must be callable, got {fn!r}.")
        self.fn = fn

    def sample(self, rng: Any = None, spec: Any = None) -> Any:
        return self.fn(spec if spec is not None else SpecView({"config": {}}))

    def __eq__(self, other: Any) -> bool:
        return type(other) is SampleFrom and other.fn is self.fn

    def __hash__(self) -> int:
        return id(self.fn)


# ---- constructors (the public spelling, as Ray Tune) -------------------------------------


def uniform(low: float, high: float) -> Uniform:
    """Float uniform on ``[low, high)``."""
    return Uniform(low, high)


def quniform(low: float, high: float, q: float) -> QUniform:
    """Float uniform on ``[low, high]`` rounded to a multiple of ``q``."""
    return QUniform(low, high, q)


def loguniform(low: float, high: float, base: float = 10) -> LogUniform:
    """Float with a uniform logarithm on ``[low, high)``; ``low > 0``."""
    return LogUniform(low, high, base)


def qloguniform(low: float, high: float, q: float, base: float = 10) -> QLogUniform:
    """Log-uniform float rounded to a multiple of ``q``."""
    return QLogUniform(low, high, q, base)


def randint(low: int, high: Optional[int] = None) -> RandInt:
    """Integer uniform on ``[low, high)``; ``randint(n)`` means ``[0, n)``."""
    return RandInt(low, high)


def choice(categories: Sequence[Any]) -> Choice:
    """One of ``categories`` uniformly."""
    return Choice(categories)


def randn(mean: float = 0.0, sd: float = 1.0) -> RandN:
    """Normal with ``mean`` and ``sd``."""
    return RandN(mean, sd)


def grid_search(values: Sequence[Any]) -> GridSearch:
    """Grid over ``values``: one trial per value (times the other grids, times num_samples).

    The seed's dict form ``{"grid_search": [...]}`` is accepted in configs too.
    """
    return GridSearch(values)


def sample_from(fn: Callable[[Any], Any]) -> SampleFrom:
    """A value computed by ``fn(spec)``, e.g. ``sample_from(lambda spec: spec.config.lr * 2)``."""
    return SampleFrom(fn)
