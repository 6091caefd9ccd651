"""Search spaces and search algorithms.

Primitives (``uniform``, ``loguniform``, ``choice``, ``grid_search``, ``sample_from``…),
the pure :class:`Searcher` interface, grid × samples variant generation
(:class:`BasicVariantGenerator`, the default), hyperopt's TPE (:class:`HyperOptSearch`),
:class:`ConcurrencyLimiter` and :class:`TrialLimiter`. Look searchers up by name with
:func:`create_searcher` (``"variant"``, ``"random"``, ``"hyperopt"``).
"""

from __future__ import annotations

import inspect
from typing import Any

from tuneflows.search.sample import (
    Choice,
    Domain,
    GridSearch,
    LogUniform,
    QLogUniform,
    QUniform,
    RandInt,
    RandN,
    SampleFrom,
    SpecView,
    Uniform,
    choice,
    grid_search,
    loguniform,
    qloguniform,
    quniform,
    randint,
    randn,
    sample_from,
    uniform,
)
from tuneflows.search.concurrency import ConcurrencyLimiter, TrialLimiter
from tuneflows.search.hyperopt_search import HyperOptSearch
from tuneflows.search.searcher import EARLY_STOPPED, FINISHED, Searcher
from tuneflows.search.variant_generator import (
    BasicVariantGenerator,
    count_variants,
    format_vars,
    generate_variants,
    resolve_config,
    validate_config,
)

__all__ = [
    "Domain", "Uniform", "QUniform", "LogUniform", "QLogUniform", "RandInt", "Choice", "RandN",
    "GridSearch", "SampleFrom", "SpecView",
    "uniform", "quniform", "loguniform", "qloguniform", "randint", "choice", "randn",
    "grid_search", "sample_from",
    "Searcher", "FINISHED", "EARLY_STOPPED",
    "BasicVariantGenerator", "generate_variants", "resolve_config", "count_variants",
    "validate_config", "format_vars",
    "HyperOptSearch", "ConcurrencyLimiter", "TrialLimiter",
    "SEARCHERS", "create_searcher",
]

#: Searchers by name, for YAML specs and the CLI. "random" is the variant generator too:
#: random search is num_samples draws of a config holding random domains.
SEARCHERS: dict[str, type] = {
    "variant": BasicVariantGenerator,
    "random": BasicVariantGenerator,
    "hyperopt": HyperOptSearch,
}


def create_searcher(name: str, **kwargs: Any) -> Searcher:
    """Builds a searcher by name.

    Example:
        >>> create_searcher("hyperopt", metric="loss", mode="min").metric
        'loss'

    Raises:
        ValueError: for an unknown name (listing the valid ones) or an unknown keyword
            argument (listing the ones that searcher takes).
    """
    key = str(name).lower()
    if key not in SEARCHERS:
        raise ValueError(f"unknown searcher {name!r}; valid names: {sorted(SEARCHERS)}.")
    cls = SEARCHERS[key]
    params = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(kwargs) - set(params))
    if unknown:
        raise ValueError(
            f"searcher {name!r} ({cls.__name__}) got unknown arguments {unknown}; "
            f"valid arguments: {params}."
        )
    return cls(**kwargs)
