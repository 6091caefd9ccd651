"""The seed's ``HyperOptScheduler``: a FIFO scheduler whose trials come from hyperopt's TPE.

Used as in the seed::

    space = {"param": hp.uniform("param", 0, 20)}
    run_experiments({"my_exp": {"run": "exp", "repeat": 5, "config": {"space": space}}},
                    scheduler=HyperOptScheduler())

It holds its arguments; the flow calls :meth:`HyperOptScheduler.make_searcher` to get a
:class:`~tuneflows.search.HyperOptSearch` over ``config["space"]`` that stops after ``repeat``
(``num_samples``) suggestions, and schedules trials first in, first out. Preferred modern
spelling: ``run_experiments(..., search_alg=HyperOptSearch(space, metric=..., mode=...))``.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from tuneflows.search.concurrency import TrialLimiter
from tuneflows.search.hyperopt_search import HyperOptSearch
from tuneflows.search.searcher import Searcher

__all__ = ["HyperOptScheduler"]


class HyperOptScheduler:
    """FIFO scheduling with TPE suggestions (seed API).

    Args:
        max_concurrent: At most this many trials running at once (None: as resources allow).
        reward_attr: Result key to maximise.

    The scheduler hooks are FIFO (every result CONTINUEs); they duck-type
    ``tuneflows.schedulers.TrialScheduler`` so this module does not import the schedulers.
    """

    CONTINUE = "CONTINUE"
    PAUSE = "PAUSE"
    STOP = "STOP"

    def __init__(self, max_concurrent: Optional[int] = None,
                 reward_attr: str = "episode_reward_mean"):
        if max_concurrent is not None and (
            isinstance(max_concurrent, bool) or not isinstance(max_concurrent, int)
            or max_concurrent < 1
        ):
            raise ValueError(f"max_concurrent must be None or an int >= 1, got {max_concurrent!r}.")
        if not isinstance(reward_attr, str) or not reward_attr:
            raise ValueError(f"reward_attr must be a result key, got {reward_attr!r}.")
        self.max_concurrent = max_concurrent
        self.reward_attr = reward_attr
        self.metric = reward_attr
        self.mode = "max"

    def make_searcher(self, experiment_config: Optional[Mapping[str, Any]],
                      num_samples: int, seed: Optional[int] = None) -> Searcher:
        """The searcher for one experiment: TPE over ``experiment_config["space"]``.

        The trial's config is the experiment config without ``"space"``, updated with the
        values drawn from the space (so ``config["param"]`` reads a drawn ``param``).

        Raises:
            ValueError: when the config has no ``"space"`` entry.
        """
        config = dict(experiment_config or {})
        if "space" not in config:
            raise ValueError(
                "HyperOptScheduler takes its search space from config['space'] (built with "
                f"hyperopt's hp.*); the config has keys {sorted(config)}."
            )
        space = config.pop("space")
        searcher = HyperOptSearch(space=space, reward_attr=self.reward_attr,
                                  max_concurrent=self.max_concurrent,
                                  random_state_seed=seed)
        searcher.set_search_properties(None, None, config)
        return TrialLimiter(searcher, num_samples)

    # ---- FIFO scheduling (duck-typed TrialScheduler) ------------------------------------

    def on_trial_add(self, trial: Any) -> None:
        pass

    def on_trial_result(self, trial: Any, result: Mapping[str, Any]) -> Any:
        try:  # a proper Decision when the schedulers package is there
            from tuneflows.schedulers.trial_scheduler import Decision

            return Decision(self.CONTINUE)
        except ImportError:  # pragma: no cover
            return self.CONTINUE

    def on_trial_error(self, trial: Any) -> None:
        pass

    def on_trial_complete(self, trial: Any, result: Optional[Mapping[str, Any]] = None) -> None:
        pass

    def on_trial_remove(self, trial: Any) -> None:
        pass

    def next_decision_point(self, trial: Any) -> Optional[float]:
        return None

    @property
    def time_attr(self) -> str:
        return "training_iteration"

    def choose_trial_to_run(self, trials: Any) -> Optional[str]:
        for status in ("PENDING", "PAUSED"):
            for trial in trials:
                if trial.status == status:
                    return trial.trial_id
        return None

    def paused_trials_to_stop(self, trials: Any) -> dict:
        return {}

    def debug_string(self) -> str:
        return "Using FIFO scheduling algorithm."

    def get_state(self) -> dict[str, Any]:
        return {}

    def set_state(self, state: Mapping[str, Any]) -> None:
        pass
