"""One conformance suite over every scheduler in the registry (no Ray, no Prefect)."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from scheduler_sim import Simulation, make_trials, swap_via_pickle, swap_via_state

from tuneflows.schedulers import SCHEDULERS, Decision, TrialScheduler, create_scheduler
from tuneflows.search import FINISHED, Searcher, uniform
from tuneflows.trial import TrialSnapshot


def jitter_lr() -> float:  # module level, so that the scheduler pickles
    return 0.1


KWARGS = {
    "fifo": {},
    "median": dict(time_attr="training_iteration", grace_period=3, min_samples_required=2),
    "asha": dict(max_t=27, grace_period=1, brackets=2),
    "async_hyperband": dict(max_t=27, grace_period=1, reduction_factor=3, brackets=3),
    "hyperband": dict(max_t=27),
    "pbt": dict(time_attr="training_iteration", perturbation_interval=4,
                hyperparam_mutations={"q": [0.2, 0.4, 0.6, 0.8, 1.0], "lr": jitter_lr}),
    "hyperopt": dict(max_concurrent=4),
}
#: An experiment config as a spec gives it; "space" is what HyperOptScheduler searches.
EXPERIMENT_CONFIG = {"space": {"q": uniform(0.1, 1.0)}, "lr": 0.1}
NAMES = sorted(SCHEDULERS)


def make(name: str, seed: int = 0, loss: bool = False) -> TrialScheduler:
    metric = dict(metric="loss", mode="min") if loss else dict(metric="score", mode="max")
    if name == "fifo":
        metric = {}
    return create_scheduler(name, seed=seed, **metric, **KWARGS[name])


def configs(n: int = 12, seed: int = 1) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [{"q": float(rng.uniform(0.1, 1.0)), "lr": float(rng.choice([0.03, 0.1, 0.3]))}
            for _ in range(n)]


def simulate(name: str, seed: int = 0, **kw) -> Simulation:
    fail = {3: 2, 7: 5}  # two trials error early
    sim = Simulation(make(name, seed, loss=kw.pop("loss", False)),
                     make_trials(configs(), fail), max_iter=27, **kw)
    return sim.run()


def decisions(sim: Simulation) -> list[tuple]:
    return [entry for entry in sim.log]


def test_registry_is_covered():
    assert set(KWARGS) == set(SCHEDULERS)


@pytest.mark.parametrize("name", NAMES)
def test_api_add_results_error_complete(name):
    """Syne Tune style: add -> results on learning curves -> error -> complete."""
    s = make(name)
    trials = [TrialSnapshot.make(f"t{i}", c) for i, c in enumerate(configs(6))]
    for t in trials:
        s.on_trial_add(t)
    ended = set()
    for it in range(1, 28):
        for i, t in enumerate(trials):
            if t.trial_id in ended:
                continue
            snap = TrialSnapshot.make(t.trial_id, t.config, status="RUNNING", has_checkpoint=True)
            value = (i + 1) / 6 * (1 - 0.8**it)
            d = s.on_trial_result(snap, {"training_iteration": it, "time_total_s": float(it),
                                         "score": value, "loss": -value})
            assert isinstance(d, Decision)
            assert d.action in (TrialScheduler.CONTINUE, TrialScheduler.PAUSE, TrialScheduler.STOP)
            assert isinstance(d.reason, str)
            if d.action != TrialScheduler.CONTINUE:
                assert d.reason, f"{name}: a {d.action} must say why"
            if d.clone_from is not None:
                assert d.clone_from in {x.trial_id for x in trials} - {t.trial_id}
                assert isinstance(d.new_config, dict)
            if d.action == TrialScheduler.STOP:
                s.on_trial_remove(snap)
                ended.add(t.trial_id)
            point = s.next_decision_point(snap)
            assert point is None or isinstance(point, float)
    s.on_trial_error(trials[0])
    for t in trials[1:]:
        if t.trial_id not in ended:
            s.on_trial_complete(t, {"training_iteration": 27})
    assert isinstance(s.debug_string(), str) and s.debug_string()
    assert s.choose_trial_to_run([]) is None
    assert s.paused_trials_to_stop([]) == {}
    pickle.loads(pickle.dumps(s))
    json.dumps(s.get_state())


@pytest.mark.parametrize("name", NAMES)
def test_simulation_runs_to_the_end_with_valid_decisions(name):
    sim = simulate(name)
    assert sim.rounds > 0
    # Every trial ends; reasons for early stops are recorded.
    for t in sim.trials:
        assert t.status in ("TERMINATED", "ERROR")


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_decisions(name):
    assert decisions(simulate(name, seed=3)) == decisions(simulate(name, seed=3))


@pytest.mark.parametrize("name", NAMES)
def test_mode_min_on_a_loss_matches_mode_max_on_the_score(name):
    a, b = simulate(name, seed=5), simulate(name, seed=5, loss=True)
    assert [e[:4] for e in a.log if e[1] != "paused-stop"] == \
        [e[:4] for e in b.log if e[1] != "paused-stop"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("how", ["state", "pickle"])
@pytest.mark.parametrize("swap_at", [3, 11, 25])
def test_state_round_trip_gives_the_same_next_decisions(name, how, swap_at):
    reference = decisions(simulate(name, seed=7))
    swap = swap_via_state(lambda: make(name, seed=999)) if how == "state" else swap_via_pickle
    restored = decisions(simulate(name, seed=7, swap_at=swap_at, swap=swap))
    assert restored == reference


@pytest.mark.parametrize("name", NAMES)
def test_state_is_plain_data_without_configuration(name):
    s = make(name)
    state = s.get_state()
    assert json.loads(json.dumps(state)) is not None
    for key in ("_time_attr", "_spec", "_max_t", "_grace_period", "_mutations", "_eta"):
        assert key not in state
    fresh = make(name, seed=1)
    fresh.set_state(state)
    with pytest.raises(ValueError, match="unknown keys"):
        fresh.set_state({**state, "_max_t": 1})


@pytest.mark.parametrize("name", NAMES)
def test_make_searcher_gives_none_or_a_searcher_of_num_samples_trials(name):
    searcher = make(name).make_searcher(EXPERIMENT_CONFIG, 3)
    if searcher is None:
        return
    assert isinstance(searcher, Searcher)
    suggested = []
    for i in range(5):
        config = searcher.suggest(f"t{i}")
        if config == FINISHED:
            break
        assert isinstance(config, dict)
        suggested.append(config)
        searcher.on_trial_complete(f"t{i}", {"score": config["q"], "loss": -config["q"]})
    assert len(suggested) == 3 and config == FINISHED
