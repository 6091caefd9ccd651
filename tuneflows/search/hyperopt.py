"""Ray Tune 1.x/2.x's import path of the TPE searcher, ``ray.tune.search.hyperopt``.

``from tuneflows.search.hyperopt import HyperOptSearch`` (1.x's ``ray.tune.suggest.hyperopt``
is ``tuneflows.suggest.hyperopt``).
"""

from tuneflows.search.hyperopt_search import HyperOptSearch

__all__ = ["HyperOptSearch"]
