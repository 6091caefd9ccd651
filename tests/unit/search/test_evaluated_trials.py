"""Trials evaluated elsewhere (a warm start's previous run) told to a searcher:
HyperOptSearch conditions TPE on them and never suggests them again; searchers that do not
learn from results ignore them; the wrappers pass them on; state round-trips."""

import json

import pytest

from tuneflows.search import (
    BasicVariantGenerator, ConcurrencyLimiter, HyperOptSearch, TrialLimiter, choice, uniform,
)
from tuneflows.result import EARLY_STOPPED


def observed(n, best=0.8):
    """n configs evenly over [0, 1] with loss (x - best)^2."""
    xs = [(i + 0.5) / n for i in range(n)]
    return [({"x": x, "act": "relu"}, {"loss": (x - best) ** 2, "training_iteration": 5})
            for x in xs]


def searcher(**kwargs):
    return HyperOptSearch({"x": uniform(0, 1), "act": choice(["relu", "tanh"])}, metric="loss",
                          mode="min", random_state_seed=0, n_initial_points=10, **kwargs)


def test_tpe_conditions_on_the_evaluated_trials():
    cold, warm = searcher(), searcher()
    assert all(warm.add_evaluated_trial(c, r) for c, r in observed(20))
    # The cold searcher's first suggestions are random; the warm one's model the 20 trials
    # (n_initial_points counts them) and stay near the best x, 0.8.
    warm_xs = [warm.suggest(str(i))["x"] for i in range(5)]
    cold_xs = [cold.suggest(str(i))["x"] for i in range(5)]
    assert all(abs(x - 0.8) < 0.2 for x in warm_xs), warm_xs
    assert sum(abs(x - 0.8) for x in warm_xs) < sum(abs(x - 0.8) for x in cold_xs)


def test_evaluated_trials_are_not_trials_of_this_run():
    s = searcher()
    s.add_evaluated_trial({"x": 0.8, "act": "tanh"}, {"loss": 0.0})
    assert s.best_result() is None  # only this run's trials are results
    config = s.suggest("t0")
    s.on_trial_complete("t0", {"loss": 0.5})
    assert s.best_result()["config"] == config
    assert len(s.get_state()["settled"]) == 2


def test_early_stopped_and_unfitting_trials():
    s = searcher()
    assert s.add_evaluated_trial({"x": 0.1, "act": "relu"},
                                 {"loss": 0.3, "training_iteration": 1, EARLY_STOPPED: True})
    assert s.get_state()["settled"][0][-1][1] is True  # an early-stopped observation
    assert not s.add_evaluated_trial({"x": 0.1, "act": "gelu"}, {"loss": 0.3})  # not a choice
    assert not s.add_evaluated_trial({"act": "relu"}, {"loss": 0.3})  # x missing
    assert not s.add_evaluated_trial({"x": 0.1, "act": "relu"}, {"loss": float("nan")})
    with pytest.raises(ValueError, match="optimises metric 'loss'"):
        s.add_evaluated_trial({"x": 0.1, "act": "relu"}, {"acc": 0.3})


def test_native_hyperopt_expressions_are_not_told():
    from hyperopt import hp

    s = HyperOptSearch({"x": hp.uniform("x", 0, 1)}, metric="loss", mode="min")
    assert not s.add_evaluated_trial({"x": 0.5}, {"loss": 0.1})


def test_a_searcher_without_its_space_says_when_to_call_it():
    with pytest.raises(ValueError, match="after set_search_properties"):
        HyperOptSearch(metric="loss", mode="min").add_evaluated_trial({"x": 1}, {"loss": 1})
    s = HyperOptSearch()
    s.set_search_properties("loss", "min", {"x": uniform(0, 1)})
    assert s.add_evaluated_trial({"x": 0.5}, {"loss": 0.1})


def test_state_with_evaluated_trials_round_trips():
    a = searcher()
    for c, r in observed(12):
        a.add_evaluated_trial(c, r)
    b = searcher()
    b.set_state(json.loads(json.dumps(a.get_state())))
    assert [b.suggest(str(i)) for i in range(3)] == [a.suggest(str(i)) for i in range(3)]


def test_wrappers_pass_them_on_and_the_grid_ignores_them():
    inner = searcher()
    assert ConcurrencyLimiter(inner, 2).add_evaluated_trial({"x": 0.5, "act": "relu"}, {"loss": 1})
    assert TrialLimiter(inner, 5).add_evaluated_trial({"x": 0.4, "act": "relu"}, {"loss": 1})
    assert len(inner.get_state()["settled"]) == 2
    grid = BasicVariantGenerator({"x": uniform(0, 1)}, num_samples=2)
    assert not grid.add_evaluated_trial({"x": 0.5}, {"loss": 1}) and grid.total_trials == 2
