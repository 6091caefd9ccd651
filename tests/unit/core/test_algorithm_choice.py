"""Schedulers and searchers named by string carry the experiment's metric and mode."""

import pytest

from tuneflows.orchestration.algorithm_choice import (
    check_metric_and_mode, make_searcher, resolve_scheduler, resolve_search_alg,
)
from tuneflows.schedulers import AsyncHyperBandScheduler, FIFOScheduler
from tuneflows.search import HyperOptSearch, uniform
from tuneflows.search.concurrency import TrialLimiter
from tuneflows.spec import Experiment


@pytest.mark.parametrize("name", ["asha", "ASHA", "async-hyperband", "hyperband", "median"])
def test_a_named_scheduler_gets_the_metric_and_mode(name):
    scheduler = resolve_scheduler(name, metric="loss", mode="min")
    assert (scheduler.metric, scheduler.mode) == ("loss", "min")


def test_mode_defaults_to_max_and_fifo_needs_no_metric():
    assert resolve_scheduler("asha", metric="acc").mode == "max"
    assert isinstance(resolve_scheduler("fifo"), FIFOScheduler)
    assert isinstance(resolve_scheduler(None), FIFOScheduler)


def test_an_object_is_used_as_given():
    asha = AsyncHyperBandScheduler(metric="acc", mode="max")
    assert resolve_scheduler(asha, metric="other") is asha


@pytest.mark.parametrize("name", ["asha", "pbt", "median"])
def test_a_named_scheduler_without_a_metric_is_an_error_naming_it(name):
    with pytest.raises(ValueError, match=f"scheduler '{name}' needs the result key.*--metric"):
        resolve_scheduler(name)


@pytest.mark.parametrize("metric, mode, message", [
    ("acc", "up", "mode must be 'max' or 'min', got mode='up'"),
    ("", None, "metric must be a result key"),
    (None, "min", "without a metric"),
])
def test_bad_metric_or_mode_is_named(metric, mode, message):
    with pytest.raises(ValueError, match=message):
        check_metric_and_mode(metric, mode)


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="Unknown scheduler 'bogus'"):
        resolve_scheduler("bogus", metric="acc")
    with pytest.raises(ValueError, match="Unknown searcher 'bogus'"):
        resolve_search_alg("bogus", metric="acc")


def test_a_named_searcher_gets_the_metric_and_the_space_from_the_config():
    searcher = resolve_search_alg("hyperopt", metric="loss", mode="min")
    assert isinstance(searcher, HyperOptSearch)
    exp = Experiment("e", run=lambda config, reporter: None, local_dir="/tmp/r",
                     config={"x": uniform(0, 1)}, num_samples=3)
    limited = make_searcher(exp, FIFOScheduler(), searcher)
    assert isinstance(limited, TrialLimiter)
    config = limited.suggest("t0")
    assert 0 <= config["x"] <= 1
    assert resolve_search_alg("random") is None  # the default generator
    with pytest.raises(ValueError, match="search algorithm 'hyperopt' needs the result key"):
        resolve_search_alg("hyperopt")
