"""Search spaces and search algorithms.

Primitives (``uniform``, ``loguniform``, ``choice``, ``grid_search``, ``sample_from``…),
the pure :class:`Searcher` interface, grid × samples variant generation
(:class:`BasicVariantGenerator`, the default), hyperopt's TPE (:class:`HyperOptSearch`),
:class:`ConcurrencyLimiter` and :class:`TrialLimiter`. Look searchers up by name with
:func:`create_searcher` (``"variant"``, ``"random"``, ``"hyperopt"``).

Where things live: ``domains`` (the primitives), ``config_values`` / ``config_paths`` /
``config_validation`` (reading a config), ``spec_view`` and ``spec_resolver`` (resolving one
variant), ``variant_plan`` and ``variant_generator`` (grid × samples), ``concurrency`` (the
limiters), ``hyperopt_conversion`` / ``hyperopt_space`` / ``hyperopt_trials`` /
``early_stop_ranking`` / ``hyperopt_search`` (TPE), ``argument_checks``
(shared by the searchers).
"""

from __future__ import annotations

from typing import Any

from tuneflows.model.by_name import build_by_name
from tuneflows.search.domains import (
    Choice,
    Domain,
    GridSearch,
    LogUniform,
    QLogUniform,
    QUniform,
    RandInt,
    RandN,
    SampleFrom,
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
from tuneflows.search.concurrency import (
    ConcurrencyLimiter, TrialLimiter, searcher_name, without_trial_limit,
)
from tuneflows.search.hyperopt_search import HyperOptSearch
from tuneflows.result import EARLY_STOPPED
from tuneflows.search.searcher import FINISHED, Searcher
from tuneflows.search.spec_view import SpecView
from tuneflows.search.config_validation import validate_config
from tuneflows.search.experiment_tags import format_vars
from tuneflows.search.spec_resolver import resolve_config
from tuneflows.search.variant_generator import BasicVariantGenerator, generate_variants
from tuneflows.search.variant_plan import count_variants

__all__ = [
    "Domain", "Uniform", "QUniform", "LogUniform", "QLogUniform", "RandInt", "Choice", "RandN",
    "GridSearch", "SampleFrom", "SpecView",
    "uniform", "quniform", "loguniform", "qloguniform", "randint", "choice", "randn",
    "grid_search", "sample_from",
    "Searcher", "FINISHED", "EARLY_STOPPED",
    "BasicVariantGenerator", "generate_variants", "resolve_config", "count_variants",
    "validate_config", "format_vars",
    "HyperOptSearch", "ConcurrencyLimiter", "TrialLimiter", "searcher_name", "without_trial_limit",
    "SEARCHERS", "create_searcher",
]

#: Searchers by name, for YAML specs and the CLI. "random" is the variant generator too:
#: random search is num_samples draws of a config holding random domains.
SEARCHERS: dict[str, type[Searcher]] = {
    "variant": BasicVariantGenerator,
    "random": BasicVariantGenerator,
    "hyperopt": HyperOptSearch,
}


def create_searcher(name: str, **kwargs: Any) -> Searcher:
    """Builds the searcher registered as ``name`` (case-insensitive, ``-`` = ``_``).

    Args:
        name: A key of :data:`SEARCHERS`.
        **kwargs: Constructor arguments of that searcher.

    Example:
        >>> create_searcher("hyperopt", metric="loss", mode="min").metric
        'loss'

    Raises:
        ValueError: For an unknown name or keyword argument, listing the valid ones.
    """
    return build_by_name("searcher", SEARCHERS, name, **kwargs)
