"""PBT against Jaderberg et al. (2017): truncation selection, explore, clone decisions."""

from __future__ import annotations

import numpy as np
import pytest
from scheduler_sim import Simulation, make_trials

from tuneflows.schedulers import PopulationBasedTraining
from tuneflows.trial import TrialSnapshot


def make(**kw):
    base = dict(time_attr="training_iteration", metric="acc", perturbation_interval=5,
                hyperparam_mutations={"lr": [0.001, 0.01, 0.1]}, seed=0)
    return PopulationBasedTraining(**{**base, **kw})


def _snap(tid, config=None, ckpt=True):
    return TrialSnapshot.make(tid, config or {"lr": 0.01}, status="RUNNING", has_checkpoint=ckpt)


def populate(pbt, scores, ckpt=True, config=None):
    for i, acc in enumerate(scores):
        pbt.on_trial_add(_snap(f"t{i}", config, ckpt))
        pbt.on_trial_result(_snap(f"t{i}", config, ckpt), {"training_iteration": 4, "acc": acc})


@pytest.mark.parametrize("n,fraction,size", [(8, 0.25, 2), (4, 0.25, 1), (3, 0.25, 1),
                                             (2, 0.25, 1), (5, 0.5, 2), (10, 0.2, 2), (1, 0.25, 0)])
def test_quantile_sizes(n, fraction, size):
    pbt = make(quantile_fraction=fraction)
    populate(pbt, list(np.linspace(0, 1, n)))
    lower, upper = pbt.quantiles()
    assert len(lower) == len(upper) == size
    if size:
        assert lower == [f"t{i}" for i in range(size)]
        assert upper == [f"t{i}" for i in range(n - size, n)]


def test_bottom_quantile_clones_a_top_trial_with_a_checkpoint():
    pbt = make()
    populate(pbt, [0.9, 0.5, 0.7, 0.3, 0.8, 0.6, 0.4, 0.2])  # top 2: t0, t4; bottom 2: t3, t7
    d = pbt.on_trial_result(_snap("t7"), {"training_iteration": 5, "acc": 0.2})
    assert d.action == "CONTINUE" and d.clone_from in ("t0", "t4")
    assert "t7 (acc 0.2, bottom 25%) cloned " + d.clone_from in d.reason
    assert "config {'lr': 0.01} -> " + str(d.new_config) in d.reason
    assert pbt.perturbations[-1]["donor"] == d.clone_from
    assert pbt.perturbations[-1]["old_config"] == {"lr": 0.01}
    assert pbt.next_decision_point(_snap("t7")) == 5.0  # inherits the donor's (0) + 5
    # Top trials are asked to checkpoint so that they can be cloned; the middle goes on.
    d = pbt.on_trial_result(_snap("t0"), {"training_iteration": 5, "acc": 0.9})
    assert d.save_checkpoint and d.clone_from is None
    d = pbt.on_trial_result(_snap("t2"), {"training_iteration": 5, "acc": 0.7})
    assert (d.action, d.clone_from, d.save_checkpoint) == ("CONTINUE", None, False)


def test_only_donors_with_a_checkpoint_are_cloned():
    pbt = make()
    populate(pbt, [0.9, 0.1, 0.5, 0.6], ckpt=False)
    d = pbt.on_trial_result(_snap("t1", ckpt=False), {"training_iteration": 5, "acc": 0.1})
    assert d.clone_from is None


def test_mode_min_clones_from_the_lowest_loss():
    pbt = make(metric="loss", mode="min")
    for i, loss in enumerate([0.1, 0.9, 0.5, 0.6]):
        pbt.on_trial_result(_snap(f"t{i}"), {"training_iteration": 4, "loss": loss})
    d = pbt.on_trial_result(_snap("t1"), {"training_iteration": 5, "loss": 0.9})
    assert d.clone_from == "t0" and "(loss 0.9, bottom 25%)" in d.reason


def test_no_perturbation_before_the_interval():
    pbt = make()
    populate(pbt, [0.9, 0.1, 0.5, 0.6])
    assert pbt.on_trial_result(_snap("t1"), {"training_iteration": 4, "acc": 0.1}).clone_from is None


def test_continuous_values_are_multiplied_by_0_8_or_1_2():
    pbt = make(hyperparam_mutations={"lr": lambda: 0.5, "units": lambda: 7},
               resample_probability=0.0)
    seen_lr, seen_units = set(), set()
    for _ in range(60):
        new = pbt.explore({"lr": 0.1, "units": 10})
        seen_lr.add(round(new["lr"], 12))
        seen_units.add(new["units"])
    assert seen_lr == {0.08, 0.12}
    assert seen_units == {8, 12}  # ints: int(10 * 0.8), int(10 * 1.2)


