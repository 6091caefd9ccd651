"""Programs written for the seed's Ray Tune (0.5, mid-2018), with ``ray.tune`` replaced
by ``tuneflows``: class trainables returning ``TrainingResult``, the seed's import paths,
``trial.last_result.<field>``, PBT with a population larger than the cluster, the Client
API notebook's calls, TensorBoard files; on real Ray, Prefect and MLflow."""

from __future__ import annotations

import json
import os
import random
import threading
import time

import pytest

from client_waits import free_port, wait_for
from tuneflows import Trainable, register_trainable, run_experiments
from tuneflows.pbt import PopulationBasedTraining
from tuneflows.result import TrainingResult
from tuneflows.trial import Trial
from tuneflows.web_server import TuneClient, TuneClientError


class MyTrainableClass(Trainable):
    """The seed's pbt_example trainable, without its sleep: the reward grows by a step
    that peaks at factor_1 = 10, plus factor_2."""

    def _setup(self):
        self.timestep = 0
        self.current_value = 0.0

    def _train(self):
        self.timestep += 1
        self.current_value += max(0.0, 5.0 - (self.config["factor_1"] - 10.0) ** 2 / 10)
        self.current_value += self.config["factor_2"]
        return TrainingResult(episode_reward_mean=self.current_value, timesteps_this_iter=1)

    def _save(self, checkpoint_dir):
        path = os.path.join(checkpoint_dir, "checkpoint")
        with open(path, "w") as f:
            f.write(json.dumps({"timestep": self.timestep, "value": self.current_value}))
        return path

    def _restore(self, checkpoint_path):
        with open(checkpoint_path) as f:
            data = json.loads(f.read())
        self.timestep = data["timestep"]
        self.current_value = data["value"]


def _events(trial):
    path = os.path.join(trial.logdir, "events.json")
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def _results(trial):
    with open(os.path.join(trial.logdir, "result.json")) as f:
        return [json.loads(line) for line in f if line.strip()]


