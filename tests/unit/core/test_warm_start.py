"""Warm start's checks and how the previous run's trials reach the searcher (the MLflow
reading is in tests/integration/test_warm_start.py)."""

import doctest

import pytest

from tuneflows.orchestration import warm_start
from tuneflows.search import HyperOptSearch, uniform
from tuneflows.orchestration.warm_start import PreviousRun, check_warm_start, start_from_previous_run


@pytest.mark.parametrize("value, limit, message", [
    ("last", 5, "warm_start must be None or 'previous', got 'last'"),
    (True, 5, "warm_start must be None or 'previous', got True"),
    ("previous", 0, "warm_start_trials must be an int >= 1, got 0"),
    ("previous", 2.5, "warm_start_trials must be an int >= 1, got 2.5"),
])
def test_bad_settings_are_named(value, limit, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        check_warm_start(value, limit)


def test_the_previous_trials_reach_the_searcher():
    previous = PreviousRun("r", [({"x": 0.2}, {"loss": 0.1}), ({"y": 1}, {"loss": 0.0})])
    searcher = HyperOptSearch({"x": uniform(0, 1)}, metric="loss", mode="min")
    assert previous.warm(searcher) == 1  # the second is not a config of this space


def test_a_warm_start_needs_a_metric():
    with pytest.raises(ValueError, match="needs the metric"):
        start_from_previous_run(HyperOptSearch(), None, "exp", None, "max")


def test_doctests():
    result = doctest.testmod(warm_start)
    assert result.attempted > 0 and result.failed == 0
