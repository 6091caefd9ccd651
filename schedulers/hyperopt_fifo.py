"""FIFO scheduling of trials that hyperopt's TPE suggests: the seed's ``HyperOptScheduler``."""

from __future__ import annotations

from typing import Any, Mapping, Optional

from tuneflows.schedulers.fifo import FIFOScheduler
from tuneflows.schedulers.metric_spec import MetricSpec
from tuneflows.search import HyperOptSearch, Searcher, TrialLimiter
from tuneflows.search.argument_checks import validate_max_concurrent


class HyperOptScheduler(FIFOScheduler):
    """FIFO scheduling whose trials come from TPE over the experiment's ``config["space"]``.

    Scheduling is :class:`~tuneflows.schedulers.FIFOScheduler`'s: every result gets
    CONTINUE and trials run in the order they were added. What this scheduler adds is the
    experiment's searcher: :meth:`make_searcher` builds a
    :class:`~tuneflows.search.HyperOptSearch` over ``config["space"]`` that maximises
    ``reward_attr`` (or optimises ``metric`` in ``mode``), runs at most ``max_concurrent``
    trials at once and ends after ``num_samples`` (the seed's ``repeat``) suggestions.
    Used as in the seed::

        space = {"param": hp.uniform("param", 0, 20)}
        run_experiments({"my_exp": {"run": "exp", "repeat": 5, "config": {"space": space}}},
                        scheduler=HyperOptScheduler())

    The modern spelling of the same experiment is
    ``run_experiments(..., search_alg=HyperOptSearch(space, metric=..., mode=...))``.

    Args:
        max_concurrent: At most this many trials running at once (None: as resources allow).
        reward_attr: The seed's name for the result key to maximise.
        metric: Modern spelling of ``reward_attr``.
        mode: ``"max"`` or ``"min"``.
        seed: Seed of TPE's random state (and of the scheduler's RNG).

    Example:
        >>> from hyperopt import hp
        >>> from tuneflows.schedulers import HyperOptScheduler
        >>> scheduler = HyperOptScheduler(seed=0)
        >>> space = {"param": hp.uniform("param", 0, 20)}
        >>> searcher = scheduler.make_searcher({"space": space, "other": 1}, num_samples=2)
        >>> config = searcher.suggest("t0")
        >>> sorted(config), 0 <= config["param"] <= 20
        (['other', 'param'], True)
        >>> searcher.on_trial_complete("t0", {"episode_reward_mean": -config["param"]})
        >>> _ = searcher.suggest("t1")
        >>> searcher.suggest("t2")
        'FINISHED'

    Reference:
        Bergstra et al., "Algorithms for Hyper-Parameter Optimization", NeurIPS 2011
        (the Tree-structured Parzen Estimator).
    """

    def __init__(
        self,
        max_concurrent: Optional[int] = None,
        reward_attr: str = "episode_reward_mean",
        metric: Optional[str] = None,
        mode: Optional[str] = None,
        seed: Optional[int] = None,
    ) -> None:
        super().__init__(seed)
        self.max_concurrent = validate_max_concurrent(max_concurrent)
        if not isinstance(reward_attr, str) or not reward_attr:
            raise ValueError(f"reward_attr must be a result key, got {reward_attr!r}.")
        spec = MetricSpec.resolve(metric, mode, reward_attr, "episode_reward_mean",
                                 type(self).__name__)
        self.metric, self.mode = spec.metric, spec.mode
        self._seed = seed

    def make_searcher(
        self,
        experiment_config: Optional[Mapping[str, Any]],
        num_samples: int,
        seed: Optional[int] = None,
    ) -> Searcher:
        """TPE over ``experiment_config["space"]``, ending after ``num_samples`` trials.

        A trial's config is the experiment config without ``"space"``, updated with the
        values drawn from the space (so ``config["param"]`` reads a drawn ``param``).

        Args:
            experiment_config: The experiment's ``config``; must hold ``"space"``.
            num_samples: How many trials the searcher suggests in all.
            seed: Seed of TPE's random state for this searcher (default: the
                constructor's ``seed``).

        Raises:
            ValueError: When the config has no ``"space"`` entry.
        """
        config = dict(experiment_config or {})
        if "space" not in config:
            raise ValueError(
                "HyperOptScheduler takes its search space from config['space'] (built with "
                f"hyperopt's hp.*); the config has keys {sorted(config)}."
            )
        space = config.pop("space")
        searcher = HyperOptSearch(
            space=space, metric=self.metric, mode=self.mode,
            max_concurrent=self.max_concurrent,
            random_state_seed=self._seed if seed is None else seed,
        )
        searcher.set_search_properties(None, None, config)
        return TrialLimiter(searcher, num_samples)
