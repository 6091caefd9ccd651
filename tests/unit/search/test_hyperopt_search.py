"""HyperOptSearch: ask/tell against hyperopt's own Trials, conversions, errors, early stops."""

import functools
import subprocess
import sys

import numpy as np
import pytest
from hyperopt import STATUS_FAIL, Trials, fmin, hp, tpe

from tuneflows.hpo_scheduler import HyperOptScheduler
from tuneflows.schedulers import SCHEDULERS, FIFOScheduler
from tuneflows.search import (
    EARLY_STOPPED,
    FINISHED,
    ConcurrencyLimiter,
    HyperOptSearch,
    TrialLimiter,
    choice,
    create_searcher,
    grid_search,
    loguniform,
    qloguniform,
    quniform,
    randint,
    randn,
    uniform,
)


def quad(c):
    return (c["x"] - 1) ** 2 + (c["y"] + 2) ** 2


def run(searcher, f, n, metric="loss", sign=1.0):
    out = []
    for i in range(n):
        c = searcher.suggest(str(i))
        y = f(c)
        searcher.on_trial_complete(str(i), {metric: sign * y, "training_iteration": 1})
        out.append((c, y))
    return out


@pytest.mark.parametrize("tuneflows_space", [False, True])
def test_follows_fmin_exactly(tuneflows_space):
    """Same space, seed and n_startup_jobs: the same points as hyperopt.fmin (ask/tell is
    the same algorithm, not an approximation)."""
    hspace = {"x": hp.uniform("x", -5, 5), "y": hp.uniform("y", -5, 5)}
    space = {"x": uniform(-5, 5), "y": uniform(-5, 5)} if tuneflows_space else hspace
    trials = Trials()
    fmin(quad, hspace, algo=functools.partial(tpe.suggest, n_startup_jobs=5), max_evals=15,
         trials=trials, rstate=np.random.default_rng(3), show_progressbar=False)
    ours = run(HyperOptSearch(space, metric="loss", mode="min", random_state_seed=3,
                              n_initial_points=5), quad, 15)
    assert [y for _, y in ours] == pytest.approx(trials.losses())


def test_mode_max_negates():
    a = run(HyperOptSearch({"x": uniform(-5, 5), "y": uniform(-5, 5)}, metric="loss",
                           mode="min", random_state_seed=1, n_initial_points=4), quad, 12)
    b = run(HyperOptSearch({"x": uniform(-5, 5), "y": uniform(-5, 5)}, metric="score",
                           mode="max", random_state_seed=1, n_initial_points=4), quad, 12,
            metric="score", sign=-1.0)
    assert [c for c, _ in a] == [c for c, _ in b]


def test_reward_attr_is_metric_max():
    s = HyperOptSearch({"x": uniform(0, 1)}, reward_attr="episode_reward_mean")
    assert (s.metric, s.mode) == ("episode_reward_mean", "max")


@pytest.mark.parametrize("kwargs, words", [
    (dict(mode="avg"), ["mode=", "'avg'"]),
    (dict(metric="a", reward_attr="b"), ["metric='a'", "reward_attr='b'"]),
    (dict(reward_attr="r", mode="min"), ["reward_attr='r'"]),
    (dict(max_concurrent=0), ["max_concurrent", "0"]),
    (dict(n_initial_points=0), ["n_initial_points", "0"]),
    (dict(gamma=1.5), ["gamma=1.5"]),
])
def test_bad_arguments(kwargs, words):
    with pytest.raises(ValueError) as e:
        HyperOptSearch({"x": uniform(0, 1)}, **kwargs)
    for w in words:
        assert w in str(e.value)


@pytest.mark.parametrize("space, where", [
    ({"a": {"b": grid_search([1, 2])}}, "'a/b'"),
    ({"lr": {"grid_search": [0.1, 0.2]}}, "'lr'"),
    ({"opt": choice([{"m": grid_search([1])}])}, "'opt/0/m'"),
])
def test_grid_search_is_an_error_naming_the_key(space, where):
    with pytest.raises(ValueError, match=f"grid_search at {where}.*choice"):
        HyperOptSearch(space, metric="m", mode="min")


def test_empty_space_and_missing_space_or_metric():
    with pytest.raises(ValueError, match="nothing to search"):
        HyperOptSearch({"a": 1}, metric="m", mode="min")
    with pytest.raises(ValueError, match="no space"):
        HyperOptSearch(metric="m", mode="min").suggest("t")
    with pytest.raises(ValueError, match="metric"):
        HyperOptSearch({"x": uniform(0, 1)}).suggest("t")


