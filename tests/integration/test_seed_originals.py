"""Ray Tune 0.5.0's own programs and tests, with ``ray.tune`` replaced by ``tuneflows``,
on real Ray, Prefect and MLflow (the session's ``tune_env``).

Each test names the upstream file it follows (ray-project/ray, tag ray-0.5.0); the
imports and calls are those files' own, with shortened stop conditions and ``ray.init()``
left out (the session's Ray is up; a program that calls it first is
tests/integration/test_seed_era_program.py). To keep the suite short, tests the
originals ran as one experiment each run as trials of one experiment (a registered
function picking each test's trainable by ``config["case"]``) or as experiments of one
``run_experiments`` call. The seed's hyperopt_example.py
(``HyperOptScheduler`` with ``config: {"space": ...}``) is
tests/integration/test_search_flow.py's first test; the ones needing RLlib, TensorFlow,
Keras or a GPU (pbt_ppo_example.py, tune_mnist_*.py, pbt_tune_cifar10_with_keras.py)
are not run.
"""

from __future__ import annotations

import json
import os
import random
import sys
import threading
import time

import numpy as np
import pytest
import ray.cloudpickle
import yaml

from client_waits import free_port, wait_for
from tuneflows import Trainable, TrainingResult, register_trainable, run_experiments
from tuneflows import TuneError, grid_search
from tuneflows.async_hyperband import AsyncHyperBandScheduler
from tuneflows.experiment import Experiment
from tuneflows.hyperband import HyperBandScheduler
from tuneflows.pbt import PopulationBasedTraining
from tuneflows.trial import Resources, Trial
from tuneflows.util import get_pinned_object, pin_in_object_store
from tuneflows.variant_generator import generate_trials
from tuneflows.web_server import TuneClient, TuneClientError

# pytest imports this file from a path Ray's workers do not have: ship by value.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def _lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


# ------------------------------------------------------------------ example programs

class MyTrainableClass(Trainable):
    """The sigmoid learner of async_hyperband_example.py and hyperband_example.py: its
    reward rises as tanh(t / width) * height; it checkpoints its timestep."""

    def _setup(self):
        self.timestep = 0

    def _train(self):
        self.timestep += 1
        v = np.tanh(float(self.timestep) / self.config["width"])
        v *= self.config["height"]
        return TrainingResult(episode_reward_mean=v, timesteps_this_iter=1)

    def _save(self, checkpoint_dir):
        path = os.path.join(checkpoint_dir, "checkpoint")
        with open(path, "w") as f:
            f.write(json.dumps({"timestep": self.timestep}))
        return path

    def _restore(self, checkpoint_path):
        with open(checkpoint_path) as f:
            self.timestep = json.loads(f.read())["timestep"]


def _check_sigmoid_trials(trials, count, stop):
    assert len(trials) == count
    for i, trial in enumerate(trials):
        assert trial.status == Trial.TERMINATED, (trial, trial.error_msg)
        width, height = trial.config["width"], trial.config["height"]
        # the lambdas' values, in the seed's tag order (sorted keys)
        assert trial.experiment_tag == f"{i}_height={height},width={width}"
        result = trial.last_result
        assert 1 <= result.training_iteration <= stop
        assert result.timesteps_total == result.training_iteration
        assert result.episode_reward_mean == pytest.approx(
            np.tanh(result.timesteps_total / width) * height)


def test_async_hyperband_example(tune_env):
    """python/ray/tune/examples/async_hyperband_example.py (ray-0.5.0)."""
    register_trainable("my_class", MyTrainableClass)
    ahb = AsyncHyperBandScheduler(
        time_attr="timesteps_total",
        reward_attr="episode_reward_mean",
        grace_period=5,
        max_t=100)
    trials = run_experiments({
        "asynchyperband_test": {
            "run": "my_class",
            "stop": {"training_iteration": 10},
            "repeat": 20,
            "trial_resources": {"cpu": 1, "gpu": 0},
            "config": {
                "width": lambda spec: 10 + int(90 * random.random()),
                "height": lambda spec: int(100 * random.random()),
            },
        }
    }, scheduler=ahb, verbose=False)
    _check_sigmoid_trials(trials, 20, 10)
    ended = sorted(t.last_result.training_iteration for t in trials)
    assert ended[-1] == 10 and ended[0] == 5  # rung 5 cut some, others reached the stop


