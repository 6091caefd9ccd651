"""The Client API's FastAPI app and TuneClient against a stub runner (no Ray, no
Prefect): the app is the unit under test; tests/integration/test_web_server.py covers
the real runner. These are tuneflows' shapes (``/api``, ``shapes="tuneflows"``); the
seed's are in test_seed_client_api.py."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tuneflows.error import TuneError
from tuneflows.rest.app import create_app
from tuneflows.rest.config_checks import check_resolved_config
from tuneflows.trial import PENDING, RUNNING, TERMINATED, Trial
from tuneflows.web_server import TuneClient, TuneClientError, TuneServer


class StubRunner:
    """The runner's client API, run inline; records which thread called call_soon."""

    def __init__(self, running: bool = True) -> None:
        self.experiment = SimpleNamespace(name="exp")
        self.running = running
        self.trials: dict[str, Trial] = {}
        self.calls = 0
        for i, status in enumerate((RUNNING, RUNNING)):
            self._make(f"t_{i}", {"lr": 0.1 * (i + 1)}, str(i), status,
                       {"training_iteration": 3, "loss": np.float64(0.5), "bad": float("nan")})

    def _make(self, trial_id, config, tag, status=PENDING, last=None) -> Trial:
        trial = Trial(trial_id=trial_id, experiment_tag=tag, config=config,
                      trainable_name="f", logdir=f"/tmp/{trial_id}", status=status,
                      last_result=last)
        self.trials[trial_id] = trial
        return trial

    def call_soon(self, fn, *args, timeout: float = 30.0) -> Any:
        self.calls += 1
        if not self.running:
            raise TuneError("The experiment is not running.")
        return fn(*args)

    def request_stop(self, trial_id: str) -> None:
        trial = self.trials[trial_id]
        trial.status, trial.status_reason = TERMINATED, "stopped by client"

    def add_trial(self, config: dict, tag: str = "", settings=None) -> Trial:
        index = len(self.trials)
        trial = self._make(f"t_{index}", dict(config), f"{index}_{tag or 'client'}")
        for name, value in (settings or {}).items():
            setattr(trial, name, value)
        return trial

    def status_text(self) -> str:
        return "== Status ==\nexp: 2 RUNNING"


@pytest.fixture
def runner():
    return StubRunner()


@pytest.fixture
def http(runner):
    return TestClient(create_app(lambda: runner))


def test_get_all_trials_lists_each_with_config_status_and_last_result(http, runner):
    response = http.get("/api/trials")
    assert response.status_code == 200
    trials = response.json()
    assert [t["trial_id"] for t in trials] == ["t_0", "t_1"]
    first = trials[0]
    assert first["name"] == "f_0" and first["experiment"] == "exp"
    assert first["config"] == {"lr": 0.1} and first["status"] == RUNNING
    assert first["last_result"]["loss"] == 0.5  # numpy scalar made plain
    assert first["last_result"]["bad"] is None  # NaN is not JSON
    assert runner.calls == 1  # read on the runner's loop


def test_get_trial_and_unknown_id(http):
    assert http.get("/api/trials/t_1").json()["last_result"]["training_iteration"] == 3
    response = http.get("/api/trials/nope")
    assert response.status_code == 404
    assert response.json() == {"detail": "No trial 'nope' in experiment 'exp'."}


def test_add_trial_returns_new_pending_trial(http, runner):
    response = http.post("/api/trials", json={"name": "exp", "spec": {"config": {"lr": 0.7}}})
    assert response.status_code == 201
    body = response.json()
    assert body["trial_id"] == "t_2" and body["status"] == PENDING
    assert runner.trials["t_2"].config == {"lr": 0.7}
    assert runner.trials["t_2"].experiment_tag == "2_client"
    # another name than the experiment's becomes the tag; name is optional
    assert http.post("/api/trials", json={"name": "probe", "spec": {"config": {}}}).json()["name"] == "f_3_probe"
    assert http.post("/api/trials", json={"spec": {"config": {"lr": 1}}}).status_code == 201