def test_missing_metric_names_metric_and_reported_keys():
    s = HyperOptSearch({"x": uniform(0, 1)}, metric="mean_loss", mode="min")
    s.suggest("t")
    with pytest.raises(ValueError, match=r"'mean_loss'.*'t'.*\['acc', 'training_iteration'\]"):
        s.on_trial_result("t", {"acc": 1.0, "training_iteration": 1})
    with pytest.raises(ValueError, match="'mean_loss'"):
        s.on_trial_complete("t", {"acc": 1.0})


def test_failures_are_never_scores():
    s = HyperOptSearch({"x": uniform(0, 1)}, metric="loss", mode="min", random_state_seed=0)
    for i in range(4):
        s.suggest(str(i))
    s.on_trial_complete("0", {"loss": 0.5})
    s.on_trial_complete("1", {"loss": -100.0}, error=True)  # error: the value is ignored
    s.on_trial_complete("2", {"loss": float("nan")})
    s.on_trial_complete("3")  # no result at all
    assert s._tpe_trials().losses() == [0.5]
    statuses = [d["result"]["status"] for d in s._tpe_trials()._dynamic_trials]
    assert statuses.count(STATUS_FAIL) == 3
    assert s.best_result()["value"] == 0.5


def test_last_intermediate_result_used_when_final_lacks_it():
    s = HyperOptSearch({"x": uniform(0, 1)}, metric="loss", mode="min")
    s.suggest("a")
    s.on_trial_result("a", {"loss": 0.25, "training_iteration": 3})
    s.on_trial_complete("a", None)
    assert s._tpe_trials().losses() == [0.25]


def test_primitive_conversions_respect_domains():
    space = {"u": uniform(2, 3), "q": quniform(0.05, 1, 0.1), "l": loguniform(1e-4, 1e-1),
             "ql": qloguniform(1, 100, 5), "r": randint(3, 6), "c": choice(["a", 7, None]),
             "n": randn(10, 0.1)}
    s = HyperOptSearch(space, metric="m", mode="min", random_state_seed=0, n_initial_points=5)
    for i in range(30):
        c = s.suggest(str(i))
        assert 2 <= c["u"] <= 3 and 0.1 - 1e-9 <= c["q"] <= 1 + 1e-9
        assert abs(c["q"] / 0.1 - round(c["q"] / 0.1)) < 1e-9
        assert 1e-4 <= c["l"] <= 1e-1 and 5 <= c["ql"] <= 100 and c["ql"] % 5 == 0
        assert type(c["r"]) is int and 3 <= c["r"] < 6 and c["c"] in ("a", 7, None)
        assert 9 < c["n"] < 11
        s.on_trial_complete(str(i), {"m": c["u"] + c["r"]})


def test_conditional_spaces_native_and_tuneflows():
    native = {"opt": hp.choice("opt", [{"name": "sgd", "mom": hp.uniform("mom", 0, 1)},
                                       {"name": "adam"}])}
    ours = {"opt": choice([{"name": "sgd", "mom": uniform(0, 1)}, {"name": "adam"}])}
    for space in (native, ours):
        s = HyperOptSearch(space, metric="m", mode="min", random_state_seed=0, n_initial_points=3)
        names = set()
        for i in range(12):
            c = s.suggest(str(i))
            names.add(c["opt"]["name"])
            if c["opt"]["name"] == "sgd":
                assert 0 <= c["opt"]["mom"] <= 1
            else:
                assert c["opt"] == {"name": "adam"}
            s.on_trial_complete(str(i), {"m": c["opt"].get("mom", 0.5)})
        assert names == {"sgd", "adam"}


def test_root_hp_expression_space():
    space = hp.choice("model", [{"kind": "a", "x": hp.uniform("xa", 0, 1)}, {"kind": "b"}])
    s = HyperOptSearch(space, metric="m", mode="min", random_state_seed=0)
    c = s.suggest("0")
    assert c["kind"] in ("a", "b")


def test_points_to_evaluate_first():
    space = {"x": uniform(-5, 5), "act": choice(["relu", "tanh"]), "n": {"h": hp.uniform("h", 0, 1)}}
    pts = [{"x": 0.5, "act": "tanh", "h": 0.2}, {"x": -1.0, "act": "relu", "n": {"h": 0.9}}]
    s = HyperOptSearch(space, metric="m", mode="min", points_to_evaluate=pts, random_state_seed=0)
    c0, c1 = s.suggest("0"), s.suggest("1")
    assert c0 == {"x": 0.5, "act": "tanh", "n": {"h": 0.2}}
    assert c1 == {"x": -1.0, "act": "relu", "n": {"h": 0.9}}
    assert s.experiment_tag("0") == "act=tanh,n/h=0.2,x=0.5"  # sorted, as the seed's
    with pytest.raises(ValueError, match="'gelu'.*choices"):
        HyperOptSearch(space, metric="m", mode="min", points_to_evaluate=[{"x": 0, "act": "gelu", "h": 0}])
    with pytest.raises(ValueError, match="misses"):
        HyperOptSearch(space, metric="m", mode="min", points_to_evaluate=[{"x": 0}])


