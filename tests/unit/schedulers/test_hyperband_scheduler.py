"""HyperBand against Li et al. (JMLR 2018), Table 1, and its no-deadlock promises."""

from __future__ import annotations

import numpy as np
import pytest
from scheduler_sim import Simulation, make_trials

from tuneflows.schedulers import HyperBandScheduler
from tuneflows.trial import TrialSnapshot

# Table 1 of the paper, R = 81, eta = 3: per bracket s, the (n_i, r_i) of each rung.
TABLE_1 = {
    4: [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)],
    3: [(34, 3), (11, 9), (3, 27), (1, 81)],
    2: [(15, 9), (5, 27), (1, 81)],
    1: [(8, 27), (2, 81)],
    0: [(5, 81)],
}


def test_plan_is_table_1():
    plan = HyperBandScheduler(max_t=81, reduction_factor=3).plan()
    assert [b["s"] for b in plan] == [4, 3, 2, 1, 0]
    assert {b["s"]: b["rungs"] for b in plan} == TABLE_1
    assert [(b["n"], b["r"]) for b in plan] == [(81, 1), (34, 3), (15, 9), (8, 27), (5, 81)]


def test_simulated_brackets_have_table_1_sizes_and_budgets():
    n = sum(rungs[0][0] for rungs in TABLE_1.values())  # 143 trials fill one band
    rng = np.random.default_rng(0)
    configs = [{"q": float(q)} for q in rng.permutation(np.linspace(0.1, 1.0, n))]
    sched = HyperBandScheduler(max_t=81, metric="score")
    sim = Simulation(sched, make_trials(configs), slots=4, max_iter=81).run()
    log = sched.get_state()["_rung_log"]
    for s, rungs in TABLE_1.items():
        got = [(e["reached"], e["promoted"], e["r"]) for e in log if e["s"] == s]
        want = [(n_i, rungs[i + 1][0], r_i) for i, (n_i, r_i) in enumerate(rungs[:-1])]
        assert got == want, s
    # The last rung of every bracket trains its n_s survivors to R = 81.
    finishers = [t for t in sim.trials if t.t == 81]
    assert len(finishers) == sum(rungs[-1][0] for rungs in TABLE_1.values())
    # Total budget: sum over brackets of n_i * (r_i - r_{i-1}).
    budget = sum(n_i * (r_i - (rungs[i - 1][1] if i else 0))
                 for rungs in TABLE_1.values() for i, (n_i, r_i) in enumerate(rungs))
    assert sim.total_iterations == budget
    # Monotone curves: each bracket's finisher is its best trial.
    brackets = sched.get_state()["_brackets"]
    for b in brackets:
        best = max(b["trials"], key=lambda tid: sim.by_id(tid).config["q"])
        assert sim.by_id(best).t == 81


def _snap(tid, status="RUNNING"):
    return TrialSnapshot.make(tid, {}, status=status, has_checkpoint=status == "PAUSED")


def test_pause_until_rung_complete_then_promote_best_third():
    s = HyperBandScheduler(max_t=9, metric="acc")  # s_max = 2: first bracket n=9, r=1
    assert s.plan()[0]["rungs"] == [(9, 1.0), (3, 3.0), (1, 9.0)]
    ids = [f"t{i}" for i in range(9)]
    for tid in ids:
        s.on_trial_add(_snap(tid, "PENDING"))
        assert s.next_decision_point(_snap(tid)) == 1.0
    decisions = [s.on_trial_result(_snap(tid), {"training_iteration": 1, "acc": i / 10})
                 for i, tid in enumerate(ids)]
    assert [d.action for d in decisions[:-1]] == ["PAUSE"] * 8
    assert "waiting at rung 1 of bracket s=2 (8/9" in decisions[-2].reason
    assert decisions[-1].action == "CONTINUE"  # t8 completed the rung and is the best
    paused = [_snap(tid, "PAUSED") for tid in ids[:-1]] + [_snap("t8")]
    stops = s.paused_trials_to_stop(paused)
    assert sorted(stops) == ids[:6]
    assert stops["t5"].reason == ("stopped at rung 1 of bracket s=2: 0.5 < cutoff 0.6 "
                                  "(best 3 of 9 continue)")
    assert s.choose_trial_to_run(paused) == "t6"  # promoted and paused: resume it
    assert s.next_decision_point(_snap("t6")) == 3.0


