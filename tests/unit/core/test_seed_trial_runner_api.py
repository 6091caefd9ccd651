"""The public-API tests of Ray Tune 0.5.0 that need no trial to run, with ``ray.tune``
replaced by ``tuneflows`` and nothing else changed in the imports and calls.

Follows ``python/ray/tune/test/trial_runner_test.py`` of ray-project/ray at ray-0.5.0:
``VariantGeneratorTest`` (all of it), ``TrainableFunctionApiTest.testRegisterTrainable``,
``testRegisterEnv`` and ``testBadParams`` … ``testBadParams6``. The seed ran them with RLlib
installed, so ``"PPO"`` named a trainable; here a stand-in is registered under that name.
The tests that run trials are in tests/integration/test_seed_originals.py.
"""

from __future__ import annotations

import os

import pytest

from tuneflows import Trainable, TuneError
from tuneflows import register_env, register_trainable, run_experiments
from tuneflows.experiment import Experiment
from tuneflows.result import DEFAULT_RESULTS_DIR, TrainingResult
from tuneflows.trial import Resources, Trial
from tuneflows.variant_generator import RecursiveDependencyError, generate_trials, grid_search


def _ppo(config, reporter):
    reporter(timesteps_total=1)


register_trainable("PPO", _ppo)  # RLlib's PPO in the seed's test runs


@pytest.fixture(autouse=True)
def _seed_default_results_dir(monkeypatch):
    monkeypatch.delenv("TUNE_RESULT_DIR", raising=False)


# --- VariantGeneratorTest ------------------------------------------------------------------

def test_parse_to_trials():
    trials = generate_trials({
        "run": "PPO",
        "repeat": 2,
        "max_failures": 5,
        "config": {
            "env": "Pong-v0",
            "foo": "bar"
        },
    }, "tune-pong")
    trials = list(trials)
    assert len(trials) == 2
    assert str(trials[0]) == "PPO_Pong-v0_0"
    assert trials[0].config == {"foo": "bar", "env": "Pong-v0"}
    assert trials[0].trainable_name == "PPO"
    assert trials[0].experiment_tag == "0"
    assert trials[0].max_failures == 5
    assert trials[0].local_dir == os.path.join(DEFAULT_RESULTS_DIR, "tune-pong")
    assert trials[1].experiment_tag == "1"
    # this project's own trial objects, not yet started, each in its own directory
    assert all(isinstance(t, Trial) and t.status == Trial.PENDING for t in trials)
    assert trials[0].logdir.startswith(trials[0].local_dir + os.sep)
    assert len({t.logdir for t in trials}) == 2 and len({t.trial_id for t in trials}) == 2


def test_env_given_beside_config_moves_into_config():
    [trial] = generate_trials({"run": "PPO", "env": "CartPole-v0"}, "rewrite")
    assert trial.config == {"env": "CartPole-v0"} and str(trial) == "PPO_CartPole-v0_0"


def test_eval():
    trials = generate_trials({
        "run": "PPO",
        "config": {
            "foo": {
                "eval": "2 + 2"
            },
        },
    })
    trials = list(trials)
    assert len(trials) == 1
    assert trials[0].config == {"foo": 4}
    assert trials[0].experiment_tag == "0_foo=4"


def test_eval_has_the_seeds_names_in_scope():
    [trial] = generate_trials({
        "run": "PPO",
        "config": {
            "n": 3,
            "lr": {"eval": "random.uniform(1e-4, 1e-3)"},
            "size": {"eval": "int(np.prod([spec.config.n, 2]))"},
        },
    }, "eval_scope")
    assert 1e-4 <= trial.config["lr"] <= 1e-3 and trial.config["size"] == 6


