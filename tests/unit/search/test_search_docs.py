"""The docstring examples of the search modules run."""

import doctest
import importlib

import pytest

MODULES = ["tuneflows.search.domains", "tuneflows.search.config_values",
           "tuneflows.search.spec_view", "tuneflows.search.config_paths",
           "tuneflows.search.config_validation", "tuneflows.search.spec_resolver",
           "tuneflows.search.experiment_tags", "tuneflows.search.variant_plan",
           "tuneflows.search.variant_generator", "tuneflows.search.argument_checks",
           "tuneflows.search.hyperopt_conversion", "tuneflows.search.hyperopt_space",
           "tuneflows.search.hyperopt_trials", "tuneflows.search.early_stop_ranking",
           "tuneflows.search.hyperopt_search", "tuneflows.search.concurrency",
           "tuneflows.search", "tuneflows.hpo_scheduler"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0


def test_all_is_complete():
    import tuneflows.search as search

    for name in search.__all__:
        assert hasattr(search, name), name
