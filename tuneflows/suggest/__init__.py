"""Seed-era import path ``ray.tune.suggest`` (Ray Tune 0.5.1 on); re-exports the search
algorithms of :mod:`tuneflows.search`.

``SearchAlgorithm`` and ``SuggestionAlgorithm``, the seed's base classes, are both
:class:`tuneflows.search.Searcher`.

Example:
    >>> from tuneflows.suggest import HyperOptSearch, SearchAlgorithm
    >>> issubclass(HyperOptSearch, SearchAlgorithm)
    True
"""

from tuneflows.search import BasicVariantGenerator, ConcurrencyLimiter, HyperOptSearch, Searcher

SearchAlgorithm = SuggestionAlgorithm = Searcher

__all__ = ["BasicVariantGenerator", "ConcurrencyLimiter", "HyperOptSearch", "SearchAlgorithm",
           "Searcher", "SuggestionAlgorithm"]
