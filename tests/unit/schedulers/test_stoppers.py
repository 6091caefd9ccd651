"""Stoppers and the experiment-wide stops around a scheduler (stopper, time budget,
fail_fast), driven without Ray or Prefect; and a scheduler made without a metric taking
the experiment's."""

from __future__ import annotations

import datetime
import json

import pytest

from tuneflows.schedulers import ASHAScheduler, FIFOScheduler, PopulationBasedTraining
from tuneflows.schedulers.experiment_stops import ExperimentStops
from tuneflows.schedulers.stopping import (
    CombinedStopper, ExperimentPlateauStopper, FunctionStopper, MaximumIterationStopper,
    Stopper, TimeoutStopper, TrialPlateauStopper,
)
from tuneflows.trial import PAUSED, PENDING, TrialSnapshot


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def _result(i, **metrics):
    return {"training_iteration": i, **metrics}


def test_trial_plateau_stopper_waits_for_grace_and_threshold():
    stopper = TrialPlateauStopper("acc", std=0.01, num_results=2, grace_period=3,
                                  metric_threshold=0.8, mode="max")
    seen = [stopper("t", {"acc": a}) for a in (0.5, 0.5, 0.5, 0.5, 0.9, 0.9)]
    assert seen == [False, False, False, False, False, True]  # flat at 0.5: under 0.8
    assert not stopper("other", {"acc": 0.9}) and not stopper.stop_all()
    with pytest.raises(ValueError, match="needs mode"):
        TrialPlateauStopper("acc", metric_threshold=0.5)


def test_experiment_plateau_stopper_stops_all_after_patience():
    stopper = ExperimentPlateauStopper("loss", std=0.001, top=2, mode="min", patience=2)
    assert [stopper(f"t{i}", {"loss": v}) for i, v in enumerate((0.5, 0.2, 0.2, 0.2))] == [
        False, False, False, True]
    assert stopper.stop_all()
    with pytest.raises(ValueError, match="top must be"):
        ExperimentPlateauStopper("loss", top=1)


def test_timeout_combined_and_function_stoppers():
    clock = Clock()
    timeout = TimeoutStopper(datetime.timedelta(seconds=5), clock=clock)
    combined = CombinedStopper(MaximumIterationStopper(3), timeout)
    assert not combined("t", _result(2)) and not combined.stop_all()
    clock.now += 5
    assert combined.stop_all() and combined("t", _result(3))
    assert FunctionStopper(lambda trial_id, r: r["x"] > 1)("t", {"x": 2})
    with pytest.raises(ValueError, match="positive number of seconds"):
        TimeoutStopper(0)
    with pytest.raises(NotImplementedError):
        Stopper()("t", {})


def test_a_stopper_stops_a_trial_at_the_result_it_names_in_one_result_rounds():
    stops = ExperimentStops(FIFOScheduler(), lambda trial_id, r: r["loss"] < 0.1)
    trial = TrialSnapshot.make("t0", {}, last_result=_result(4, loss=0.5))
    assert stops.next_decision_point(trial) == 5.0 and stops.time_attr == "training_iteration"
    assert stops.on_trial_result(trial, _result(5, loss=0.5)).action == "CONTINUE"
    decision = stops.on_trial_result(trial, _result(6, loss=0.05))
    assert decision.action == "STOP" and decision.reason == "stopped by FunctionStopper"
    assert stops.on_trial_result(trial, _result(7, loss=0.5)).action == "STOP"  # it stays
    other = TrialSnapshot.make("t1", {})
    assert stops.on_trial_result(other, _result(1, loss=0.5)).action == "CONTINUE"
    assert stops.choose_trial_to_run([TrialSnapshot.make("t2", {})]) == "t2"


def test_a_time_budget_ends_the_experiment_and_keeps_the_schedulers_rounds():
    clock = Clock()
    asha = ASHAScheduler(metric="acc", mode="max", max_t=16)
    stops = ExperimentStops(asha, time_budget=TimeoutStopper(10, clock=clock))
    trial = TrialSnapshot.make("t0", {}, last_result=_result(1, acc=1))
    assert stops.next_decision_point(trial) == asha.next_decision_point(trial)  # not per result
    assert stops.on_trial_result(trial, _result(2, acc=1)).action == "CONTINUE"
    clock.now += 10
    decision = stops.on_trial_result(trial, _result(3, acc=1))
    assert decision.action == "STOP" and decision.reason == "time budget of 10 s spent"
    pending = TrialSnapshot.make("t1", {}, status=PENDING)
    paused = TrialSnapshot.make("t2", {}, status=PAUSED)
    assert stops.choose_trial_to_run([pending, paused]) is None
    assert set(stops.paused_trials_to_stop([pending, paused])) == {"t2"}


def test_fail_fast_ends_the_experiment_when_a_trial_errors():
    stops = ExperimentStops(FIFOScheduler(), fail_fast=True)
    stops.on_trial_error(TrialSnapshot.make("t0", {}))
    assert stops.ended == "fail_fast: trial t0 errored"
    assert stops.choose_trial_to_run([TrialSnapshot.make("t1", {})]) is None
    running = TrialSnapshot.make("t2", {})
    assert stops.on_trial_result(running, _result(1)).action == "STOP"


def test_state_round_trips_as_json():
    stops = ExperimentStops(PopulationBasedTraining(
        metric="acc", mode="max", time_attr="training_iteration", perturbation_interval=2,
        hyperparam_mutations={"lr": [0.1, 0.2]}), MaximumIterationStopper(2))
    stops.on_trial_add(TrialSnapshot.make("t0", {"lr": 0.1}))
    stops.on_trial_result(TrialSnapshot.make("t0", {"lr": 0.1}), _result(2, acc=1))
    state = json.loads(json.dumps(stops.get_state()))
    again = ExperimentStops(PopulationBasedTraining(
        metric="acc", mode="max", time_attr="training_iteration", perturbation_interval=2,
        hyperparam_mutations={"lr": [0.1, 0.2]}), MaximumIterationStopper(2))
    again.set_state(state)
    assert again.get_state() == state and again.on_trial_result(
        TrialSnapshot.make("t0", {}), _result(3, acc=1)).action == "STOP"


def test_a_scheduler_made_without_a_metric_takes_the_experiments():
    asha = ASHAScheduler(max_t=9)
    assert (asha.metric, asha.mode) == ("episode_reward_mean", "max")  # the seed's default
    assert asha.set_search_properties("loss", "min") and (asha.metric, asha.mode) == ("loss", "min")
    given = ASHAScheduler(metric="acc", mode="max", max_t=9)
    assert given.set_search_properties("acc", "max")
    assert not given.set_search_properties("loss", "min")
    assert FIFOScheduler().set_search_properties("loss", "min")  # ranks by none
