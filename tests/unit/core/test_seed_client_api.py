"""The seed's Client API shapes against a stub experiment loop (no Ray, no Prefect):
``{"trials": [...]}`` with each trial's ``"id"``, ``{"trial_info": ...}``, and
``add_trial(name, spec)`` with a whole spec expanded by the variant generator."""

from __future__ import annotations

import doctest
from typing import Any

import pytest
from fastapi.testclient import TestClient

import tuneflows.rest.client_trials
import tuneflows.rest.seed_routes
from tuneflows.rest.app import create_app
from tuneflows.spec import Experiment
from tuneflows.trial import PENDING, RUNNING, TERMINATED, Trial
from tuneflows.web_server import TuneClient, TuneClientError, TuneServer


def train_func(config, reporter):
    reporter(mean_accuracy=1)


class StubLoop:
    """The loop's Client API, run inline, over a real Experiment."""

    def __init__(self) -> None:
        self.experiment = Experiment("my_experiment", run=train_func, local_dir="/tmp/r",
                                     stop={"training_iteration": 10})
        self.trials: dict[str, Trial] = {}
        for i in range(2):
            self.add_trial({"lr": 0.1 * (i + 1)}, f"lr={0.1 * (i + 1):g}")
            self.trials[f"t_{i}"].status = RUNNING
            self.trials[f"t_{i}"].last_result = {"training_iteration": 3, "timesteps_total": 30}

    def call_soon(self, fn, *args, timeout: float = 30.0) -> Any:
        return fn(*args)

    def request_stop(self, trial_id: str) -> None:
        self.trials[trial_id].status = TERMINATED
        self.trials[trial_id].status_reason = "stopped by client"

    def add_trial(self, config: dict, tag: str = "", settings=None) -> Trial:
        index = len(self.trials)
        trial = Trial(f"t_{index}", f"{index}_{tag or 'client'}", dict(config), "train_func",
                      f"/tmp/t_{index}", stopping_criterion=dict(self.experiment.stop))
        for name, value in (settings or {}).items():
            setattr(trial, name, value)
        self.trials[trial.trial_id] = trial
        return trial

    def status_text(self) -> str:
        return "== Status =="


@pytest.fixture
def loop():
    return StubLoop()


@pytest.fixture
def http(loop):
    return TestClient(create_app(lambda: loop))


@pytest.mark.parametrize("module", [tuneflows.rest.client_trials, tuneflows.rest.seed_routes])
def test_doctests(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


def test_trials_and_trial_info_have_the_seeds_keys(http):
    trials = http.get("/trials").json()["trials"]
    assert [t["id"] for t in trials] == ["t_0", "t_1"]
    first = trials[0]
    assert first["trainable_name"] == "train_func" and first["status"] == RUNNING
    assert first["config"] == {"lr": 0.1} and first["result"]["timesteps_total"] == 30
    assert first["trial_id"] == "t_0" and first["last_result"] == first["result"]
    info = http.get("/trials/t_1").json()["trial_info"]
    assert info["id"] == "t_1" and info["result"]["training_iteration"] == 3
    assert http.get("/trials/nope").status_code == 404


def test_add_trial_expands_a_whole_spec(http, loop):
    spec = {"run": "train_func", "stop": {"training_iteration": 4}, "repeat": 2,
            "config": {"lr": {"grid_search": [0.5, 0.7]}, "momentum": 0.9}}
    response = http.post("/trials", json={"name": "my_experiment", "spec": spec})
    assert response.status_code == 201
    added = response.json()["trials"]
    assert [t["config"] for t in added] == [{"lr": 0.5, "momentum": 0.9},
                                            {"lr": 0.7, "momentum": 0.9}] * 2
    assert all(t["status"] == PENDING and t["id"] in loop.trials for t in added)
    assert [loop.trials[t["id"]].experiment_tag for t in added][:2] == ["2_lr=0.5", "3_lr=0.7"]
    assert loop.trials[added[0]["id"]].stopping_criterion == {"training_iteration": 4}
    # no stop in the spec: the experiment's
    one = http.post("/trials", json={"name": "probe", "spec": {"config": {"lr": 1}}}).json()
    trial = loop.trials[one["trials"][0]["id"]]
    assert trial.stopping_criterion == {"training_iteration": 10}
    assert trial.experiment_tag == "6_probe"


@pytest.mark.parametrize("spec, message", [
    ({"run": "other_func", "config": {}}, "spec['run'] is 'other_func', but experiment "
                                          "'my_experiment' runs 'train_func'"),
    ({"config": {"lr": {"grid_search": []}}}, "grid_search: values must not be empty"),
    ({"config": {}, "local_dir": "/x"}, "Unknown trial spec key(s) ['local_dir']"),
    ({"config": {}, "stop": {"acc": "high"}}, "'stop' value for 'acc' must be a number"),
    ({"config": {}, "repeat": 0}, "'repeat' must be an integer >= 1, got 0"),
    ({"config": {}, "resources_per_trial": {"cpu": 2}}, "but experiment 'my_experiment' "
                                                        "runs its trials with"),
    ({"config": [1]}, "spec['config'] must be a JSON object, got list"),
])
def test_a_bad_spec_is_a_400_naming_the_key(http, loop, spec, message):
    response = http.post("/trials", json={"name": "my_experiment", "spec": spec})
    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert len(loop.trials) == 2


def test_the_seeds_client_over_http(loop):
    with TuneServer(port=0) as server:
        server.attach(loop)
        client = TuneClient(f"localhost:{server.port}")
        trials = client.get_all_trials()["trials"]
        assert [t["status"] for t in trials] == [RUNNING, RUNNING]
        trial_id = trials[0]["id"]
        assert client.get_trial(trial_id)["trial_info"]["result"]["timesteps_total"] == 30
        added = client.add_trial("my_experiment", {
            "run": train_func, "stop": {"training_iteration": 2},
            "config": {"lr": {"grid_search": [0.3, 0.4]}}})["trials"]
        assert [t["config"]["lr"] for t in added] == [0.3, 0.4]
        stopped = client.stop_trial(trial_id)["trial_info"]
        assert stopped["status"] == TERMINATED and stopped["status_reason"] == "stopped by client"
        with pytest.raises(TuneClientError, match=r"\(400\): Unknown trial spec key") as info:
            client.add_trial("my_experiment", {"config": {}, "upload_dir": "s3://x"})
        assert info.value.status_code == 400
        client.close()
    with pytest.raises(ValueError, match="shapes must be 'seed' or 'tuneflows'"):
        TuneClient("localhost:1", shapes="v2")
