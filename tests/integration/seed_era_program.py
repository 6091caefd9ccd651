"""A program of Ray Tune 0.5's time (mid-2018) with ``ray.tune`` replaced by
``tuneflows``: ``ray.init()`` before anything else, a class trainable returning
``TrainingResult`` under FIFO and HyperBand (imported from their seed-era modules), and
a function trainable under HyperOpt (0.5.1's ``suggest.HyperOptSearch`` with
``AsyncHyperBandScheduler``). Run as a script by test_seed_era_program.py; prints one
JSON line per experiment (``SUMMARY {...}``). (The seed's other scheduler paths are
re-exports, checked in tests/unit/core/test_seed_compat.py.)
"""

import json
import os

import ray

ray.init()

from hyperopt import hp  # noqa: E402

from tuneflows import Trainable, grid_search, register_trainable, run_experiments  # noqa: E402
from tuneflows.async_hyperband import AsyncHyperBandScheduler  # noqa: E402
from tuneflows.hyperband import HyperBandScheduler  # noqa: E402
from tuneflows.result import TrainingResult  # noqa: E402
from tuneflows.suggest import HyperOptSearch  # noqa: E402
from tuneflows.trial import Trial  # noqa: E402
from tuneflows.trial_scheduler import FIFOScheduler  # noqa: E402


class MyTrainableClass(Trainable):
    """Reward grows with ``width``; checkpointable, so HyperBand can pause it."""

    def _setup(self):
        self.timestep = 0

    def _train(self):
        self.timestep += 1
        value = self.config["width"] * self.timestep / 10.0
        return TrainingResult(episode_reward_mean=value, mean_loss=1.0 / (1.0 + value),
                              timesteps_this_iter=10)

    def _save(self, checkpoint_dir):
        path = os.path.join(checkpoint_dir, "checkpoint")
        with open(path, "w") as f:
            f.write(json.dumps({"timestep": self.timestep}))
        return path

    def _restore(self, checkpoint_path):
        with open(checkpoint_path) as f:
            self.timestep = json.loads(f.read())["timestep"]


def easy_objective(config, reporter):
    """The seed's hyperopt_example objective."""
    for i in range(1, 4):
        reporter(timesteps_total=i,
                 episode_reward_mean=-(config["height"] - 14) ** 2 + abs(config["width"] - 3))


def summarize(name, trials):
    print("SUMMARY " + json.dumps({
        "name": name,
        "statuses": [t.status for t in trials],
        "terminated": sum(t.status == Trial.TERMINATED for t in trials),
        "iterations": [t.last_result.training_iteration for t in trials],
        "timesteps": [t.last_result.timesteps_total for t in trials],
        "neg_mean_loss": [t.last_result.neg_mean_loss for t in trials],
        "reasons": [t.status_reason for t in trials],
    }), flush=True)


register_trainable("my_class", MyTrainableClass)
register_trainable("exp", easy_objective)

spec = {"run": "my_class", "stop": {"training_iteration": 10},
        "config": {"width": grid_search([1, 2, 3, 4])}}
for name, scheduler in [
    ("fifo", FIFOScheduler()),
    ("hyperband", HyperBandScheduler(time_attr="training_iteration",
                                     reward_attr="episode_reward_mean", max_t=10)),
]:
    summarize(name, run_experiments({f"seed_{name}": spec}, scheduler=scheduler, verbose=1))

space = {"width": hp.uniform("width", 0, 20), "height": hp.uniform("height", -100, 100)}
summarize("hyperopt_search", run_experiments(
    {"seed_hyperopt_search": {"run": "exp", "repeat": 4, "stop": {"training_iteration": 3}}},
    search_alg=HyperOptSearch(space, max_concurrent=2, reward_attr="episode_reward_mean"),
    scheduler=AsyncHyperBandScheduler(reward_attr="episode_reward_mean"), verbose=False))