def test_grid_search():
    trials = generate_trials({
        "run": "PPO",
        "config": {
            "bar": {
                "grid_search": [True, False]
            },
            "foo": {
                "grid_search": [1, 2, 3]
            },
        },
    })
    trials = list(trials)
    assert len(trials) == 6
    assert trials[0].config == {"bar": True, "foo": 1}
    assert trials[0].experiment_tag == "0_bar=True,foo=1"
    assert trials[1].config == {"bar": False, "foo": 1}
    assert trials[1].experiment_tag == "1_bar=False,foo=1"
    assert trials[2].config == {"bar": True, "foo": 2}
    assert trials[3].config == {"bar": False, "foo": 2}
    assert trials[4].config == {"bar": True, "foo": 3}
    assert trials[5].config == {"bar": False, "foo": 3}


def test_grid_search_and_eval():
    trials = generate_trials({
        "run": "PPO",
        "config": {
            "qux": lambda spec: 2 + 2,
            "bar": grid_search([True, False]),
            "foo": grid_search([1, 2, 3]),
        },
    })
    trials = list(trials)
    assert len(trials) == 6
    assert trials[0].config == {"bar": True, "foo": 1, "qux": 4}
    assert trials[0].experiment_tag == "0_bar=True,foo=1,qux=4"


def test_condition_resolution():
    trials = generate_trials({
        "run": "PPO",
        "config": {
            "x": 1,
            "y": lambda spec: spec.config.x + 1,
            "z": lambda spec: spec.config.y + 1,
        },
    })
    trials = list(trials)
    assert len(trials) == 1
    assert trials[0].config == {"x": 1, "y": 2, "z": 3}


def test_dependent_lambda():
    trials = generate_trials({
        "run": "PPO",
        "config": {
            "x": grid_search([1, 2]),
            "y": lambda spec: spec.config.x * 100,
        },
    })
    trials = list(trials)
    assert len(trials) == 2
    assert trials[0].config == {"x": 1, "y": 100}
    assert trials[1].config == {"x": 2, "y": 200}
    assert [t.experiment_tag for t in trials] == ["0_x=1,y=100", "1_x=2,y=200"]


def test_dependent_grid_search():
    trials = generate_trials({
        "run": "PPO",
        "config": {
            "x": grid_search([
                lambda spec: spec.config.y * 100,
                lambda spec: spec.config.y * 200
            ]),
            "y": lambda spec: 1,
        },
    })
    trials = list(trials)
    assert len(trials) == 2
    assert trials[0].config == {"x": 100, "y": 1}
    assert trials[1].config == {"x": 200, "y": 1}
    # a grid value that is a lambda is tagged with what it resolved to
    assert [t.experiment_tag for t in trials] == ["0_x=100,y=1", "1_x=200,y=1"]


def test_recursive_dep():
    try:
        list(generate_trials({
            "run": "PPO",
            "config": {
                "foo": lambda spec: spec.config.foo,
            },
        }))
    except RecursiveDependencyError as e:
        assert "`foo` recursively depends on" in str(e), e
    else:
        assert False
    assert issubclass(RecursiveDependencyError, TuneError)


def test_generate_trials_refuses_a_spec_without_run():
    with pytest.raises(TuneError, match="run"):
        list(generate_trials({"config": {}}, "no_run"))


# --- TrainableFunctionApiTest: registration and bad specs -----------------------------------

def test_register_trainable():
    def train(config, reporter):
        pass

    class A(object):
        pass

    class B(Trainable):
        pass

    register_trainable("foo", train)
    register_trainable("foo", B)
    pytest.raises(TypeError, lambda: register_trainable("foo", B()))
    pytest.raises(TypeError, lambda: register_trainable("foo", A))


def test_register_env():
    register_env("foo", lambda: None)
    pytest.raises(TypeError, lambda: register_env("foo", 2))