def test_pbt_example_multiplexes_eight_trials_on_two_cpus(tune_env, tensorboard_events):
    register_trainable("my_class", MyTrainableClass)
    pbt = PopulationBasedTraining(
        time_attr="training_iteration", reward_attr="episode_reward_mean",
        perturbation_interval=4, seed=0,
        hyperparam_mutations={
            "factor_1": lambda config: random.uniform(0.0, 20.0),
            "factor_2": [1, 2],
        })
    factors = [0.5, 3.0, 6.0, 8.0, 10.0, 12.0, 15.0, 19.0]
    trials = run_experiments({
        "pbt_test": {
            "run": "my_class",
            "stop": {"training_iteration": 20},
            "config": {"factor_1": {"grid_search": factors}, "factor_2": 1},
        }
    }, scheduler=pbt, verbose=False)
    assert [t.status for t in trials] == [Trial.TERMINATED] * 8
    for trial in trials:
        assert trial.last_result.training_iteration == 20
        assert trial.last_result.episode_reward_mean == trial.last_result["episode_reward_mean"]
        assert trial.last_result.timesteps_total == 20

    # The population advanced together: every trial paused at its checks while others
    # waited for one of the two CPUs.
    events = {t.trial_id: _events(t) for t in trials}
    for trial in trials:
        pauses = [e for e in events[trial.trial_id] if e["event"] == "pause"]
        assert len(pauses) >= 3, (trial.name, events[trial.trial_id])

    # Exploits cross the whole population, never twice in one interval for a trial.
    perturbations = pbt.perturbations
    assert len(perturbations) >= 2
    involved = {p["trial_id"] for p in perturbations} | {p["donor"] for p in perturbations}
    assert len(involved) >= 4
    first_pair = {trials[0].trial_id, trials[1].trial_id}
    assert any({p["trial_id"], p["donor"]} - first_pair for p in perturbations)
    for trial in trials:
        intervals = [p["time"] // 4 for p in perturbations if p["trial_id"] == trial.trial_id]
        assert len(intervals) == len(set(intervals))

    # Each clone restored its donor's checkpoint from the donor's latest check: the
    # donor's result at that iteration is the clone's starting point.
    by_id = {t.trial_id: t for t in trials}
    for trial in trials:
        results = _results(trial)
        perturbs = [e for e in events[trial.trial_id] if e["event"] == "perturb"]
        restarts = [r for prev, r in zip(results, results[1:])
                    if r["training_iteration"] <= prev["training_iteration"]]
        assert len(restarts) <= len(perturbs)
        for event in perturbs:
            assert event["clone_from"] in by_id and event["clone_from"] != trial.trial_id

    # TensorBoard: every trial's curve, and its hparams.
    for trial in trials:
        tb = tensorboard_events(trial.logdir)
        steps = [s for s, _ in tb["scalars"]["ray/tune/episode_reward_mean"]]
        assert steps[0] == 1 and steps[-1] == 20
        assert "ray/tune/time_total_s" in tb["scalars"]
        assert set(tb["hparams"]) == {"factor_1", "factor_2"}
        assert tb["hparams"]["factor_1"] == pytest.approx(trial.config["factor_1"])


def train_func(config, reporter):
    """Reports every 20 ms until its stop criterion (or a client) ends it."""
    for step in range(1, 10_000):
        time.sleep(0.02)
        reporter(timesteps_total=step, mean_accuracy=step * config["rate"])


def test_client_api_notebook_session(tune_env):
    """The seed's Client API example: list trials and their ids, read one, stop one in
    its only (last) round, add trials with a whole spec."""
    register_trainable("train_func", train_func)
    port = free_port()
    outcome = {}

    def run():
        try:
            outcome["trials"] = run_experiments({
                "client_test": {
                    "run": "train_func",
                    "stop": {"training_iteration": 400},
                    "config": {"rate": {"grid_search": [1, 2]}},
                }
            }, with_server=True, server_port=port, verbose=False, round_seconds=60)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            outcome["error"] = exc

    experiment = threading.Thread(target=run, daemon=True)
    experiment.start()
    manager = TuneClient(tune_address=f"localhost:{port}")
    x = wait_for("two running trials", lambda: (
        t if len((t := manager.get_all_trials())["trials"]) == 2
        and all(i["status"] == "RUNNING" for i in t["trials"]) else None))
    assert [t["trainable_name"] for t in x["trials"]] == ["train_func"] * 2
    trial_id = x["trials"][0]["id"]
    info = manager.get_trial(trial_id)["trial_info"]
    assert info["id"] == trial_id and info["config"] == {"rate": 1}

    # A stop in the trial's only round (round_seconds=60 is longer than the whole trial,
    # 400 results of 20 ms) ends it at its next result, not at its stop criterion:
    # asked about 1 s in, it ends near iteration 50.
    time.sleep(1.0)
    manager.stop_trial(trial_id)
    stopped = wait_for("the stop", lambda: (
        i if (i := manager.get_trial(trial_id)["trial_info"])["status"] == "TERMINATED" else None))
    assert stopped["status_reason"] == "stopped by client"
    assert 1 <= stopped["result"]["training_iteration"] < 200

    # a whole spec: grid × repeat, its own stop; a bad one is a 400 naming the key
    added = manager.add_trial("client_test", {
        "run": "train_func", "stop": {"training_iteration": 3}, "repeat": 2,
        "config": {"rate": {"grid_search": [5, 6]}}})["trials"]
    assert [t["config"]["rate"] for t in added] == [5, 6, 5, 6]
    with pytest.raises(TuneClientError, match=r"\(400\): spec\['run'\] is 'other_func'"):
        manager.add_trial("client_test", {"run": "other_func"})
    ids = [t["id"] for t in added]
    manager.stop_trial(x["trials"][1]["id"])
    experiment.join(60)
    assert not experiment.is_alive() and "error" not in outcome, outcome.get("error")
    by_id = {t.trial_id: t for t in outcome["trials"]}
    assert len(by_id) == 6
    for i in ids:
        assert by_id[i].last_result.training_iteration == 3
        assert by_id[i].status_reason == "training_iteration reached"
    second = by_id[x["trials"][1]["id"]]
    assert second.status_reason == "stopped by client" and second.iteration < 400
