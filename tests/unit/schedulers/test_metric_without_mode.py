"""``metric`` given without ``mode`` is maximised (the seed's rule) and says so."""

from __future__ import annotations

import warnings

import pytest
from hyperopt import hp

from tuneflows.orchestration.algorithm_choice import resolve_scheduler
from tuneflows.schedulers import (
    AsyncHyperBandScheduler, HyperBandScheduler, MedianStoppingRule, PopulationBasedTraining,
)
from tuneflows.search import HyperOptSearch

SCHEDULERS = [AsyncHyperBandScheduler, HyperBandScheduler, MedianStoppingRule,
              lambda **kw: PopulationBasedTraining(hyperparam_mutations={"lr": [1, 2]}, **kw)]


@pytest.mark.parametrize("make", SCHEDULERS)
def test_a_scheduler_warns_and_maximises(make):
    with pytest.warns(UserWarning, match=r"\(metric='loss'\) without mode: 'loss' is maximised"):
        scheduler = make(metric="loss")
    assert scheduler.mode == "max"


@pytest.mark.parametrize("make", SCHEDULERS)
def test_no_warning_with_a_mode_or_the_seeds_reward_attr(make):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert make(metric="loss", mode="min").mode == "min"
        assert make(reward_attr="acc").mode == "max"


def test_hyperopt_search_and_a_scheduler_by_name_warn_too():
    with pytest.warns(UserWarning, match=r"HyperOptSearch\(metric='loss'\) without mode"):
        HyperOptSearch({"x": hp.uniform("x", 0, 1)}, metric="loss")
    with pytest.warns(UserWarning, match=r"scheduler 'asha' with run_experiments\(metric='loss'\)"):
        assert resolve_scheduler("asha", metric="loss").mode == "max"