def test_max_concurrent_and_limiter():
    s = HyperOptSearch({"x": uniform(0, 1)}, metric="m", mode="min", max_concurrent=2)
    assert isinstance(s.suggest("a"), dict) and isinstance(s.suggest("b"), dict)
    assert s.suggest("c") is None and s.suggest("c") is None
    s.on_trial_complete("a", {"m": 1.0})
    assert isinstance(s.suggest("c"), dict)
    lim = ConcurrencyLimiter(HyperOptSearch({"x": uniform(0, 1)}, metric="m", mode="min"), 1)
    assert isinstance(lim.suggest("a"), dict) and lim.suggest("b") is None
    lim.on_trial_complete("a", None, error=True)
    assert isinstance(lim.suggest("b"), dict)
    assert lim.metric == "m" and lim.best_result() is None
    with pytest.raises(ValueError, match="max_concurrent"):
        ConcurrencyLimiter(lim, 0)
    t = TrialLimiter(HyperOptSearch({"x": uniform(0, 1)}, metric="m", mode="min"), 2)
    assert t.total_trials == 2
    assert [type(t.suggest(str(i))).__name__ for i in range(3)] == ["dict", "dict", "str"]


def test_set_search_properties_from_experiment():
    s = HyperOptSearch(random_state_seed=0)
    assert s.set_search_properties("acc", "max", {"lr": loguniform(1e-3, 1), "bs": 32,
                                                  "lr2": lambda spec: spec.config.lr * 2})
    c = s.suggest("0")
    assert c["bs"] == 32 and c["lr2"] == pytest.approx(2 * c["lr"])
    assert (s.metric, s.mode) == ("acc", "max")
    # constructor arguments win; the experiment's constants merge under the given space
    s = HyperOptSearch({"x": uniform(0, 1)}, metric="loss", mode="min")
    s.set_search_properties("acc", "max", {"bs": 32, "x": 5})
    c = s.suggest("0")
    assert (s.metric, s.mode) == ("loss", "min") and c["bs"] == 32 and 0 <= c["x"] <= 1
    with pytest.raises(ValueError, match="mode"):
        s.set_search_properties(None, "best", None)


def test_early_stopped_trials_rank_after_finished_by_budget():
    s = HyperOptSearch({"x": uniform(0, 1)}, metric="acc", mode="max", random_state_seed=0,
                       n_initial_points=50)
    results = {
        "full_good": {"acc": 0.9, "training_iteration": 27},
        "full_bad": {"acc": 0.2, "training_iteration": 27},
        "stop9": {"acc": 0.95, "training_iteration": 9, EARLY_STOPPED: True},
        "stop3_good": {"acc": 0.99, "training_iteration": 3, EARLY_STOPPED: True},
        "stop3_bad": {"acc": 0.1, "training_iteration": 3, EARLY_STOPPED: True},
    }
    for tid in results:
        s.suggest(tid)
    for tid, r in results.items():
        s.on_trial_complete(tid, r)
    s.suggest("next")  # losses are ranked before each TPE call
    loss = {tid: s._documents.doc(s._tid[tid])["result"]["loss"] for tid in results}
    order = sorted(loss, key=loss.get)
    assert order == ["full_good", "full_bad", "stop9", "stop3_good", "stop3_bad"]
    assert loss["full_good"] == -0.9 and loss["full_bad"] == -0.2  # true losses kept
    assert s.best_result()["trial_id"] == "full_good"  # early-stopped never "best"


def test_early_stop_information_helps_tpe():
    """A trial stopped early at a low budget steers TPE away from its region: with the
    stopped trials' ranking, TPE proposes more points near the finished good ones."""
    def run_with(flag):
        s = HyperOptSearch({"x": uniform(0, 1)}, metric="loss", mode="min",
                           random_state_seed=0, n_initial_points=10)
        xs = []
        for i in range(40):
            c = s.suggest(str(i))
            xs.append(c["x"])
            if c["x"] > 0.5:  # bad region: a scheduler stops these at budget 1, where
                # their loss looks misleadingly good (learning curves cross)
                s.on_trial_complete(str(i), {"loss": 0.05, "training_iteration": 1,
                                             EARLY_STOPPED: flag})
            else:
                s.on_trial_complete(str(i), {"loss": 0.1 + c["x"], "training_iteration": 10})
        return np.mean(np.array(xs[10:]) <= 0.5)

    assert run_with(True) > 0.7 > run_with(False)