def test_waiting_trials_do_not_deadlock_when_the_others_error():
    s = HyperBandScheduler(max_t=9, metric="acc")
    ids = [f"t{i}" for i in range(9)]
    for tid in ids:
        s.on_trial_add(_snap(tid, "PENDING"))
    for i, tid in enumerate(ids[:5]):
        assert s.on_trial_result(_snap(tid), {"training_iteration": 1, "acc": i}).action == "PAUSE"
    for tid in ids[5:8]:
        s.on_trial_error(_snap(tid, "ERROR"))
    s.on_trial_complete(_snap("t8", "TERMINATED"), None)  # ended before its rung
    snaps = [_snap(t, "PAUSED") for t in ids[:5]] + [_snap(t, "ERROR") for t in ids[5:]]
    assert s.choose_trial_to_run(snaps) == "t2"  # best floor(9/3)=3 of 5 continue: t4, t3, t2
    assert sorted(s.paused_trials_to_stop(snaps)) == ["t0", "t1"]


def test_underfilled_bracket_is_closed_when_nothing_else_can_run():
    s = HyperBandScheduler(max_t=81, metric="acc")
    ids = ["a", "b", "c"]
    for tid in ids:
        s.on_trial_add(_snap(tid, "PENDING"))
    for i, tid in enumerate(ids):
        assert s.on_trial_result(_snap(tid), {"training_iteration": 1, "acc": i}).action == "PAUSE"
    snaps = [_snap(t, "PAUSED") for t in ids]
    assert s.choose_trial_to_run(snaps) == "c"  # closed with 3 of 81: max(1, 3 // 3) = 1
    assert sorted(s.paused_trials_to_stop(snaps)) == ["a", "b"]
    # New trials now open the next bracket (s=3) instead of joining a halved one.
    s.on_trial_add(_snap("d", "PENDING"))
    assert s.next_decision_point(_snap("d")) == 3.0


def test_pending_trials_run_before_an_underfilled_bracket_is_closed():
    s = HyperBandScheduler(max_t=81, metric="acc")
    for tid in ("a", "b"):
        s.on_trial_add(_snap(tid, "PENDING"))
    assert s.on_trial_result(_snap("a"), {"training_iteration": 1, "acc": 1.0}).action == "PAUSE"
    assert s.choose_trial_to_run([_snap("a", "PAUSED"), _snap("b", "PENDING")]) == "b"


@pytest.mark.parametrize("n_trials,slots", [(5, 1), (20, 3), (60, 4)])
def test_simulation_with_errors_finishes_every_bracket(n_trials, slots):
    rng = np.random.default_rng(n_trials)
    configs = [{"q": float(rng.uniform(0.1, 1))} for _ in range(n_trials)]
    fail = {int(i): int(rng.integers(1, 30)) for i in rng.choice(n_trials, n_trials // 4)}
    sim = Simulation(HyperBandScheduler(max_t=27, metric="score"), make_trials(configs, fail),
                     slots=slots, max_iter=27).run()
    for t in sim.trials:  # each trial errored, reached max_t or was stopped with a reason
        assert t.status == "ERROR" or t.t == 27 or t.reason.startswith("stopped at rung")
    assert any(e[1] == "PAUSE" for e in sim.log) and any(e[1] == "start" for e in sim.log)


def test_stop_criterion_ending_trials_early_does_not_deadlock():
    configs = [{"q": q} for q in np.linspace(0.1, 1, 30)]
    sim = Simulation(HyperBandScheduler(max_t=81, metric="score"), make_trials(configs),
                     slots=2, max_iter=5).run()  # every trial completes at 5 < max_t
    assert max(t.t for t in sim.trials) == 5


def test_validation_names_the_value():
    with pytest.raises(ValueError, match="reduction_factor=1"):
        HyperBandScheduler(reduction_factor=1)
    with pytest.raises(ValueError, match="max_t=0"):
        HyperBandScheduler(max_t=0)


@pytest.mark.parametrize("slots", [1, 3])
def test_trials_added_one_by_one_still_fill_the_brackets(slots):
    """With the searcher asked before choose_trial_to_run (Ray 0.x's order), brackets
    fill up to their n even when trials arrive one at a time and slots are few."""
    configs = [{"q": q} for q in np.linspace(0.1, 1, 14)]  # 9 + 5: brackets s=2 and s=1
    sched = HyperBandScheduler(max_t=9, metric="score")
    Simulation(sched, make_trials(configs), slots=slots, max_iter=9, lazy=True).run()
    log = [(e["s"], e["reached"], e["promoted"]) for e in sched.get_state()["_rung_log"]]
    assert log == [(2, 9, 3), (2, 3, 1), (1, 5, 1)]
