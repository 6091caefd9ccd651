"""The trial actor's round logic, run in-process (it is a plain class under Ray)."""

from __future__ import annotations

import threading
import time

import pytest

import tuneflows
from tuneflows.execution.function_runner import to_trainable_class
from tuneflows.execution.trial_actor import TrialActor
from tuneflows.model.rounds import RoundRequest
from tuneflows.trainable import TrialIdentity


def _actor_for(trainable, config=None):
    actor = TrialActor()
    error = actor.start_trial(to_trainable_class(trainable), config or {}, TrialIdentity("e", "t1", "t"))
    assert error is None
    return actor


executed: list[int] = []


def counting(config, reporter):
    for i in range(1, 100):
        executed.append(i)
        reporter(mean_accuracy=i, timesteps_this_iter=10)


def test_stop_is_exact_and_no_later_iteration_runs():
    executed.clear()
    actor = _actor_for(counting)
    outcome = actor.run_round(RoundRequest(stop={"mean_accuracy": 7}))
    assert outcome.finished and outcome.stop_key == "mean_accuracy"
    assert [r["training_iteration"] for r in outcome.results] == list(range(1, 8))
    assert outcome.results[-1]["done"] is True
    assert outcome.results[-1]["timesteps_total"] == 70
    assert actor.stop_trial() is True
    time.sleep(0.05)
    assert executed == list(range(1, 8))


def test_round_ends_at_decision_point_and_resumes():
    actor = _actor_for(counting)
    first = actor.run_round(RoundRequest(until={"training_iteration": 3}))
    second = actor.run_round(RoundRequest(until={"training_iteration": 5}))
    assert [r["training_iteration"] for r in first.results] == [1, 2, 3]
    assert [r["training_iteration"] for r in second.results] == [4, 5]
    assert not second.finished
    actor.stop_trial()


def test_results_are_completed_with_automatic_keys():
    actor = _actor_for(counting, {"lr": 0.1})
    result = actor.run_round(RoundRequest(until={"training_iteration": 1})).results[0]
    for key in ("training_iteration", "timesteps_total", "time_this_iter_s", "time_total_s",
                "done", "experiment_id", "trial_id", "date", "timestamp", "hostname",
                "node_ip", "pid", "config"):
        assert key in result, key
    assert result["config"] == {"lr": 0.1} and result["trial_id"] == "t1"
    actor.stop_trial()


def returns_after_three(config, reporter):
    for i in range(3):
        reporter(score=i)


def test_function_that_returns_finishes_the_trial():
    actor = _actor_for(returns_after_three)
    outcome = actor.run_round(RoundRequest())
    assert outcome.finished and outcome.stop_key is None and outcome.error is None
    assert len(outcome.results) == 3


def report_style(config):
    for i in range(2):
        tuneflows.report(loss=1.0 / (i + 1))


def test_report_api_for_single_argument_functions():
    outcome = _actor_for(report_style).run_round(RoundRequest())
    assert [r["loss"] for r in outcome.results] == [1.0, 0.5]


def raises_at_two(config, reporter):
    reporter(x=1)
    raise ValueError("boom at two")


def test_error_returns_traceback_and_keeps_earlier_results():
    outcome = _actor_for(raises_at_two).run_round(RoundRequest())
    assert len(outcome.results) == 1
    assert "ValueError: boom at two" in outcome.error and "raises_at_two" in outcome.error


def test_a_function_round_hands_control_back_once():
    """The function's thread completes and checks each result of a round itself."""
    trainable = to_trainable_class(counting)(config={})
    checked_in: list[str] = []

    def accept(result):
        checked_in.append(threading.current_thread().name)
        return result["training_iteration"] < 4

    trainable.train_round(accept)
    assert checked_in == ["tuneflows-trial"] * 4
    assert trainable.train()["training_iteration"] == 5  # one result per train() call
    trainable.stop()


def swallows_exceptions(config, reporter):
    for i in range(1, 100):
        try:
            reporter(score=i)
        except Exception:
            pass


def test_a_failing_result_check_ends_a_function_trial_its_except_cannot_swallow():
    actor = _actor_for(swallows_exceptions)
    outcome = actor.run_round(RoundRequest(stop={"score": "high"}))  # int >= str raises
    assert outcome.error is not None and "TypeError" in outcome.error
    assert actor.stop_trial() is True


def test_function_ignoring_stop_is_reported_unclean():
    release = threading.Event()

    def stubborn(config, reporter):
        try:
            reporter(x=1)
        except BaseException:
            release.wait(10)  # ignores the stop for a while

    actor = _actor_for(stubborn)
    actor.run_round(RoundRequest(until={"training_iteration": 1}))
    started = time.time()
    clean = actor.stop_trial()
    release.set()
    assert clean is False and time.time() - started < 7


class Counter(tuneflows.Trainable):
    def _setup(self, config):
        self.n = config.get("start", 0)

    def _train(self):
        self.n += 1
        return {"n": self.n}

    def _save(self, checkpoint_dir):
        return {"n": self.n}

    def _restore(self, state):
        self.n = state["n"]


def test_class_trainable_checkpoint_round_trip():
    actor = _actor_for(Counter, {"start": 10})
    outcome = actor.run_round(RoundRequest(until={"training_iteration": 4}, checkpoint_freq=2))
    assert [r["n"] for r in outcome.results] == [11, 12]
    assert outcome.checkpoint is not None and outcome.checkpoint_iteration == 2
    other = TrialActor()
    other.start_trial(Counter, {"start": 0}, TrialIdentity(), outcome.checkpoint)
    result = other.run_round(RoundRequest(until={"training_iteration": 3})).results[-1]
    assert result["n"] == 13 and result["training_iteration"] == 3


def test_setup_error_is_returned():
    class Broken(tuneflows.Trainable):
        def _setup(self):
            raise RuntimeError("no data")

    error = TrialActor().start_trial(Broken, {}, TrialIdentity())
    assert "RuntimeError: no data" in error


def test_wall_clock_slice_bounds_a_round():
    def slow(config, reporter):
        while True:
            time.sleep(0.05)
            reporter(x=1)

    actor = _actor_for(slow)
    outcome = actor.run_round(RoundRequest(max_seconds=0.2))
    assert 2 <= len(outcome.results) <= 8
    actor.stop_trial()


@pytest.mark.parametrize("bad", [None, 3])
def test_train_must_return_a_dict(bad):
    class Bad(tuneflows.Trainable):
        def _train(self):
            return bad

    if bad is None:
        assert Bad().train()["training_iteration"] == 1
    else:
        with pytest.raises(TypeError, match="must return a dict"):
            Bad().train()
