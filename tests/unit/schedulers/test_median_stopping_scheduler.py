"""Median stopping rule cases (Golovin et al., Vizier, KDD 2017)."""

from __future__ import annotations

import pytest

from tuneflows.schedulers import MedianStoppingRule
from tuneflows.trial import TrialSnapshot


def make(**kw):
    base = dict(time_attr="training_iteration", metric="acc", grace_period=3,
                min_samples_required=2, eval_interval=1)
    return MedianStoppingRule(**{**base, **kw})


def _snap(tid):
    return TrialSnapshot.make(tid, {}, status="RUNNING")


def feed(s, curves, upto):
    """Feeds iteration 1..upto of each curve, trial by trial per iteration."""
    out = {}
    for it in range(1, upto + 1):
        for tid, curve in curves.items():
            if it <= len(curve):
                out[tid] = s.on_trial_result(_snap(tid), {"training_iteration": it,
                                                         "acc": curve[it - 1]})
    return out


CURVES = {"good": [0.5, 0.6, 0.7, 0.8], "ok": [0.4, 0.5, 0.6, 0.7], "bad": [0.1, 0.1, 0.1, 0.1]}


def test_stops_below_the_median_of_running_averages_after_the_grace_period():
    s = make()
    out = feed(s, CURVES, 2)
    assert all(d.action == "CONTINUE" for d in out.values())  # within the grace period
    out = feed(s, {"bad": CURVES["bad"][:3]}, 3)  # only "bad" reaches 3 here
    # others' running averages up to t=3: good mean(.5,.6)=.55, ok mean(.4,.5)=.45 -> .5
    assert out["bad"].action == "STOP"
    assert out["bad"].reason == ("stopped at training_iteration=3: best acc 0.1 < median 0.5 "
                                 "of 2 other trials' running averages")
    # Sticky.
    assert s.on_trial_result(_snap("bad"), {"training_iteration": 4, "acc": 0.9}).action == "STOP"
    assert s.next_decision_point(_snap("bad")) is None


def test_best_result_so_far_is_compared_not_the_last():
    s = make()
    feed(s, {"good": [0.5] * 4, "ok": [0.5] * 4}, 4)
    out = feed(s, {"spiky": [0.9, 0.1, 0.1, 0.1]}, 4)
    assert out["spiky"].action == "CONTINUE"


def test_min_samples_required():
    s = make(min_samples_required=3)
    assert feed(s, CURVES, 4)["bad"].action == "CONTINUE"  # only 2 others
    s = make(min_samples_required=2)
    assert feed(s, CURVES, 4)["bad"].action == "STOP"


def test_errored_trials_do_not_count():
    s = make()
    feed(s, {"good": CURVES["good"]}, 4)
    s.on_trial_error(_snap("good"))
    feed(s, {"ok": CURVES["ok"]}, 4)
    assert feed(s, {"bad": CURVES["bad"]}, 4)["bad"].action == "CONTINUE"  # 1 sample < 2


def test_hard_stop_false_pauses_and_reevaluates():
    s = make(hard_stop=False)
    d = feed(s, CURVES, 3)["bad"]
    assert d.action == "PAUSE" and d.reason.startswith("paused at training_iteration=3")
    assert s.next_decision_point(_snap("bad")) == 4.0  # not sticky: judged again
    # Default ordering resumes PENDING trials before PAUSED ones.
    snaps = [TrialSnapshot.make("bad", {}, status="PAUSED"), TrialSnapshot.make("n", {})]
    assert s.choose_trial_to_run(snaps) == "n"


def test_mode_min():
    s = make(metric="loss", mode="min")
    out = {}
    for it in range(1, 4):
        for tid, curve in CURVES.items():
            out[tid] = s.on_trial_result(_snap(tid), {"training_iteration": it,
                                                     "loss": 1 - curve[it - 1]})
    assert out["bad"].action == "STOP" and "best loss 0.9 > median" in out["bad"].reason


def test_decision_points_are_grace_then_every_interval():
    s = MedianStoppingRule(time_attr="time_total_s", metric="acc", grace_period=60)
    assert s.next_decision_point(_snap("a")) == 60.0
    s.on_trial_add(_snap("a"))
    for t in (30.0, 59.0):
        s.on_trial_result(_snap("a"), {"time_total_s": t, "acc": 0})
    assert s.next_decision_point(_snap("a")) == 60.0
    s.on_trial_result(_snap("a"), {"time_total_s": 61.5, "acc": 0})
    assert s.next_decision_point(_snap("a")) == 120.0  # default eval_interval = grace_period
    s.on_trial_result(_snap("a"), {"time_total_s": 250.0, "acc": 0})
    assert s.next_decision_point(_snap("a")) == 300.0


def test_no_decision_off_a_decision_point():
    s = make(eval_interval=5)  # points 3, 8, 13...
    curves = {"a": [0.5] * 3 + [5.0] * 5, "b": [0.5] * 3 + [5.0] * 5, "x": [0.5] * 8}
    assert {d.action for d in feed(s, curves, 3).values()} == {"CONTINUE"}  # all tied at 3
    s = make(eval_interval=5)
    assert feed(s, curves, 7)["x"].action == "CONTINUE"  # worse from t=4, not a point
    s = make(eval_interval=5)
    assert feed(s, curves, 8)["x"].action == "STOP"  # acted upon at the next point, 8


@pytest.mark.parametrize("kwargs,match", [
    (dict(grace_period=-1), "grace_period=-1"),
    (dict(min_samples_required=0), "min_samples_required=0"),
    (dict(eval_interval=0), "eval_interval=0"),
    (dict(reward_attr="reward"), "Give either metric='acc' or reward_attr='reward'"),
])
def test_validation_names_the_value(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make(**kwargs)