def test_seed_hyperopt_scheduler_example():
    sched = HyperOptScheduler()
    assert isinstance(sched, FIFOScheduler) and SCHEDULERS["hyperopt"] is HyperOptScheduler
    assert sched.debug_string() == "Using FIFO scheduling algorithm."
    space = {"param": hp.uniform("param", 0, 20)}
    searcher = sched.make_searcher({"space": space, "other": 1}, num_samples=5)
    assert searcher.total_trials == 5
    configs = []
    for i in range(7):
        c = searcher.suggest(str(i))
        if c == FINISHED:
            break
        configs.append(c)
        searcher.on_trial_complete(str(i), {"episode_reward_mean": -abs(c["param"] - 3)})
    assert len(configs) == 5 and c == FINISHED
    assert all(set(c) == {"param", "other"} and 0 <= c["param"] <= 20 for c in configs)
    assert searcher.metric == "episode_reward_mean" and searcher.mode == "max"
    with pytest.raises(ValueError, match=r"config\['space'\].*\['other'\]"):
        sched.make_searcher({"other": 1}, 5)
    with pytest.raises(ValueError, match="max_concurrent"):
        HyperOptScheduler(max_concurrent=0)
    lim = HyperOptScheduler(max_concurrent=1).make_searcher({"space": space}, 3)
    assert isinstance(lim.suggest("a"), dict) and lim.suggest("b") is None


def test_create_searcher_lists_names_and_kwargs():
    assert isinstance(create_searcher("hyperopt", space={"x": uniform(0, 1)}, metric="m",
                                      mode="min"), HyperOptSearch)
    with pytest.raises(ValueError, match=r"'bogus'.*\['hyperopt', 'random', 'variant'\]"):
        create_searcher("bogus")
    with pytest.raises(ValueError, match=r"\['nope'\].*'space'.*'metric'"):
        create_searcher("hyperopt", nope=1)


def test_reproducible_in_another_process():
    code = (
        "from tuneflows.search import HyperOptSearch, BasicVariantGenerator, uniform\n"
        "s = HyperOptSearch({'x': uniform(0, 1)}, metric='m', mode='min', random_state_seed=5,"
        " n_initial_points=2)\n"
        "out = []\n"
        "for i in range(4):\n"
        "    c = s.suggest(str(i)); out.append(repr(c['x'])); s.on_trial_complete(str(i), {'m': c['x']})\n"
        "g = BasicVariantGenerator({'x': uniform(0, 1)}, num_samples=2, seed=5)\n"
        "out += [repr(g.suggest(str(i))['x']) for i in range(2)]\n"
        "print(' '.join(out))\n"
    )
    outs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout for _ in range(2)]
    assert outs[0] == outs[1] and len(outs[0].split()) == 6


def test_a_state_of_the_earlier_layout_resumes_as_that_tuneflows_continued():
    """A state written before settled records (every document in ``docs``), captured from
    that tuneflows with its next steps: restored here, the search continues the same."""
    import json
    import pathlib

    saved = json.loads((pathlib.Path(__file__).parent / "data"
                        / "hyperopt_state_before_settled.json").read_text())
    s = HyperOptSearch({"x": uniform(0, 1)}, metric="loss", mode="min", random_state_seed=0,
                       n_initial_points=3)
    s.set_state(saved["state"])
    assert "docs" not in s.get_state() and len(s.get_state()["settled"]) == 1 + 6
    for trial_id, loss in saved["live_losses"].items():
        s.on_trial_complete(trial_id, {"loss": loss, "training_iteration": 3})
    assert [s.suggest(f"u{i}") for i in range(3)] == saved["suggestions_after"]
    assert s.best_result() == saved["best_result"]


def test_a_failed_trial_run_again_is_learnt_and_its_last_record_counts():
    """ERRORED_ONLY resume runs failed trials again: their new result counts, in TPE's
    model and through a state round trip (the trial's later record wins)."""
    import json

    a = HyperOptSearch({"x": uniform(0, 1)}, metric="m", mode="min", random_state_seed=0)
    for i in range(3):
        a.suggest(str(i))
    a.on_trial_complete("0", {"m": 0.5})
    a.on_trial_complete("1", error=True)
    b = HyperOptSearch({"x": uniform(0, 1)}, metric="m", mode="min", random_state_seed=0)
    b.set_state(json.loads(json.dumps(a.get_state())))
    b.on_trial_result("1", {"m": 0.1})
    b.on_trial_complete("1", {})  # its last result's metric, as for any trial
    assert sorted(x for x in b._tpe_trials().losses() if x is not None) == [0.1, 0.5]
    assert b.best_result()["trial_id"] == "1"
    c = HyperOptSearch({"x": uniform(0, 1)}, metric="m", mode="min", random_state_seed=0)
    c.set_state(json.loads(json.dumps(b.get_state())))
    assert c.best_result() == b.best_result()
    assert c.suggest("3") == b.suggest("3")
