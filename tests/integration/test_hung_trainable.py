"""``max_seconds_without_result`` on real Ray + Prefect + MLflow: a trainable that hangs
forever in its second round is stopped, its actor killed and replaced, the trial retried
under ``max_failures`` and then marked ERROR, while the experiment's other trial runs to
its end."""

from __future__ import annotations

import os
import time

import tuneflows
from tuneflows.trial import ERROR, TERMINATED


class HangsInItsSecondRound(tuneflows.Trainable):
    """One result a round (each _train outlasts round_seconds); with ``hang`` set, the
    second _train never returns. Each start appends its process id to ``pid_file``."""

    def _setup(self):
        with open(self.config["pid_file"], "a") as f:
            print(os.getpid(), file=f)

    def _train(self):
        time.sleep(0.6)
        if self.config["hang"] and self.iteration >= 1:
            time.sleep(10**6)
        return {"mean_accuracy": self.iteration + 1}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_hung_trainable_is_killed_retried_then_errored_and_the_experiment_goes_on(
        tune_env, tmp_path):
    pid_files = {hang: str(tmp_path / f"pids_{hang}") for hang in (True, False)}
    trials = tuneflows.run_experiments({"hung": {
        "run": HangsInItsSecondRound,
        "stop": {"training_iteration": 4},
        "max_failures": 1,
        "max_seconds_without_result": 3,
        "config": {"hang": tuneflows.grid_search([True, False]),
                   "pid_file": tuneflows.sample_from(lambda spec: pid_files[spec.config.hang])},
    }}, verbose=0, round_seconds=0.5, raise_on_failed_trial=False)

    hung, steady = sorted(trials, key=lambda t: not t.config["hang"])
    assert steady.status == TERMINATED and steady.last_result["training_iteration"] == 4
    assert steady.num_failures == 0
    assert hung.status == ERROR and hung.num_failures == 2  # the first try and its retry
    assert "no result for 3 s" in hung.error_msg
    with open(hung.error_file) as f:
        error_text = f.read()
    assert "Failure 1 of" in error_text and "Failure 2 of" in error_text
    assert hung.last_result["training_iteration"] == 1  # its one result, recorded once
    with open(os.path.join(hung.logdir, "result.json")) as f:
        assert len(f.readlines()) == 1

    # each try ran on its own actor, and both hung actors were killed
    with open(pid_files[True]) as f:
        pids = [int(line) for line in f]
    assert len(pids) == 2 and len(set(pids)) == 2
    deadline = time.monotonic() + 15
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(p) for p in pids)
