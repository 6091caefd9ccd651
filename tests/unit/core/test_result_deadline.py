"""``max_seconds_without_result``: the spec key's validation, the pure rule that says when
a trial is hung, and the actor's clock the driver asks (in-process, no Ray)."""

from __future__ import annotations

import math
import threading
import time

import pytest

from tuneflows.execution.function_runner import to_trainable_class
from tuneflows.execution.result_deadline import MIN_WAIT_S, hung_message, next_wait
from tuneflows.execution.trial_actor import TrialActor
from tuneflows.model.rounds import RoundRequest
from tuneflows.spec import Experiment
from tuneflows.trainable import TrialIdentity


def noop(config, reporter):
    reporter(x=1)


@pytest.mark.parametrize("value", [0, -1, math.nan, math.inf, True, "10", [5]])
def test_the_key_must_be_a_positive_finite_number(value):
    with pytest.raises(ValueError, match=r"'max_seconds_without_result' must be a positive, "
                                         r"finite number of seconds, got"):
        Experiment.from_spec("e", {"run": noop, "max_seconds_without_result": value})


def test_the_key_is_accepted_and_defaults_to_no_limit():
    assert Experiment("e", noop).max_seconds_without_result is None
    assert Experiment.from_spec("e", {"run": noop, "max_seconds_without_result": 2.5}
                                ).max_seconds_without_result == 2.5


def test_next_wait_waits_out_the_rest_of_the_limit_then_says_hung():
    assert next_wait(10.0, 0.0) == 10.0
    assert next_wait(10.0, 7.5) == 2.5
    assert next_wait(10.0, 9.99) == MIN_WAIT_S  # never a busy loop of questions
    assert next_wait(10.0, 10.0) is None
    assert next_wait(10.0, 30.0) is None
    assert next_wait(10.0, None) is None  # the actor itself does not answer


def test_the_message_names_the_limit():
    assert "no result for 3 s" in hung_message(3.0)
    assert "no result for 0.5 s" in hung_message(0.5)


def test_the_actor_tells_how_long_its_trainable_has_been_silent():
    release = threading.Event()

    def hangs_in_its_second_iteration(config, reporter):
        reporter(step=1)
        release.wait(30)
        reporter(step=2)

    actor = TrialActor()
    assert actor.start_trial(to_trainable_class(hangs_in_its_second_iteration), {},
                             TrialIdentity("e", "t1", "t")) is None
    outcomes: list = []
    playing = threading.Thread(target=lambda: outcomes.append(
        actor.run_round(RoundRequest(max_seconds=60))))
    began = time.monotonic()
    playing.start()
    time.sleep(1.5)  # the first result is in (its first completion looks up the host)
    silent = actor.seconds_since_result()
    assert 0 < silent <= time.monotonic() - began
    time.sleep(0.3)
    assert actor.seconds_since_result() >= silent + 0.25  # silent since
    release.set()
    playing.join(10)
    assert [r["step"] for r in outcomes[0].results] == [1, 2]
    assert actor.seconds_since_result() < 1
    actor.stop_trial()