def test_hyperband_example(tune_env):
    """python/ray/tune/examples/hyperband_example.py (ray-0.5.0)."""
    register_trainable("my_class", MyTrainableClass)
    hyperband = HyperBandScheduler(
        time_attr="timesteps_total", reward_attr="episode_reward_mean", max_t=100)
    trials = run_experiments({
        "hyperband_test": {
            "run": "my_class",
            "stop": {"training_iteration": 4},
            "repeat": 20,
            "trial_resources": {"cpu": 1, "gpu": 0},
            "config": {
                "width": lambda spec: 10 + int(90 * random.random()),
                "height": lambda spec: int(100 * random.random()),
            },
        }
    }, scheduler=hyperband, verbose=False)
    _check_sigmoid_trials(trials, 20, 4)


class PBTTrainable(Trainable):
    """pbt_example.py's learner: the reward grows fastest near factor_1 = 10, plus a
    flat factor_2, with noise; it checkpoints its step and value."""

    def _setup(self):
        self.timestep = 0
        self.current_value = 0.0

    def _train(self):
        self.timestep += 1
        self.current_value += max(
            0.0, random.gauss(5.0 - (self.config["factor_1"] - 10.0)**2, 2.0))
        self.current_value += random.gauss(self.config["factor_2"], 1.0)
        return TrainingResult(
            episode_reward_mean=self.current_value, timesteps_this_iter=1)

    def _save(self, checkpoint_dir):
        path = os.path.join(checkpoint_dir, "checkpoint")
        with open(path, "w") as f:
            f.write(json.dumps({
                "timestep": self.timestep,
                "value": self.current_value
            }))
        return path

    def _restore(self, checkpoint_path):
        with open(checkpoint_path) as f:
            data = json.loads(f.read())
            self.timestep = data["timestep"]
            self.current_value = data["value"]


def test_pbt_example(tune_env):
    """python/ray/tune/examples/pbt_example.py (ray-0.5.0), with its smoke-test stop:
    its mutations are functions of no argument (the seed's PBT called ``fn()``)."""
    register_trainable("my_class", PBTTrainable)
    pbt = PopulationBasedTraining(
        time_attr="training_iteration",
        reward_attr="episode_reward_mean",
        perturbation_interval=10,
        hyperparam_mutations={
            # Allow for scaling-based perturbations, with a uniform backing
            # distribution for resampling.
            "factor_1": lambda: random.uniform(0.0, 20.0),
            # Only allow resampling from this list as a perturbation.
            "factor_2": [1, 2],
        })
    trials = run_experiments({
        "pbt_test": {
            "run": "my_class",
            "stop": {"training_iteration": 2},
            "repeat": 10,
            "config": {
                "factor_1": 4.0,
                "factor_2": 1.0,
            },
        }
    }, scheduler=pbt, verbose=False)
    assert [t.status for t in trials] == [Trial.TERMINATED] * 10
    assert [t.experiment_tag for t in trials] == [str(i) for i in range(10)]
    for trial in trials:
        assert trial.config == {"factor_1": 4.0, "factor_2": 1.0}
        assert trial.last_result.training_iteration == 2
        assert trial.last_result.timesteps_total == 2


# ------------------------------------------- trial_runner_test.py: TrainableFunctionApiTest

X = None  # the pinned object (pinned once Ray is up)


def _overwritten(config, reporter):  # testRegisterEnvOverwrite: the first of two
    reporter(timesteps_total=100, done=True)


def _fetch_pinned(config, reporter):  # testFetchPinned
    get_pinned_object(X)
    reporter(timesteps_total=100, done=True)


def _overwriting(config, reporter):  # testRegisterEnvOverwrite: the second, which wins
    reporter(timesteps_total=200, done=True)


def _early_return(config, reporter):  # testEarlyReturn
    reporter(timesteps_total=100, done=True)
    time.sleep(99999)


def _abrupt_return(config, reporter):  # testAbruptReturn
    reporter(timesteps_total=100)


