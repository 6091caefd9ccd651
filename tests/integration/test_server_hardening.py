"""Hostile requests to the real TuneServer of a real small experiment (Ray, Prefect,
MLflow), one probe each, with httpx: each is refused with a status and a message naming
the limit, nothing reaches the experiment, which then finishes normally."""

from __future__ import annotations

import os
import socket
import threading
import time

import httpx
import pytest

import tuneflows
from tuneflows.trial import RUNNING, TERMINATED

TOKEN = "probe-token"


def slow_counter(config, reporter):
    """Reports every 0.1 s until stopped (or after ``steps``)."""
    for i in range(1, config.get("steps", 10**6) + 1):
        time.sleep(0.1)
        reporter(score=i)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.fixture
def server(tune_env, monkeypatch):
    """A running experiment (one endless trial) with its TuneServer and a token; yields
    ``(http, outcome)`` and waits for the experiment to end."""
    monkeypatch.delenv("TUNEFLOWS_SERVER_TOKEN", raising=False)
    port = _free_port()
    outcome: dict = {}

    def run():
        try:
            outcome["trials"] = tuneflows.run_experiments(
                {"probed": {"run": slow_counter, "config": {"rate": 1}}},
                with_server=True, server_port=port, server_token=TOKEN, verbose=0,
                round_seconds=0.5)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            outcome["error"] = exc

    experiment = threading.Thread(target=run, daemon=True)
    experiment.start()
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30,
                        headers={"Authorization": f"Bearer {TOKEN}"})
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            trials = http.get("/api/trials")
            if trials.status_code == 200 and any(t["status"] == RUNNING and t["last_result"]
                                                 for t in trials.json()):
                break
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    else:
        raise AssertionError(f"the experiment did not start: {outcome}")
    yield http, outcome
    for trial in http.get("/api/trials").json():
        http.put(f"/api/trials/{trial['trial_id']}")
    experiment.join(60)
    assert not experiment.is_alive()
    assert "error" not in outcome, outcome.get("error")
    assert all(t.status == TERMINATED for t in outcome["trials"])


def _trial_count(http: httpx.Client) -> int:
    return len(http.get("/api/trials").json())


def test_a_600_deep_config_is_refused_naming_the_limit(server):
    http, _ = server
    response = http.post("/trials", json={"spec": {"config": _nested(600)}})
    assert response.status_code == 400
    assert response.json()["detail"] == "JSON body nested deeper than the limit of 32 levels."
    assert _trial_count(http) == 1
    assert http.get("/status").status_code == 200  # the experiment's state still writes


def test_a_5_mb_body_is_refused_naming_the_limit(server):
    http, _ = server
    response = http.post("/api/trials", json={"spec": {"config": {"blob": "x" * 5_000_000}}})
    assert response.status_code == 413
    assert response.json()["detail"] == "Request body over the limit of 1000000 bytes."
    assert _trial_count(http) == 1
    assert len(http.get("/trials").content) < 100_000


def test_a_foreign_host_header_is_refused(server):
    http, _ = server
    response = http.get("/trials", headers={"Host": "evil.example.com"})
    assert response.status_code == 400 and response.text == "Invalid host header"
    local = f"localhost:{http.base_url.port}"
    assert http.get("/trials", headers={"Host": local}).status_code == 200


def test_a_missing_or_wrong_token_is_refused(server):
    http, _ = server
    bare = httpx.post(f"{http.base_url}/api/trials", json={"spec": {"config": {"rate": 2}}})
    assert bare.status_code == 401 and "needs a bearer token" in bare.json()["detail"]
    wrong = httpx.get(f"{http.base_url}/trials", headers={"Authorization": "Bearer guess"})
    assert wrong.status_code == 401
    assert wrong.json()["detail"] == "Wrong bearer token for this TuneServer."
    assert _trial_count(http) == 1


def test_a_client_given_name_with_dots_and_slashes_stays_in_the_experiment(server):
    http, outcome = server
    response = http.post("/trials", json={"name": "../../../../tmp/x",
                                          "spec": {"config": {"rate": 2, "steps": 3}}})
    assert response.status_code == 201
    [added] = response.json()["trials"]
    assert added["name"] == "slow_counter_1_tmp_x"
    deadline = time.monotonic() + 60
    while http.get(f"/api/trials/{added['trial_id']}").json()["status"] != TERMINATED:
        assert time.monotonic() < deadline, "the added trial did not finish"
        time.sleep(0.2)
    logdir = http.get(f"/api/trials/{added['trial_id']}").json()["logdir"]
    root = os.path.realpath(tuneflows.latest_run_dir(os.environ["TUNE_RESULT_DIR"], "probed"))
    assert os.path.dirname(os.path.realpath(logdir)) == root
    assert os.path.exists(os.path.join(logdir, "result.json"))


def test_client_added_trials_are_capped_naming_the_cap(server):
    http, _ = server
    grid = {"config": {"rate": {"grid_search": list(range(101))}}}
    response = http.post("/trials", json={"spec": grid})
    assert response.status_code == 409
    assert ("would add 101 trial(s), over the cap of 100 client-added trials per experiment"
            in response.json()["detail"])
    assert _trial_count(http) == 1
