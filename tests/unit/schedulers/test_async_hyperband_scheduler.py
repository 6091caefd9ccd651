"""ASHA against Li et al. (MLSys 2020): rungs, cutoffs, brackets, early stopping."""

from __future__ import annotations

import collections

import numpy as np
import pytest
from scheduler_sim import Simulation, make_trials

from tuneflows.schedulers import AsyncHyperBandScheduler, FIFOScheduler
from tuneflows.trial import TrialSnapshot


def _snap(tid, it=0):
    last = {"training_iteration": it} if it else None
    return TrialSnapshot.make(tid, {}, status="RUNNING", last_result=last)


def test_seed_defaults_give_three_brackets_of_rungs():
    s = AsyncHyperBandScheduler()  # max_t=100, grace_period=10, reduction_factor=3, brackets=3
    assert s._milestones == [[10.0, 30.0, 90.0], [30.0, 90.0], [90.0]]
    assert s.metric == "episode_reward_mean" and s.mode == "max"


def test_hand_computed_rung_cutoffs():
    # One bracket, rungs 1, 3, 9. The cutoff is the (1 - 1/3) quantile, with linear
    # interpolation, of the scores already at the rung.
    s = AsyncHyperBandScheduler(metric="acc", max_t=9, grace_period=1, brackets=1)
    scores = {"a": 0.5, "b": 0.8, "c": 0.6, "d": 0.7, "e": 0.65}
    got = {}
    for tid, acc in scores.items():
        s.on_trial_add(_snap(tid))
        got[tid] = s.on_trial_result(_snap(tid), {"training_iteration": 1, "acc": acc})
    # a: empty rung -> go on; b: cutoff([.5]) = .5; c: cutoff([.5,.8]) = .5+.3*2/3 = .7
    # d: cutoff([.5,.8,.6]) = .6+.2*(1/3) = .6667; e: cutoff([.5,.6,.7,.8]) = .7
    assert {k: d.action for k, d in got.items()} == {
        "a": "CONTINUE", "b": "CONTINUE", "c": "STOP", "d": "CONTINUE", "e": "STOP"}
    assert got["c"].reason == "stopped at rung 1: 0.6 < cutoff 0.7"
    assert got["e"].reason == "stopped at rung 1: 0.65 < cutoff 0.7"
    assert s.cutoff({"x": 0.5, "y": 0.8, "z": 0.6}) == pytest.approx(0.6 + 0.2 / 3)
    # A stopped trial stays stopped.
    assert s.on_trial_result(_snap("c"), {"training_iteration": 2, "acc": 1.0}).action == "STOP"
    # Next rung: b reaches 3 first (empty rung, goes on); d below b's score stops.
    assert s.next_decision_point(_snap("b", 1)) == 3.0
    assert s.on_trial_result(_snap("b"), {"training_iteration": 3, "acc": 0.9}).action == "CONTINUE"
    d = s.on_trial_result(_snap("d"), {"training_iteration": 3, "acc": 0.85})
    assert d.reason == "stopped at rung 3: 0.85 < cutoff 0.9"
    # max_t ends every trial.
    d = s.on_trial_result(_snap("b"), {"training_iteration": 9, "acc": 0.95})
    assert d.action == "STOP" and "max_t=9" in d.reason


def test_mode_min_compares_the_loss_itself():
    s = AsyncHyperBandScheduler(metric="loss", mode="min", max_t=9, grace_period=1, brackets=1)
    for tid, loss in [("a", 0.5), ("b", 0.2)]:
        assert s.on_trial_result(_snap(tid), {"training_iteration": 1, "loss": loss}).action == "CONTINUE"
    d = s.on_trial_result(_snap("c"), {"training_iteration": 1, "loss": 0.4})
    assert d.action == "STOP" and d.reason == "stopped at rung 1: 0.4 > cutoff 0.3"


def test_promotion_never_waits_for_a_rung_to_fill():
    s = AsyncHyperBandScheduler(metric="acc", max_t=81, grace_period=1, brackets=1)
    # A lone trial passes every rung at once: no PAUSE, ever.
    actions = [s.on_trial_result(_snap("a"), {"training_iteration": i, "acc": 0.1}).action
               for i in range(1, 81)]
    assert set(actions) == {"CONTINUE"}


def test_jumping_over_rungs_records_the_highest_reached():
    s = AsyncHyperBandScheduler(metric="acc", max_t=100, grace_period=1, brackets=1,
                                time_attr="time_total_s")
    s.on_trial_result(_snap("a"), {"time_total_s": 10.0, "acc": 0.9})
    assert list(s._rungs[0][2]) == ["a"] and not s._rungs[0][0]  # rung 9, not 1 or 3
    assert s.next_decision_point(TrialSnapshot.make("a", {}, last_result={"time_total_s": 10.0})) == 27.0


def test_trials_are_spread_over_brackets_reproducibly():
    def spread(seed):
        s = AsyncHyperBandScheduler(seed=seed)
        for i in range(300):
            s.on_trial_add(_snap(f"t{i}"))
        return [s._trials[f"t{i}"]["bracket"] for i in range(300)]
    a = spread(1)
    assert a == spread(1) and a != spread(2)
    counts = collections.Counter(a)
    assert counts[0] > counts[1] > counts[2] > 0  # more rungs, more likely (e**rungs)


def test_asha_stops_early_and_keeps_the_best():
    rng = np.random.default_rng(0)
    configs = [{"q": float(q)} for q in rng.uniform(0.1, 1.0, 27)]
    fifo = Simulation(FIFOScheduler(), make_trials(configs), slots=3, max_iter=27).run()
    asha = Simulation(AsyncHyperBandScheduler(metric="score", max_t=27, grace_period=1,
                                              brackets=1, seed=0),
                      make_trials(configs), slots=3, max_iter=27).run()
    assert asha.total_iterations < 0.35 * fifo.total_iterations
    best = max(asha.trials, key=lambda t: t.config["q"])
    assert best.t == 27
    assert sum(t.reason.startswith("stopped at rung") for t in asha.trials) >= 18