def _success(config, reporter):  # testSuccess
    for i in range(100):
        reporter(timesteps_total=i)


def _loss(config, reporter):  # a function reporting mean_loss, stopped on neg_mean_loss
    for i in range(100):
        reporter(timesteps_total=i, mean_loss=1.0 / (i + 1))


CASES = {"pinned": _fetch_pinned, "overwrite": _overwriting, "early": _early_return,
         "abrupt": _abrupt_return, "success": _success, "loss": _loss}


def _function_api(config, reporter):
    """Each seed test's trainable, picked by ``config["case"]``, after testLogdir's and
    testLongFilename's check and a relative write (testConfigPurity: what the function
    gets is recorded)."""
    assert os.path.join("logdir", "foo") in os.getcwd(), os.getcwd()
    with open("seen.json", "w") as f:
        json.dump({"cwd": os.getcwd(), "orig": os.environ.get("TUNE_ORIG_WORKING_DIR"),
                   "config": config}, f)
    CASES[config["case"]](config, reporter)


class _Writer(Trainable):
    """A class trainable writing with relative paths: each trial's files land in its own
    logdir, also when its actor ran another trial before."""

    def _setup(self):
        with open("setup.json", "w") as f:
            json.dump({"cwd": os.getcwd(), "pid": os.getpid(), "logdir": self.logdir}, f)

    def _train(self):
        with open("train.txt", "a") as f:
            f.write(os.getcwd() + "\n")
        return TrainingResult(timesteps_this_iter=1, mean_loss=2.0,
                              done=self.iteration >= 1)


def test_trainable_function_api(tune_env, tmp_path):
    """python/ray/tune/test/trial_runner_test.py (ray-0.5.0), TrainableFunctionApiTest's
    testFetchPinned, testRegisterEnvOverwrite, testRewriteEnv, testConfigPurity,
    testLogdir, testLongFilename, testEarlyReturn, testAbruptReturn and testSuccess, and
    RunExperimentTest.testDict: their trainables are the trials of one experiment (one
    registered function picks each by ``config["case"]``), a class trainable another.
    Each trial runs in its logdir; a function reporting mean_loss gets neg_mean_loss."""
    global X
    X = pin_in_object_store("hello")
    register_trainable("f1", _overwritten)
    register_trainable("f1", _function_api)
    register_trainable("writer", _Writer)
    logdir = str(tmp_path / "logdir")
    trials = run_experiments({
        "foo": {
            "run": "f1",
            "env": "CartPole-v0",
            "local_dir": logdir,
            "stop": {"neg_mean_loss": -0.3},  # the seed's advice for a loss
            "config": {
                "case": grid_search(sorted(CASES)),
                "a" * 50: lambda spec: 5.0 / 7,
                "b" * 50: lambda spec: "long" * 40,
                "script_min_iter_time_s": 0,
            },
        },
        "writer": {"run": "writer", "repeat": 5, "stop": {"neg_mean_loss": -1},
                   "local_dir": logdir},
    }, verbose=False)
    assert len(trials) == len(CASES) + 5
    by_case, writers = {}, []
    for trial in trials:
        assert trial.status == Trial.TERMINATED, (trial, trial.error_msg)
        if trial.local_dir == os.path.join(logdir, "foo"):
            by_case[trial.config["case"]] = trial
        else:
            writers.append(trial)
    assert by_case["pinned"].last_result.timesteps_total == 100
    assert by_case["overwrite"].last_result.timesteps_total == 200
    assert by_case["early"].last_result.timesteps_total == 100
    assert by_case["abrupt"].last_result.timesteps_total == 100
    assert by_case["success"].last_result.timesteps_total == 99
    # a function reporting mean_loss gets neg_mean_loss, as a class trainable does, and
    # a stop on it fires: 1 / 4 is the first loss with -loss >= -0.3
    loss = by_case["loss"]
    assert loss.last_result.neg_mean_loss == -0.25 and loss.iteration == 4
    assert loss.status_reason == "neg_mean_loss reached"

    for case, trial in by_case.items():
        # testRewriteEnv: the spec's env is in the config, and in the trial's name
        assert trial.config["env"] == "CartPole-v0"
        assert str(trial).startswith("f1_CartPole-v0_")
        assert trial.config["a" * 50] == 5.0 / 7 and trial.config["b" * 50] == "long" * 40
        assert len(os.path.basename(trial.logdir)) <= 120  # testLongFilename
        # testLogdir: cwd under <local_dir>/foo, the trial's own logdir; a relative
        # write lands beside result.json; the driver's directory is in the env
        with open(os.path.join(trial.logdir, "seen.json")) as f:
            seen = json.load(f)
        assert os.path.realpath(seen["cwd"]) == os.path.realpath(trial.logdir)
        assert os.path.exists(os.path.join(trial.logdir, "result.json"))
        assert seen["orig"] == os.getcwd()
        # testConfigPurity: the function gets the trial's config, without the seed's
        # function runner's own key
        assert seen["config"] == {k: v for k, v in trial.config.items()
                                  if k != "script_min_iter_time_s"}
        assert "script_min_iter_time_s" in trial.config

    # class trainables, actors reused: every trial's files in its own logdir
    pids = set()
    for trial in writers:
        with open(os.path.join(trial.logdir, "setup.json")) as f:
            setup = json.load(f)
        assert os.path.realpath(setup["cwd"]) == os.path.realpath(trial.logdir)
        assert os.path.realpath(setup["logdir"]) == os.path.realpath(trial.logdir)
        with open(os.path.join(trial.logdir, "train.txt")) as f:
            assert {os.path.realpath(p) for p in f.read().split()} == {
                os.path.realpath(trial.logdir)}
        # neg_mean_loss -2 never reaches the stop's -1: done=True ended it at iteration 2
        assert trial.last_result.neg_mean_loss == -2.0
        assert trial.last_result.training_iteration == 2
        pids.add(setup["pid"])
    assert len(pids) < len(writers)  # some actor ran two trials, moving between dirs


