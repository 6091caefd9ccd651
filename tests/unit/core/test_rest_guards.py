"""The Client API's guards (Host header, bearer token, body size and JSON depth) and
its limits on client-added trials, on the FastAPI app with a stub loop (no Ray, no
Prefect); tests/integration/test_server_hardening.py probes the real server."""

from __future__ import annotations

import doctest
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

import tuneflows.rest.client_trials
import tuneflows.rest.app
import tuneflows.rest.guards
from tuneflows.rest.app import create_app
from tuneflows.rest.guards import RequestGuards, allowed_hosts, json_depth, resolve_server_token
from tuneflows.spec import Experiment
from tuneflows.trial import Trial
from tuneflows.web_server import TuneClient, TuneClientError, TuneServer


def train_func(config, reporter):
    reporter(mean_accuracy=1)


class StubLoop:
    """The loop's Client API, run inline."""

    def __init__(self) -> None:
        self.experiment = Experiment("exp", run=train_func, local_dir="/tmp/r")
        self.trials: dict[str, Trial] = {}

    def call_soon(self, fn, *args, timeout: float = 30.0) -> Any:
        return fn(*args)

    def add_trial(self, config: dict, tag: str = "", settings=None) -> Trial:
        index = len(self.trials)
        trial = Trial(f"t_{index}", f"{index}_{tag or 'client'}", dict(config), "train_func",
                      f"/tmp/t_{index}")
        self.trials[trial.trial_id] = trial
        return trial

    def status_text(self) -> str:
        return "== Status =="


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize("module", [tuneflows.rest.guards, tuneflows.rest.client_trials,
                                    tuneflows.rest.app])
def test_doctests(module):
    assert doctest.testmod(module).failed == 0


def test_json_depth_counts_brackets_outside_strings_without_recursion():
    assert json_depth(b"1") == 0
    assert json_depth(json.dumps({"a": [[1], "]]]}}{{"]}).encode()) == 3
    assert json_depth(b'["a\\"[[[", [2]]') == 2
    assert json_depth(b"[" * 100_000) == 100_000  # far past the recursion limit
    assert json_depth(b"[" * 100_000, stop_after=40) == 41


