"""Ray Tune 1.x's import path of the TPE searcher: ``from tuneflows.suggest.hyperopt
import HyperOptSearch`` (``ray.tune.suggest.hyperopt``)."""

from tuneflows.search.hyperopt_search import HyperOptSearch

__all__ = ["HyperOptSearch"]