@pytest.mark.parametrize("kwargs,match", [
    (dict(grace_period=0), "grace_period=0"),
    (dict(max_t=5, grace_period=10), "grace_period=10"),
    (dict(reduction_factor=1), "reduction_factor=1"),
    (dict(brackets=0), "brackets=0"),
    (dict(mode="maximize"), "mode='maximize'"),
])
def test_validation_names_the_value(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AsyncHyperBandScheduler(**kwargs)


def test_brackets_without_a_rung_are_accepted_as_the_seed_accepted_them():
    """Ray Tune 0.5's async_hyperband built brackets with no rung (max_t=40,
    grace_period=5, η=3: the third bracket's first rung would be 45) and sent trials to
    them by the same softmax over rung counts; such a trial runs to max_t."""
    with pytest.warns(UserWarning, match="only 2 brackets have a rung"):
        s = AsyncHyperBandScheduler(metric="acc", mode="max", max_t=40, grace_period=5,
                                    brackets=3, seed=0)
    trials = [TrialSnapshot.make(f"t{i}", {}) for i in range(300)]
    for t in trials:
        s.on_trial_add(t)
    unjudged = [t for t in trials if s.next_decision_point(t) == 40]
    assert unjudged  # some trials landed in the bracket without a rung
    for t in range(1, 40):  # judged nowhere: the worst score goes on
        assert s.on_trial_result(unjudged[0], {"training_iteration": t, "acc": 0.0}).action \
            == "CONTINUE"
    decision = s.on_trial_result(unjudged[0], {"training_iteration": 40, "acc": 0.0})
    assert decision.action == "STOP" and decision.budget_spent


def test_kept_sorted_the_quantile_is_numpy_s_percentile_to_the_last_bit():
    from tuneflows.schedulers.sorted_scores import SortedScores

    rng = np.random.default_rng(0)
    for _ in range(3000):
        values = list(rng.choice([rng.normal(0, 1e3), rng.random(), -np.inf, 0.0],
                                 size=int(rng.integers(1, 60))))
        for q in (1 - 1 / 3, 1 - 1 / 4, 0.5, 1 - 1 / 2.5):
            kept = SortedScores()
            for value in values:
                kept.add(float(value))
            expected = float(np.percentile(values, q * 100))
            got = kept.quantile(q)
            assert got == expected or (np.isnan(got) and np.isnan(expected)), (values, q)


def test_cutoffs_from_kept_scores_decide_as_fresh_percentiles_through_reruns_and_resume():
    """A long run with reruns and a state round trip decides exactly as the rule computed
    afresh (np.percentile over the rung's scores at each decision)."""
    def fresh_decisions(events):
        rungs, decided = collections.defaultdict(dict), []
        for kind, tid, it, acc in events:
            if kind == "rerun":
                for milestone in list(rungs):
                    if milestone > it:
                        rungs[milestone].pop(tid, None)
                continue
            recorded = rungs[it]
            cut = np.percentile(list(recorded.values()), 200 / 3) if recorded else None
            decided.append(cut is None or acc >= cut)
            recorded[tid] = acc
        return decided

    rng = np.random.default_rng(1)
    events = []
    for i in range(400):
        for it in (1, 3, 9):  # a trial per rung: each is judged there (a stopped one never is again)
            events.append(("result", f"t{i}@{it}", it, float(rng.random())))
        if i % 37 == 0:  # it errored, runs again from iteration 1 and is judged anew
            events += [("rerun", f"t{i}@9", 1, 0.0), ("result", f"t{i}@9", 9, float(rng.random()))]
    s = AsyncHyperBandScheduler(metric="acc", max_t=9, grace_period=1, brackets=1)
    decided = []
    for n, (kind, tid, it, acc) in enumerate(events):
        if n == len(events) // 2:  # resume half-way: the sorted scores are rebuilt
            state, s = s.get_state(), AsyncHyperBandScheduler(metric="acc", max_t=9,
                                                              grace_period=1, brackets=1)
            s.set_state(state)
        if kind == "rerun":
            s.on_trial_rerun(_snap(tid, it))
            continue
        s.on_trial_add(_snap(tid))
        decision = s.on_trial_result(_snap(tid, it), {"training_iteration": it, "acc": acc})
        decided.append(not decision.reason.startswith("stopped at rung"))
    assert decided == fresh_decisions(events)
    assert decided.count(False) > 300  # the rule stopped many: a real comparison


def test_the_status_line_names_the_rungs_reached_and_counts_the_empty_rest():
    s = AsyncHyperBandScheduler(metric="acc", mode="max", time_attr="timesteps_total",
                                max_t=1e9, grace_period=1, brackets=1)
    assert len(s._milestones[0]) == 19  # 1, 3, ..., 3**18
    for i, steps in enumerate([1, 1, 3]):
        s.on_trial_add(_snap(f"t{i}"))
        s.on_trial_result(_snap(f"t{i}"), {"timesteps_total": steps, "acc": 0.5 + i})
    assert s.debug_string() == ("Using AsyncHyperBand: num_stopped=0; trials at rungs: "
                                "bracket 0 {1: 2, 3: 1, 17 more up to 3.8742e+08: 0}")
    fresh = AsyncHyperBandScheduler(metric="acc", mode="max", max_t=9, grace_period=1,
                                    brackets=1)
    assert fresh.debug_string().endswith("bracket 0 {1: 0, 2 more up to 9: 0}")
