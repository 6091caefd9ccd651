"""Programs written for Ray Tune 2's ``Tuner`` run with ``import tuneflows as tune``
standing for ``from ray import tune``: each does what an example of ray-project/ray at
ray-2.60.0 (commit b7f4259e944bf6959f721b106adc366ddfa0c356, the Ray installed with the
``bench`` extra) does, with its imports and calls, made small (few samples, few
iterations, no sleeps). On real Ray, Prefect and MLflow (the ``tune_env`` fixture).

- ``test_basic_search``: ``python/ray/tune/examples/tune_basic_example.py`` (random and
  grid search, ``TuneConfig(metric, mode, num_samples)``, ``get_best_result().config``),
  then ``Tuner.can_restore`` / ``Tuner.restore`` of its run.
- ``test_asha``: ``python/ray/tune/examples/async_hyperband_example.py``
  (``tune.with_resources``, ``tune.RunConfig(name, stop, verbose)``,
  ``tune.TuneConfig(metric, mode, scheduler, num_samples)``).
- ``test_stopping_criteria``: the stopping guide of Ray 2's documentation
  (``doc/source/tune/doc_code/stopping.py``, "How to Define Stopping Criteria"): a
  function ``stop_fn(trial_id, result)`` and a ``Stopper`` subclass whose ``stop_all``
  ends the experiment, in ``tune.RunConfig(stop=...)``.
- ``test_pbt_with_checkpoints``: ``python/ray/tune/examples/pbt_function.py``
  (``tune.get_checkpoint()``, ``Checkpoint.from_directory``, ``tune.report(metrics,
  checkpoint=...)``, ``PopulationBasedTraining``, ``FailureConfig(fail_fast=True)``,
  ``CheckpointConfig(checkpoint_score_attribute, num_to_keep)``, ``stop={"done": True,
  ...}``), with a population larger than the 2 CPUs, so trials pause and resume from
  their checkpoints too.
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile

import numpy as np
import ray.cloudpickle

import tuneflows as tune
from tuneflows import Checkpoint
from tuneflows.stopper import Stopper
from tuneflows.schedulers import AsyncHyperBandScheduler, PopulationBasedTraining

# pytest imports this file from a path Ray's workers do not have: ship by value.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def evaluation_fn(step, width, height):
    return (0.1 + width * step / 100) ** (-1) + height * 0.1


def easy_objective(config):
    width, height = config["width"], config["height"]
    for step in range(config["steps"]):
        intermediate_score = evaluation_fn(step, width, height)
        tune.report({"iterations": step, "mean_loss": intermediate_score})


def _flow_run(name):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    with get_client(sync_client=True) as client:
        return client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name])))


def test_basic_search(tune_env):
    tuner = tune.Tuner(
        easy_objective,
        tune_config=tune.TuneConfig(
            metric="mean_loss",
            mode="min",
            num_samples=2,
        ),
        param_space={
            "steps": 3,
            "width": tune.uniform(0, 20),
            "height": tune.uniform(-100, 100),
            "activation": tune.grid_search(["relu", "tanh"]),
        },
    )
    results = tuner.fit()
    assert isinstance(results, tune.ResultGrid)
    assert len(results) == 4 and results.num_terminated == 4 and results.num_errors == 0
    assert results.errors == []
    assert sorted(r.config["activation"] for r in results) == ["relu", "relu", "tanh", "tanh"]
    finals = [r.metrics["mean_loss"] for r in results]
    best = results.get_best_result()
    assert best.metrics["mean_loss"] == min(finals)
    assert results.get_best_result("mean_loss", "max").metrics["mean_loss"] == max(finals)
    assert best.config == results[finals.index(min(finals))].config
    for result in results:
        assert result.metrics_dataframe["iterations"].tolist() == [0, 1, 2]
        assert result.checkpoint is None and result.error is None
        assert os.path.isfile(os.path.join(result.path, "params.json"))
    frame = results.get_dataframe()
    assert len(frame) == 4 and {"mean_loss", "config/width", "config/activation"} <= set(frame)
    by_best = results.get_dataframe(filter_metric="mean_loss", filter_mode="min")
    assert (by_best["mean_loss"] <= frame["mean_loss"]).all()
    assert results.get_best_result(scope="all").metrics["mean_loss"] == min(finals)
    # A Prefect flow run per experiment, named after it (the trainable's name)
    [flow_run] = _flow_run("easy_objective")
    assert flow_run.state.is_completed()
    # The run can be restored: a finished run's results come back, nothing runs again
    assert tune.Tuner.can_restore(results.experiment_path)
    assert not tune.Tuner.can_restore(os.path.join(tune_env, "no_such_experiment"))
    again = tune.Tuner.restore(results.experiment_path, trainable=easy_objective).fit()
    assert sorted(r.metrics["mean_loss"] for r in again) == sorted(finals)
    assert all(len(r.metrics_dataframe) == 3 for r in again)


def test_asha(tune_env):
    scheduler = AsyncHyperBandScheduler(
        grace_period=1,
        max_t=9,
    )
    tuner = tune.Tuner(
        tune.with_resources(easy_objective, {"cpu": 1, "gpu": 0}),
        run_config=tune.RunConfig(
            name="asynchyperband_test",
            stop={"training_iteration": 9},
            verbose=1,
        ),
        tune_config=tune.TuneConfig(
            metric="mean_loss",
            mode="min",
            scheduler=scheduler,
            num_samples=4,
        ),
        param_space={
            "steps": 20,
            "width": tune.uniform(10, 100),
            "height": tune.uniform(0, 100),
        },
    )
    results = tuner.fit()
    best = results.get_best_result()
    assert results.num_terminated == 4 and results.num_errors == 0
    lengths = sorted(len(r.metrics_dataframe) for r in results)
    assert set(lengths) <= {1, 3, 9} and lengths[-1] == 9  # ASHA's rungs; the best runs on
    assert len(best.metrics_dataframe) == 9
    assert best.metrics["mean_loss"] == min(r.metrics["mean_loss"] for r in results
                                            if len(r.metrics_dataframe) == 9)


def my_trainable(config):
    i = 1
    while True:
        tune.report({"mean_accuracy": min(i / 10, 1.0)})
        i += 1


class CustomStopper(Stopper):
    def __init__(self):
        self.should_stop = False

    def __call__(self, trial_id, result):
        if not self.should_stop and result["mean_accuracy"] >= 0.8:
            self.should_stop = True
        return self.should_stop

    def stop_all(self):
        return self.should_stop


def test_stopping_criteria(tune_env):
    def stop_fn(trial_id: str, result: dict) -> bool:
        return result["mean_accuracy"] >= 0.8 or result["training_iteration"] >= 4

    tuner = tune.Tuner(my_trainable, run_config=tune.RunConfig(stop=stop_fn),
                       tune_config=tune.TuneConfig(num_samples=2))
    results = tuner.fit()
    # asked about every result by the driver; no iteration ran past the stop
    assert [r.metrics["training_iteration"] for r in results] == [4, 4]
    assert [len(r.metrics_dataframe) for r in results] == [4, 4]

    stopper = CustomStopper()
    tuner = tune.Tuner(my_trainable, run_config=tune.RunConfig(stop=stopper, name="stop_all"),
                       tune_config=tune.TuneConfig(num_samples=3, max_concurrent_trials=1))
    results = tuner.fit()
    # the first trial reached 0.8 at its 8th result; stop_all ended the experiment, so
    # the trials waiting for a slot never ran
    assert stopper.should_stop is True  # the driver asked this very object, as Ray Tune's does
    ran = [r for r in results if r.metrics]
    assert len(ran) == 1 and ran[0].metrics["mean_accuracy"] == 0.8
    assert results.num_terminated == 3 and results.num_errors == 0


def pbt_function(config):
    """pbt_function.py's toy problem: accuracy grows fastest at an lr that depends on
    the accuracy; checkpoints every ``checkpoint_interval`` steps."""
    lr = config["lr"]
    checkpoint_interval = config.get("checkpoint_interval", 1)
    accuracy = 0.0
    step = 1
    checkpoint = tune.get_checkpoint()
    if checkpoint:
        with checkpoint.as_directory() as checkpoint_dir:
            with open(os.path.join(checkpoint_dir, "checkpoint.json"), "r") as f:
                checkpoint_dict = json.load(f)
        accuracy = checkpoint_dict["acc"]
        last_step = checkpoint_dict["step"]
        step = last_step + 1
    midpoint = 100
    q_tolerance = 3
    noise_level = 2
    while True:
        if accuracy < midpoint:
            optimal_lr = 0.01 * accuracy / midpoint
        else:
            optimal_lr = 0.01 - 0.01 * (accuracy - midpoint) / midpoint
        optimal_lr = min(0.01, max(0.001, optimal_lr))
        q_err = max(lr, optimal_lr) / min(lr, optimal_lr)
        if q_err < q_tolerance:
            accuracy += (1.0 / q_err) * random.random()
        elif lr > optimal_lr:
            accuracy -= (q_err - q_tolerance) * random.random()
        accuracy += noise_level * np.random.normal()
        accuracy = max(0, accuracy)
        metrics = {
            "mean_accuracy": accuracy,
            "cur_lr": lr,
            "optimal_lr": optimal_lr,
            "q_err": q_err,
            "done": accuracy > midpoint * 2,
        }
        if step % checkpoint_interval == 0:
            with tempfile.TemporaryDirectory() as tempdir:
                with open(os.path.join(tempdir, "checkpoint.json"), "w") as f:
                    checkpoint_dict = {"acc": accuracy, "step": step}
                    json.dump(checkpoint_dict, f)
                tune.report(metrics, checkpoint=Checkpoint.from_directory(tempdir))
        else:
            tune.report(metrics)
        step += 1


def test_pbt_with_checkpoints(tune_env):
    perturbation_interval = 2
    pbt = PopulationBasedTraining(
        time_attr="training_iteration",
        perturbation_interval=perturbation_interval,
        hyperparam_mutations={
            "lr": tune.uniform(0.0001, 0.02),
            "some_other_factor": [1, 2],
        },
    )
    tuner = tune.Tuner(
        pbt_function,
        run_config=tune.RunConfig(
            name="pbt_function_api_example",
            verbose=False,
            stop={
                "done": True,
                "training_iteration": 8,
            },
            failure_config=tune.FailureConfig(
                fail_fast=True,
            ),
            checkpoint_config=tune.CheckpointConfig(
                checkpoint_score_attribute="mean_accuracy",
                num_to_keep=2,
            ),
        ),
        tune_config=tune.TuneConfig(
            scheduler=pbt,
            metric="mean_accuracy",
            mode="max",
            num_samples=4,
            reuse_actors=True,
        ),
        param_space={
            "lr": 0.0001,
            "some_other_factor": 1,
            "checkpoint_interval": perturbation_interval,
        },
    )
    results = tuner.fit()
    assert results.num_terminated == 4 and results.num_errors == 0
    events = {}
    for result in results:
        assert result.metrics["training_iteration"] == 8
        # Each restore (a pause on 2 CPUs, a PBT exploit) gave the function its checkpoint
        # back: its step counter, read from the checkpoint, kept pace with the iterations.
        with result.checkpoint.as_directory() as directory:
            with open(os.path.join(directory, "checkpoint.json")) as f:
                saved = json.load(f)
        assert saved["step"] == 8 and saved["acc"] == result.metrics["mean_accuracy"]
        assert len(result.best_checkpoints) <= 2  # num_to_keep on disk
        with open(os.path.join(result.path, "events.json")) as f:
            kinds = [json.loads(line)["event"] for line in f]
        for kind in kinds:
            events[kind] = events.get(kind, 0) + 1
        # A pause resumes at the next iteration; an exploit goes back to the iteration of
        # the donor's checkpoint (+ 1), as in Ray Tune: only perturbations break the count.
        history = result.metrics_dataframe["training_iteration"].tolist()
        jumps = sum(1 for a, b in zip(history, history[1:]) if b != a + 1)
        assert history[0] == 1 and jumps <= kinds.count("perturb")
    assert events.get("pause", 0) >= 1  # 4 trials on 2 CPUs take turns, from checkpoints
    assert events.get("perturb", 0) >= 1  # and the bottom trial exploited the top one
    copy = results.get_best_result().checkpoint.to_directory()
    assert os.listdir(copy) == ["checkpoint.json"]  # the user's files, not tuneflows' metadata