def _raises(config, reporter):  # testErrorReturn
    raise Exception("uh oh")


def test_error_return(tune_env):
    """trial_runner_test.py (ray-0.5.0), TrainableFunctionApiTest.testErrorReturn."""
    register_trainable("f1", _raises)

    def f():
        run_experiments({
            "foo": {
                "run": "f1",
                "config": {
                    "script_min_iter_time_s": 0,
                },
            }
        })

    with pytest.raises(TuneError, match="uh oh"):
        f()


def _counts(config, reporter):
    for i in range(100):
        reporter(timesteps_total=i)


def test_run_experiment_with_experiment_objects(tune_env):
    """trial_runner_test.py (ray-0.5.0), RunExperimentTest.testExperiment and
    testExperimentList; and TrainableFunctionApiTest.testBuiltInTrainableResources."""
    register_trainable("f1", _counts)
    exp1 = Experiment(**{
        "name": "foo",
        "run": "f1",
        "config": {
            "script_min_iter_time_s": 0
        }
    })
    exp2 = Experiment(**{
        "name": "bar",
        "run": "f1",
        "config": {
            "script_min_iter_time_s": 0
        }
    })

    class B(Trainable):
        @classmethod
        def default_resource_request(cls, config):
            return Resources(cpu=config["cpu"], gpu=config["gpu"])

        def _train(self):
            return TrainingResult(timesteps_this_iter=1, done=True)

    register_trainable("B", B)
    # testBuiltInTrainableResources' f(1, 0, True), as a third experiment of the list
    exp3 = Experiment(name="builtin", run="B", config={"cpu": 1, "gpu": 0})
    trials = run_experiments([exp1, exp2, exp3], queue_trials=True, verbose=False)
    for trial in trials[:2]:
        assert trial.status == Trial.TERMINATED
        assert trial.last_result.timesteps_total == 99
    assert [os.path.basename(t.local_dir) for t in trials] == ["foo", "bar", "builtin"]
    assert trials[2].status == Trial.TERMINATED and trials[2].resources == {"cpu": 1, "gpu": 0}

    def f(cpus, gpus, queue_trials):
        return run_experiments(
            {
                "foo": {
                    "run": "B",
                    "config": {
                        "cpu": cpus,
                        "gpu": gpus,
                    },
                }
            },
            queue_trials=queue_trials, verbose=False)[0]

    # Infeasible even with queueing enabled (no gpus)
    pytest.raises(TuneError, lambda: f(1, 1, True))
    # Too large resource request
    pytest.raises(TuneError, lambda: f(100, 100, False))
    pytest.raises(TuneError, lambda: f(0, 100, False))
    pytest.raises(TuneError, lambda: f(100, 0, False))
    # The seed ran f(0, 0, False); tuneflows refuses a trial holding no resources.
    with pytest.raises(TuneError, match="some CPU or GPU"):
        f(0, 0, False)


