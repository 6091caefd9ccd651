"""One suite over every searcher: suggest -> results -> failures -> complete, state, pickle."""

import copy
import pickle

import pytest

from tuneflows.search import FINISHED, Searcher

from search_helpers import make_result

MAX_STEPS = 40


def drive(searcher, steps=MAX_STEPS, prefix="t", fail_every=4, start=0):
    """Runs the flow's loop (one slot at a time when the searcher says "not now").

    Returns the suggestions in order (dicts, None and FINISHED)."""
    log, live = [], []
    n = start
    for _ in range(steps):
        tid = f"{prefix}{n}"
        s = searcher.suggest(tid)
        log.append(s)
        if s == FINISHED:
            # finish what still runs, then stop
            for t, cfg in live:
                searcher.on_trial_complete(t, make_result(cfg, 2))
            break
        if s is None:
            assert live, "None (not now) with nothing running would stall the flow"
            t, cfg = live.pop(0)
            searcher.on_trial_complete(t, make_result(cfg, 2))
            continue
        assert isinstance(s, dict)
        n += 1
        searcher.on_trial_result(tid, make_result(s, 1))
        if n % fail_every == 0:
            searcher.on_trial_complete(tid, None, error=True)
        elif len(live) >= 1:
            t, cfg = live.pop(0)
            searcher.on_trial_complete(t, make_result(cfg, 2))
            live.append((tid, s))
        else:
            live.append((tid, s))
    return log


def test_suggest_until_finished_or_n(factory):
    searcher = factory()
    assert isinstance(searcher, Searcher)
    log = drive(searcher)
    configs = [c for c in log if isinstance(c, dict)]
    assert configs
    total = searcher.total_trials
    if total is not None:
        assert log[-1] == FINISHED and len(configs) == total
        assert searcher.suggest("after") == FINISHED
    for c in configs:
        assert 1e-3 <= c["lr"] <= 1 and c["layers"] in (1, 2, 3) and c["act"] in ("relu", "tanh")
        assert c["lr2"] == pytest.approx(2 * c["lr"])


def test_tags_are_short_and_name_the_varied_keys(factory):
    searcher = factory()
    c = searcher.suggest("a")
    tag = searcher.experiment_tag("a")
    assert "lr=" in tag and "layers=" in tag and "const" not in tag
    assert len(tag) < 80
    assert f"lr={c['lr']:.4g}" in tag


def test_same_construction_same_suggestions(factory):
    assert drive(factory()) == drive(factory())


def test_state_round_trip_continues_identically(factory):
    a = factory()
    drive(a, steps=5)
    state = a.get_state()
    frozen = copy.deepcopy(state)
    b = factory()
    b.set_state(state)
    c = pickle.loads(pickle.dumps(a))
    rest_a = drive(a, prefix="r", start=100)
    assert drive(b, prefix="r", start=100) == rest_a
    assert drive(c, prefix="r", start=100) == rest_a
    assert state == frozen  # set_state did not keep references into the given state
    assert pickle.loads(pickle.dumps(frozen)) == frozen


def test_failures_and_unknown_trials_are_harmless(factory):
    searcher = factory()
    searcher.on_trial_result("never-suggested", {"loss": 1.0})
    searcher.on_trial_complete("never-suggested", {"loss": 1.0})
    s = searcher.suggest("x")
    searcher.on_trial_complete("x", None, error=True)
    assert isinstance(searcher.suggest("y"), dict)
    assert isinstance(s, dict)


def test_state_survives_json(factory):
    """The flow may persist experiment state as JSON: tuples become lists, int keys strings."""
    import json

    a = factory()
    drive(a, steps=6)
    b = factory()
    b.set_state(json.loads(json.dumps(a.get_state())))
    assert drive(b, prefix="r", start=100) == drive(a, prefix="r", start=100)


def test_state_holds_no_configuration(factory):
    """Constructor arguments are configuration: resume must not override them
    (keras-team/keras-tuner#803)."""
    a = factory()
    drive(a, steps=3)
    state = a.get_state()
    while "searcher" in state:
        assert set(state) <= {"searcher", "live", "count"}
        state = state["searcher"]
    for key in ("metric", "mode", "max_concurrent", "config", "space", "num_samples", "seed",
                "gamma", "n_initial_points", "max_trials"):
        assert key not in state