@pytest.mark.parametrize("spec, message", [
    ({"config": {"opt": {"lr": {"grid_search": [1, 2]}}}}, "config key 'opt/lr' is a grid_search"),
    ({"config": {"lr": 0.1}, "stop": {"x": 1}}, "Unknown trial spec key(s) ['stop']; valid keys: config"),
    ({"config": [1, 2]}, "spec['config'] must be a JSON object, got list"),
])
def test_add_trial_rejects_bad_specs(http, runner, spec, message):
    response = http.post("/api/trials", json={"name": "exp", "spec": spec})
    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert len(runner.trials) == 2


def test_malformed_body_is_a_400_with_a_message(http):
    response = http.post("/api/trials", json={"spec": "not a dict"})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Invalid request: body/spec")


def test_stop_trial(http, runner):
    response = http.put("/api/trials/t_0")
    assert response.status_code == 200
    assert response.json()["status_reason"] == "stopped by client"
    assert runner.trials["t_0"].status == TERMINATED
    assert http.put("/api/trials/zzz").status_code == 404


def test_status(http):
    assert http.get("/status").json() == {"experiment": "exp", "status": "== Status ==\nexp: 2 RUNNING"}


def test_no_experiment_or_finished_experiment_is_503():
    assert TestClient(create_app(lambda: None)).get("/api/trials").status_code == 503
    response = TestClient(create_app(lambda: StubRunner(running=False))).get("/status")
    assert response.status_code == 503
    assert "Experiment 'exp' is not running" in response.json()["detail"]


def test_check_resolved_config_names_domains():
    import tuneflows

    check_resolved_config({"a": [1, {"b": "x"}], "c": None})
    with pytest.raises(ValueError, match="config key 'net/0/lr' is a search domain"):
        check_resolved_config({"net": [{"lr": tuneflows.uniform(0, 1)}]})
    with pytest.raises(ValueError, match="config key 'f' is a search domain"):
        check_resolved_config({"f": lambda spec: 1})


def test_server_and_client_over_http(runner):
    """uvicorn in its thread, TuneClient over real HTTP, clean shutdown."""
    with TuneServer(port=0) as server:
        with TuneClient(f"localhost:{server.port}", shapes="tuneflows") as client:
            with pytest.raises(TuneClientError, match="No experiment is running") as info:
                client.get_all_trials()
            assert info.value.status_code == 503
            server.attach(runner)
            assert [t["status"] for t in client.get_all_trials()] == [RUNNING, RUNNING]
            assert client.get_trial("t_0")["last_result"]["training_iteration"] == 3
            added = client.add_trial("exp", {"config": {"lr": 0.9}})
            assert runner.trials[added["trial_id"]].config == {"lr": 0.9}
            assert client.stop_trial("t_1")["status_reason"] == "stopped by client"
            assert "== Status ==" in client.get_status()
            with pytest.raises(TuneClientError, match=r"\(404\): No trial 'x9' in experiment 'exp'"):
                client.get_trial("x9")
            with pytest.raises(TuneClientError, match="Unknown trial spec key"):
                client.add_trial("exp", {"config": {}, "run": "f"})
            with pytest.raises(ValueError, match="config key 'lr' is a search domain"):
                import tuneflows
                client.add_trial("exp", {"config": {"lr": tuneflows.uniform(0, 1)}})
    assert not server._thread.is_alive()
    # the port is free again, and requests now fail clearly
    with pytest.raises(TuneClientError, match="Cannot reach the TuneServer"):
        TuneClient(f"localhost:{server.port}", timeout=2, shapes="tuneflows").get_all_trials()


def test_busy_port_fails_at_once():
    with TuneServer(port=0) as server:
        with pytest.raises(OSError, match=f"TuneServer cannot bind 127.0.0.1:{server.port}"):
            TuneServer(port=server.port)