# ------------------------------------------------------------------ Client API notebook

def _train_func(config, reporter):
    for step in range(1, 10_000):
        time.sleep(0.02)
        reporter(timesteps_total=step, mean_accuracy=step * config["rate"])


#: The shape of python/ray/rllib/tuned_examples/hyperband-cartpole.yaml, which the
#: notebook loads: an experiment name, ``env``, ``run``, ``repeat``, ``stop``,
#: ``trial_resources`` and grid searches in ``config``; here with this test's trainable.
CLIENT_YAML = """
client-notebook:
    env: CartPole-v0
    run: train_func
    repeat: 2
    stop:
        training_iteration: 3
    trial_resources:
        cpu: 1
        gpu: 0
    config:
        rate:
            grid_search: [5, 6]
"""


def test_client_api_notebook(tune_env, tmp_path):
    """python/ray/tune/TuneClient.ipynb (ray-0.5.0; the Client API Example of the docs),
    its five cells, against a running experiment; an ``eval`` value from a client is
    refused."""
    register_trainable("train_func", _train_func)
    port = free_port()
    outcome = {}

    def run():
        try:
            outcome["trials"] = run_experiments({
                "client-notebook": {
                    "run": "train_func",
                    "stop": {"training_iteration": 400},
                    "config": {"rate": {"grid_search": list(range(1, 13))}},
                }
            }, with_server=True, server_port=port, verbose=False, round_seconds=60)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            outcome["error"] = exc

    experiment = threading.Thread(target=run, daemon=True)
    experiment.start()
    wait_for("the first trials running", lambda: [
        t for t in TuneClient(tune_address=f"localhost:{port}").get_all_trials()["trials"]
        if t["status"] == "RUNNING"])

    # cell 1
    manager = TuneClient(tune_address=f"localhost:{port}")
    x = manager.get_all_trials()
    listed = [((y["id"]), y["status"]) for y in x["trials"]]
    assert len(listed) == 12

    # cell 2: the last ten are still pending (two CPUs); stopped, they never run
    for y in x["trials"][-10:]:
        manager.stop_trial(y["id"])

    # cells 3 and 4 (the notebook's ``yaml.load(f)``: PyYAML 6 needs a Loader)
    from tuneflows.variant_generator import generate_trials  # noqa: F811 - the cell's import
    path = tmp_path / "hyperband-cartpole.yaml"
    path.write_text(CLIENT_YAML)
    with open(path) as f:
        d = yaml.safe_load(f)
    name, spec = [x for x in d.items()][0]
    expected = [t.config for t in generate_trials(spec, name)]

    # cell 5
    added = manager.add_trial(name, spec)["trials"]
    assert [t["config"] for t in added] == expected == [
        {"rate": 5, "env": "CartPole-v0"}, {"rate": 6, "env": "CartPole-v0"}] * 2

    # a remote client must never run code on the driver
    with pytest.raises(TuneClientError, match=r"\(400\).*eval.*config\['rate'\]"):
        manager.add_trial(name, {"config": {"rate": {"eval": "__import__('os').getpid()"}}})

    for y in x["trials"][:2]:
        manager.stop_trial(y["id"])
    experiment.join(60)
    assert not experiment.is_alive() and "error" not in outcome, outcome.get("error")
    by_id = {t.trial_id: t for t in outcome["trials"]}
    assert len(by_id) == 16
    for y in x["trials"][-10:]:
        assert by_id[y["id"]].status == Trial.TERMINATED and by_id[y["id"]].iteration == 0
    for t in added:
        assert by_id[t["id"]].last_result.training_iteration == 3
    assert str(by_id[added[0]["id"]]).startswith("train_func_CartPole-v0_")