def test_list_values_move_to_a_neighbour():
    pbt = make(hyperparam_mutations={"b": [16, 32, 64, 128]}, resample_probability=0.0)
    assert {pbt.explore({"b": 32})["b"] for _ in range(60)} == {16, 64}
    assert {pbt.explore({"b": 16})["b"] for _ in range(60)} == {16, 32}  # clamped at the end
    # A value not in the list is resampled from it.
    assert {pbt.explore({"b": 5})["b"] for _ in range(100)} == {16, 32, 64, 128}


class Domain:
    """Duck-typed search-space domain: anything with ``sample(rng)``."""

    def sample(self, rng, spec=None):
        return float(rng.uniform(10, 20))


def test_resampling_from_lists_callables_and_domains():
    pbt = make(hyperparam_mutations={"a": [1, 2, 3], "b": lambda: "x", "c": Domain()},
               resample_probability=1.0)
    for _ in range(30):
        new = pbt.explore({"a": 2, "b": 0.5, "c": 0.5})
        assert new["a"] in (1, 2, 3) and new["b"] == "x" and 10 <= new["c"] <= 20


def test_resample_probability_is_honoured():
    pbt = make(hyperparam_mutations={"lr": lambda: 99.0}, resample_probability=0.25, seed=1)
    draws = [pbt.explore({"lr": 1.0})["lr"] for _ in range(2000)]
    assert 0.21 < np.mean([d == 99.0 for d in draws]) < 0.29


def test_search_space_domains_from_tuneflows_search():
    from tuneflows.search import uniform

    pbt = make(hyperparam_mutations={"lr": uniform(0.5, 0.6)}, resample_probability=1.0)
    assert 0.5 <= pbt.explore({"lr": 0.1})["lr"] <= 0.6


def test_nested_mutations_and_custom_explore_fn():
    def clip(config):
        config["opt"]["lr"] = min(config["opt"]["lr"], 0.1)
        return config
    pbt = make(hyperparam_mutations={"opt": {"lr": lambda: 1.0}}, resample_probability=1.0,
               custom_explore_fn=clip)
    assert pbt.explore({"opt": {"lr": 0.05}, "other": 1}) == {"opt": {"lr": 0.1}, "other": 1}
    only_fn = make(hyperparam_mutations=None, custom_explore_fn=lambda c: {**c, "lr": 3})
    assert only_fn.explore({"lr": 1}) == {"lr": 3}


def test_pbt_in_simulation_moves_the_population_to_good_configs():
    configs = [{"q": 1.0, "lr": lr} for lr in [0.001, 0.003, 0.03, 0.1, 0.3, 1.0, 3.0, 0.01]]
    pbt = PopulationBasedTraining(time_attr="training_iteration", metric="score",
                                  perturbation_interval=3, seed=0,
                                  hyperparam_mutations={"lr": [0.001, 0.003, 0.01, 0.03, 0.1,
                                                               0.3, 1.0, 3.0]})
    sim = Simulation(pbt, make_trials(configs), slots=8, max_iter=30).run()
    assert pbt.perturbations
    for p in pbt.perturbations:
        assert p["trial_id"] != p["donor"]
    # Without perturbations (interval never reached) each trial keeps its own lr.
    static = PopulationBasedTraining(time_attr="training_iteration", metric="score",
                                     perturbation_interval=1e9, hyperparam_mutations={"lr": [0.1]})
    alone = Simulation(static, make_trials(configs), slots=8, max_iter=30).run()
    assert np.mean([t.value for t in sim.trials]) > np.mean([t.value for t in alone.trials])
    assert np.mean([t.value for t in sim.trials]) > 0.8 * max(t.value for t in alone.trials)


@pytest.mark.parametrize("kwargs,match", [
    (dict(hyperparam_mutations={}), "needs hyperparam_mutations or custom_explore_fn"),
    (dict(hyperparam_mutations={"lr": 0.1}), r"hyperparam_mutations\['lr'\] must be"),
    (dict(hyperparam_mutations={"lr": []}), "empty list"),
    (dict(perturbation_interval=0), "perturbation_interval=0"),
    (dict(resample_probability=1.5), "resample_probability=1.5"),
    (dict(quantile_fraction=0.75), "quantile_fraction=0.75"),
    (dict(custom_explore_fn=3), "custom_explore_fn=3"),
])
def test_validation_names_the_value(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make(**kwargs)
