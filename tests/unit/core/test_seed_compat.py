"""Seed-era programs' imports and records, without Ray: the compatibility modules,
``TrainingResult`` from ``_train`` and the reporter, ``Trial`` statuses as class
attributes and ``last_result`` read by attribute."""

from __future__ import annotations

import doctest
import importlib
import json
import pickle

import pytest

COMPAT_MODULES = [
    "tuneflows.async_hyperband", "tuneflows.hyperband", "tuneflows.pbt",
    "tuneflows.median_stopping_rule", "tuneflows.trial_scheduler", "tuneflows.suggest",
    "tuneflows.variant_generator", "tuneflows.result", "tuneflows.trial",
]


@pytest.mark.parametrize("name", COMPAT_MODULES)
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0


def test_the_seeds_import_paths():
    from tuneflows.async_hyperband import AsyncHyperBandScheduler
    from tuneflows.hpo_scheduler import HyperOptScheduler
    from tuneflows.hyperband import HyperBandScheduler
    from tuneflows.median_stopping_rule import MedianStoppingRule
    from tuneflows.pbt import PopulationBasedTraining
    from tuneflows.result import TrainingResult
    from tuneflows.schedulers import FIFOScheduler as Fifo
    from tuneflows.suggest import BasicVariantGenerator, HyperOptSearch
    from tuneflows.trial import Trial
    from tuneflows.trial_scheduler import FIFOScheduler, TrialScheduler
    from tuneflows.variant_generator import generate_variants, grid_search

    import tuneflows.schedulers as schedulers
    import tuneflows.search as search

    assert FIFOScheduler is Fifo and TrialScheduler is schedulers.TrialScheduler
    for cls in (AsyncHyperBandScheduler, HyperBandScheduler, MedianStoppingRule,
                PopulationBasedTraining, HyperOptScheduler):
        assert getattr(schedulers, cls.__name__) is cls
    assert HyperOptSearch is search.HyperOptSearch
    assert BasicVariantGenerator is search.BasicVariantGenerator
    assert generate_variants is search.generate_variants and grid_search is search.grid_search
    assert "mean_accuracy" in TrainingResult._fields
    assert (Trial.PENDING, Trial.RUNNING, Trial.PAUSED, Trial.TERMINATED, Trial.ERROR) == (
        "PENDING", "RUNNING", "PAUSED", "TERMINATED", "ERROR")


def seed_trainable():
    """A class trainable of the seed's time, returning TrainingResult."""
    from tuneflows.result import TrainingResult
    from tuneflows.trainable import Trainable

    class MyTrainable(Trainable):
        def _setup(self):
            self.timestep = 0

        def _train(self):
            self.timestep += 1
            return TrainingResult(timesteps_this_iter=10, mean_loss=1.0 / self.timestep,
                                  done=self.timestep >= 3)

    return MyTrainable


def test_train_accepts_a_training_result():
    trainable = seed_trainable()(config={"lr": 0.1})
    first = trainable.train()
    assert first["training_iteration"] == 1 and first["timesteps_total"] == 10
    assert first["mean_loss"] == 1.0 and first["neg_mean_loss"] == -1.0
    assert first["done"] is False and "episode_reward_mean" not in first  # unset fields dropped
    trainable.train()
    assert trainable.train()["done"] is True


def test_the_reporter_accepts_a_training_result():
    from tuneflows.execution.function_runner import wrap_function
    from tuneflows.result import TrainingResult

    def train(config, reporter):
        for i in range(1, 3):
            reporter(TrainingResult(timesteps_total=i * 100, mean_accuracy=i / 10))
        reporter(timesteps_total=300, mean_accuracy=0.3)

    trainable = wrap_function(train)(config={})
    results = [trainable.train() for _ in range(3)]
    assert [r["timesteps_total"] for r in results] == [100, 200, 300]
    assert [r["mean_accuracy"] for r in results] == [0.1, 0.2, 0.3]
    trainable.stop()


def test_last_result_reads_by_key_and_attribute_and_stays_plain_data():
    from tuneflows.result import ResultDict
    from tuneflows.trial import Trial

    trial = Trial("a_00000", "0", {"lr": 0.1}, "f", "/tmp/x",
                  last_result={"timesteps_total": 7, "mean_accuracy": 0.5})
    assert trial.last_result.timesteps_total == 7 == trial.last_result["timesteps_total"]
    assert trial.last_result.episode_reward_mean is None  # a seed field never reported
    with pytest.raises(AttributeError, match="no key 'lossy'"):
        trial.last_result.lossy
    trial.last_result = {"timesteps_total": 9}  # any later assignment is wrapped too
    assert isinstance(trial.last_result, ResultDict) and trial.last_result.timesteps_total == 9
    copy = pickle.loads(pickle.dumps(trial))
    assert copy.last_result.timesteps_total == 9
    assert json.loads(json.dumps(trial.to_dict()))["last_result"] == {"timesteps_total": 9}
    assert Trial("b", "1", {}, "f", "").last_result is None
