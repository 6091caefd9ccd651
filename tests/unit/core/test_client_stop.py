"""A client's stop ends a running trial at its next result, in any round (the last one
too): the actor's stop flag, and what the controller makes of the round it ends."""

from __future__ import annotations

import threading
import time

from tuneflows.control.actions import RELEASE, EndTrial, StartTrial
from tuneflows.control.controller import TrialController
from tuneflows.execution.function_runner import to_trainable_class
from tuneflows.execution.trial_actor import TrialActor
from tuneflows.model.rounds import RoundOutcome, RoundRequest
from tuneflows.schedulers import FIFOScheduler
from tuneflows.search import BasicVariantGenerator
from tuneflows.result import EARLY_STOPPED
from tuneflows.spec import Experiment
from tuneflows.trainable import TrialIdentity
from tuneflows.trial import TERMINATED


def slow(config, reporter):
    for i in range(1, 1000):
        time.sleep(0.01)
        reporter(mean_accuracy=i)


def _actor(trial_id: str = "t1") -> TrialActor:
    actor = TrialActor()
    identity = TrialIdentity("e", trial_id, "t")
    assert actor.start_trial(to_trainable_class(slow), {}, identity) is None
    return actor


def test_a_stop_request_ends_the_round_in_play_at_the_next_result():
    actor = _actor()
    actor.run_round(RoundRequest(until={"training_iteration": 1}))  # the first result imports ray
    request = RoundRequest(stop={"training_iteration": 100}, max_seconds=60)
    timer = threading.Timer(0.2, actor.request_stop, args=("t1",))
    timer.start()
    outcome = actor.run_round(request)
    timer.join()
    assert outcome.finished and outcome.stopped_by_client and outcome.stop_key is None
    assert 5 <= len(outcome.results) < 100
    assert actor.stop_trial() is True


def test_a_stop_for_another_trial_is_ignored():
    actor = _actor("t2")
    actor.request_stop("t1")  # the trial this actor hosted before
    outcome = actor.run_round(RoundRequest(until={"training_iteration": 3}))
    assert not outcome.finished and len(outcome.results) == 3
    actor.stop_trial()


def _controller() -> tuple[TrialController, object]:
    exp = Experiment("exp", run=slow, local_dir="/results", stop={"training_iteration": 100})
    ctl = TrialController(exp, "abcdef1234", FIFOScheduler(), BasicVariantGenerator({}), 1)
    trial = next(a.trial for a in ctl.fill_slots() if isinstance(a, StartTrial))
    return ctl, trial


def _play(ctl: TrialController, trial, outcome: RoundOutcome) -> list:
    return ctl.on_round(trial.trial_id, outcome, ctl.new_results(trial.trial_id, outcome))


def _results(*iterations: int) -> list[dict]:
    return [{"training_iteration": i, "mean_accuracy": i} for i in iterations]


def test_a_round_the_actor_ended_for_the_client_records_a_client_stop():
    ctl, trial = _controller()
    assert ctl.request_stop(trial.trial_id) == []
    outcome = RoundOutcome(results=_results(60, 61), finished=True, stopped_by_client=True)
    end = _play(ctl, trial, outcome)[-1]
    assert isinstance(end, EndTrial) and end.reason == "stopped by client"
    assert end.actor == RELEASE and end.early_stopped
    assert trial.status == TERMINATED and trial.last_result[EARLY_STOPPED] is True


def test_the_last_round_ending_at_the_criterion_after_a_stop_request_is_a_client_stop():
    ctl, trial = _controller()
    ctl.request_stop(trial.trial_id)
    outcome = RoundOutcome(results=_results(99, 100), finished=True, stop_key="training_iteration")
    end = _play(ctl, trial, outcome)[-1]
    assert end.reason == "stopped by client" and trial.status_reason == "stopped by client"


def test_a_round_begun_after_the_request_plays_one_result():
    ctl, trial = _controller()
    assert ctl.round_request(trial.trial_id).max_seconds == 5.0
    ctl.request_stop(trial.trial_id)
    assert ctl.round_request(trial.trial_id).max_seconds == 0.0