def test_body_over_the_limit_is_a_413_naming_it():
    http = TestClient(create_app(StubLoop, RequestGuards(max_body_bytes=1000)))
    response = http.post("/api/trials", content=b'{"spec": {"config": {"x": "' + b"a" * 2000
                         + b'"}}}', headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json() == {"detail": "Request body over the limit of 1000 bytes."}


def test_json_nested_deeper_than_the_limit_is_a_400_naming_it():
    loop = StubLoop()
    http = TestClient(create_app(lambda: loop))
    response = http.post("/api/trials", json={"spec": {"config": nested(600)}})
    assert response.status_code == 400
    assert response.json()["detail"] == "JSON body nested deeper than the limit of 32 levels."
    assert loop.trials == {}
    assert http.post("/api/trials", json={"spec": {"config": nested(20)}}).status_code == 201


def test_only_allowed_hosts_are_served():
    http = TestClient(create_app(StubLoop, RequestGuards(hosts=allowed_hosts("127.0.0.1"))),
                      base_url="http://localhost")
    assert http.get("/api/trials").status_code == 200
    assert http.get("/api/trials", headers={"host": "127.0.0.1:4321"}).status_code == 200
    refused = http.get("/api/trials", headers={"host": "evil.example.com"})
    assert refused.status_code == 400 and refused.text == "Invalid host header"


def test_allowed_hosts_add_the_bound_address_configured_and_environment_hosts(monkeypatch):
    monkeypatch.setenv("TUNEFLOWS_SERVER_HOSTS", "a.example.com, b.example.com")
    assert allowed_hosts("10.1.2.3", ["Tune.Example.com"]) == [
        "localhost", "127.0.0.1", "[::1]", "10.1.2.3", "tune.example.com", "a.example.com",
        "b.example.com"]
    assert "[::1]" in allowed_hosts("::1")


def test_a_token_is_required_beyond_loopback_and_taken_from_the_environment(monkeypatch):
    monkeypatch.delenv("TUNEFLOWS_SERVER_TOKEN", raising=False)
    assert resolve_server_token("localhost", None) is None
    assert resolve_server_token("::1", None) is None
    with pytest.raises(ValueError, match="listen on 10.0.0.5, beyond this machine, without a"):
        resolve_server_token("10.0.0.5", None)
    with pytest.raises(ValueError, match="without a token"):
        TuneServer(port=0, host="0.0.0.0")
    monkeypatch.setenv("TUNEFLOWS_SERVER_TOKEN", "s3cret")
    assert resolve_server_token("0.0.0.0", None) == "s3cret"
    assert resolve_server_token("0.0.0.0", "given") == "given"


def test_a_bearer_token_is_checked():
    http = TestClient(create_app(StubLoop, RequestGuards(token="s3cret")))
    missing = http.get("/api/trials")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert "needs a bearer token" in missing.json()["detail"]
    wrong = http.get("/api/trials", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.json()["detail"] == "Wrong bearer token for this TuneServer."
    assert http.get("/api/trials", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_the_client_sends_the_token_over_http(monkeypatch):
    monkeypatch.delenv("TUNEFLOWS_SERVER_TOKEN", raising=False)
    with TuneServer(port=0, token="s3cret") as server:
        server.attach(StubLoop())
        with pytest.raises(TuneClientError, match=r"\(401\)") as info:
            TuneClient(f"localhost:{server.port}").get_all_trials()
        assert info.value.status_code == 401
        assert TuneClient(f"localhost:{server.port}", token="s3cret").get_all_trials() == {
            "trials": []}
        monkeypatch.setenv("TUNEFLOWS_SERVER_TOKEN", "s3cret")
        assert TuneClient(f"127.0.0.1:{server.port}").get_all_trials() == {"trials": []}


def test_client_given_names_become_safe_tags():
    loop = StubLoop()
    http = TestClient(create_app(lambda: loop))
    added = http.post("/trials", json={"name": "../../../../tmp/x", "spec": {"config": {"a": 1}}})
    assert added.status_code == 201
    assert added.json()["trials"][0]["name"] == "train_func_0_tmp_x"
    api = http.post("/api/trials", json={"name": "a/b\n\x00c", "spec": {"config": {"a": 1}}})
    assert api.json()["name"] == "train_func_1_a_b_c"


def test_client_added_trials_are_capped_per_experiment():
    loop = StubLoop()
    http = TestClient(create_app(lambda: loop, max_client_trials=3))
    grid = {"config": {"a": {"grid_search": list(range(1000))}}, "repeat": 10**6}  # 10^9
    over = http.post("/trials", json={"spec": grid})
    assert over.status_code == 409
    assert "over the cap of 3 client-added trials per experiment (0 added so far)" in (
        over.json()["detail"])
    for i in range(3):
        assert http.post("/api/trials", json={"spec": {"config": {"a": i}}}).status_code == 201
    refused = http.post("/api/trials", json={"spec": {"config": {"a": 9}}})
    assert refused.status_code == 409 and "cap of 3" in refused.json()["detail"]
    assert len(loop.trials) == 3
    other = StubLoop()  # the next experiment has its own budget
    assert TestClient(create_app(lambda: other, max_client_trials=3)).post(
        "/api/trials", json={"spec": {"config": {}}}).status_code == 201


@pytest.mark.parametrize("config, message", [
    ({"lr": float("nan")}, "config key 'lr' is nan"),
    ({"lr": {"grid_search": 1}}, "grid_search"),
    ([1, 2], "must be a JSON object"),
])
def test_client_configs_are_checked_by_the_spec_validator(config, message):
    loop = StubLoop()
    http = TestClient(create_app(lambda: loop))
    body = json.dumps({"spec": {"config": config}}).encode()  # NaN as Python writes it
    response = http.post("/api/trials", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400 and message in response.json()["detail"]
    seed = http.post("/trials", content=body, headers={"content-type": "application/json"})
    assert seed.status_code == 400
    assert loop.trials == {}


def test_a_request_failing_on_the_loop_is_a_500_for_that_request_only():
    loop = StubLoop()
    loop.add_trial = lambda *a, **k: (_ for _ in ()).throw(RecursionError("deep"))  # type: ignore
    http = TestClient(create_app(lambda: loop))
    response = http.post("/api/trials", json={"spec": {"config": {}}})
    assert response.status_code == 500
    assert response.json()["detail"] == "The request failed: RecursionError: deep"
