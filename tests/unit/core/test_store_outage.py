"""How a writer treats a store that is down (no MLflow here: an in-memory store)."""

from __future__ import annotations

from typing import Any

import pytest

from tuneflows.recording.mlflow.batcher import MlflowBatcher
from tuneflows.recording.mlflow.limits import DEADLINE_ENV, mlflow_deadline_s
from tuneflows.recording.retry import Outage


class DeadStore:
    """Every call fails; ``calls`` counts the attempts."""

    def __init__(self) -> None:
        self.calls = 0
        self.runs = {"t1", "t2"}

    def has_trial(self, trial_id: str) -> bool:
        return trial_id in self.runs

    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any) -> None:
            self.calls += 1
            raise ConnectionError(f"{name}: connection refused")
        return fail


def test_a_dead_store_costs_two_calls_retries_then_none():
    store, now = DeadStore(), [0.0]
    writer = MlflowBatcher(store, retries=2, backoff_s=0,
                           outage=Outage(skip_after=2, probe_s=5, clock=lambda: now[0]))
    for step in range(1, 50):
        writer.log_results("t1", [(step, 0, {"loss": 1.0})])
        writer.flush("t1")
        writer.set_tags("t2", {"k": "v"})
        writer.flush("t2")
    writer.end_experiment("FINISHED", {})
    assert store.calls == 3 + 1  # the first call and its 2 retries, one attempt, then skipped
    assert writer.lost_trials == {"t1", "t2"} and writer.parent_lost
    now[0] = 6.0  # after probe_s one call is tried again, without retries
    writer.end_trial("t1", "TERMINATED", {})
    assert store.calls == 5


@pytest.mark.parametrize("value", ["0", "-3", "soon", "inf"])
def test_a_bad_deadline_names_the_variable(monkeypatch, value):
    monkeypatch.setenv(DEADLINE_ENV, value)
    with pytest.raises(ValueError, match=DEADLINE_ENV):
        mlflow_deadline_s()


def test_the_deadline_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(DEADLINE_ENV, "2.5")
    assert mlflow_deadline_s() == 2.5