BAD_SPECS = {  # the specs of testBadParams, testBadParams2, 3, 4 and 6; and bad configs
    "no run": lambda: {"foo": {}},
    "unknown key": lambda: {"foo": {"run": "asdf", "bah": "this param is not allowed"}},
    "invalid grid search": lambda: {"foo": {"run": grid_search("invalid grid search")}},
    "unknown trainable": lambda: {"foo": {"run": "asdf"}},
    "unknown resource": lambda: {"foo": {"run": "PPO", "trial_resources": {"asdf": 1}}},
    "bad grid in config": lambda: {"foo": {"run": "PPO", "config": {"a": {"grid_search": 1}}}},
    "bad eval in config": lambda: {"foo": {"run": "PPO", "config": {"a": {"eval": "1 +"}}}},
    "not a Trainable class": lambda: {"foo": {"run": dict}},
}


@pytest.mark.parametrize("what", sorted(BAD_SPECS))
def test_bad_params_raise_tune_error_before_anything_starts(what):
    def f():
        run_experiments(BAD_SPECS[what]())

    with pytest.raises(TuneError) as caught:
        f()
    # code written for tuneflows' earlier ValueError keeps working
    assert isinstance(caught.value, ValueError)


def test_a_stop_key_outside_training_result_is_accepted():
    # The seed refused {"stop": {"asdf": 1}} (testBadParams5: not a TrainingResult field);
    # tuneflows stops on any metric a trainable reports and warns at the first result
    # when the key is missing from it.
    exp = Experiment.from_json("foo", {"run": "PPO", "stop": {"asdf": 1}})
    assert exp.stop == {"asdf": 1} and exp.name == "foo"


# --- names the tests use ---------------------------------------------------------------------

def test_experiment_as_the_seed_built_it():
    def train(config, reporter):
        reporter(timesteps_total=1)

    register_trainable("f1", train)
    exp1 = Experiment(**{
        "name": "foo",
        "run": "f1",
        "config": {
            "script_min_iter_time_s": 0
        }
    })
    assert exp1.name == "foo" and exp1.trainable_name == "f1"
    assert exp1.config == {"script_min_iter_time_s": 0}
    with pytest.raises(TuneError, match="run"):
        Experiment.from_json("bar", {"config": {}})


def test_resources():
    r = Resources(cpu=1, gpu=0)
    assert (r.cpu, r.gpu, r.extra_cpu, r.extra_gpu) == (1, 0, 0, 0)
    r = Resources(2, 1, extra_cpu=3)
    assert r.cpu_total() == 5 and r.gpu_total() == 1
    assert r.summary_string() == "5 CPUs, 1 GPUs"


def test_default_resource_request_shapes_the_experiments_trials():
    class B(Trainable):
        @classmethod
        def default_resource_request(cls, config):
            return Resources(cpu=config["cpu"], gpu=config["gpu"], extra_cpu=1)

        def _train(self):
            return TrainingResult(timesteps_this_iter=1, done=True)

    exp = Experiment.from_json("foo", {"run": B, "config": {"cpu": 2, "gpu": 0}})
    assert exp.resources == {"cpu": 3.0, "gpu": 0.0}
    given = Experiment.from_json("foo", {"run": B, "config": {"cpu": 2, "gpu": 0},
                                         "trial_resources": {"cpu": 1, "extra_cpu": 1}})
    assert given.resources == {"cpu": 2.0, "gpu": 0.0}  # the spec's own resources win


def test_training_result_has_the_seeds_fields():
    # ray/tune/result.py of the ray 0.5.0 wheel, in its order
    assert TrainingResult._fields == (
        "timesteps_total", "done", "info", "episode_reward_mean", "episode_reward_min",
        "episode_reward_max", "episode_len_mean", "episodes_total", "policy_reward_mean",
        "mean_accuracy", "mean_validation_accuracy", "mean_loss", "neg_mean_loss",
        "experiment_id", "training_iteration", "timesteps_this_iter", "time_this_iter_s",
        "time_total_s", "pid", "date", "timestamp", "hostname", "node_ip", "config")
    assert TrainingResult().timesteps_total is None
