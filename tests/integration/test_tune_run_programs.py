"""Programs written for ``tune.run`` (Ray Tune 0.7 to 1.x) run with ``import tuneflows
as tune`` standing for ``from ray import tune``: each does what an upstream example of
ray-project/ray does, with its imports and calls, made small (few samples, few
iterations, no sleeps). On real Ray, Prefect and MLflow (the ``tune_env`` fixture).

- ``test_function_trainable_reporting_keywords_under_asha``: the 1.x version of
  ``python/ray/tune/examples/async_hyperband_example.py`` (``tune.run(easy_objective,
  metric=..., mode=..., scheduler=AsyncHyperBandScheduler(grace_period, max_t), ...)``,
  ``tune.report(iterations=step, mean_loss=...)``, ``analysis.best_config``).
- ``test_trainable_class_with_scheduler_and_sample_from``: the 0.7 version of the same
  file (commit 51c1d6c5f3b9584d0d9125701f2dd55a48505d5a: ``from ray.tune import
  Trainable, run, sample_from``, a class with ``_setup(config)``/``_train``/``_save``/
  ``_restore``, ``AsyncHyperBandScheduler(time_attr, reward_attr, grace_period, max_t)``).
"""

from __future__ import annotations

import json
import os
import random
import sys

import numpy as np
import ray.cloudpickle

import tuneflows as tune
from tuneflows import Trainable, run, sample_from
from tuneflows.analysis import Analysis
from tuneflows.schedulers import AsyncHyperBandScheduler
from tuneflows.trial import TERMINATED

# pytest imports this file from a path Ray's workers do not have: ship by value.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

STEPS = 9


def evaluation_fn(step, width, height):
    return (0.1 + width * step / 100) ** (-1) + height * 0.1


def easy_objective(config):
    width, height = config["width"], config["height"]
    for step in range(config["steps"]):
        intermediate_score = evaluation_fn(step, width, height)
        tune.report(iterations=step, mean_loss=intermediate_score)


def test_function_trainable_reporting_keywords_under_asha(tune_env):
    scheduler = AsyncHyperBandScheduler(grace_period=1, max_t=STEPS)
    analysis = tune.run(
        easy_objective,
        name="asynchyperband_test",
        metric="mean_loss",
        mode="min",
        scheduler=scheduler,
        stop={"training_iteration": STEPS},
        num_samples=4,
        verbose=1,
        resources_per_trial={"cpu": 1, "gpu": 0},
        config={"steps": STEPS, "width": tune.uniform(10, 100), "height": tune.uniform(0, 100)},
    )
    assert isinstance(analysis, tune.ExperimentAnalysis)
    assert scheduler.metric == "mean_loss" and scheduler.mode == "min"  # from tune.run
    trials = analysis.trials
    assert len(trials) == 4 and all(t.status == TERMINATED for t in trials)
    finals = {t.trial_id: t.last_result["mean_loss"] for t in trials}
    best = analysis.best_trial
    assert finals[best.trial_id] == min(finals.values())
    assert analysis.best_config == best.config and set(best.config) == {"steps", "width", "height"}
    assert analysis.best_result["mean_loss"] == min(finals.values())
    assert analysis.best_logdir == best.logdir and os.path.isdir(analysis.best_logdir)
    assert analysis.get_best_trial("mean_loss", "max").trial_id != best.trial_id
    assert analysis.get_best_config(metric="mean_loss", mode="min") == best.config
    frame = analysis.results_df
    assert sorted(frame.index) == sorted(finals) and "config/width" in frame
    histories = analysis.trial_dataframes
    for trial in trials:  # every reported step, in order; ASHA may stop a trial at a rung
        steps = histories[trial.trial_id]["iterations"].tolist()
        assert steps == list(range(len(steps))) and len(steps) in (1, 3, STEPS)
    # ASHA (made without a metric) ranked by tune.run's: the stopped trials were worse
    stopped = [t for t in trials if t.iteration < STEPS]
    assert all(t.status_reason.startswith("stopped at rung") for t in stopped)
    # Recorded like a seed-era run: an MLflow parent run with a nested run per trial
    mlflow_view = Analysis.from_mlflow("asynchyperband_test", tracking_uri=os.environ[
        "MLFLOW_TRACKING_URI"])
    assert sorted(t.trial_id for t in mlflow_view.trials) == sorted(finals)
    assert mlflow_view.metric == "mean_loss" and mlflow_view.mode == "min"


class MyTrainableClass(Trainable):
    """The 0.7 example's class: a random sigmoid whose slope and height are the
    hyperparameters."""

    def _setup(self, config):
        self.timestep = 0

    def _train(self):
        self.timestep += 1
        v = np.tanh(float(self.timestep) / self.config["width"])
        v *= self.config["height"]
        return {"episode_reward_mean": v}

    def _save(self, checkpoint_dir):
        path = os.path.join(checkpoint_dir, "checkpoint")
        with open(path, "w") as f:
            f.write(json.dumps({"timestep": self.timestep}))
        return path

    def _restore(self, checkpoint_path):
        with open(checkpoint_path) as f:
            self.timestep = json.loads(f.read())["timestep"]


def test_trainable_class_with_scheduler_and_sample_from(tune_env):
    ahb = AsyncHyperBandScheduler(
        time_attr="training_iteration",
        reward_attr="episode_reward_mean",
        grace_period=1,
        max_t=9)
    analysis = run(MyTrainableClass,
                   name="asynchyperband_test",
                   scheduler=ahb,
                   checkpoint_at_end=True,
                   **{
                       "stop": {"training_iteration": 9},
                       "num_samples": 4,
                       "resources_per_trial": {"cpu": 1, "gpu": 0},
                       "config": {
                           "width": sample_from(lambda spec: 10 + int(90 * random.random())),
                           "height": sample_from(lambda spec: int(100 * random.random())),
                       },
                   })
    trials = analysis.trials
    assert len(trials) == 4 and all(t.status == TERMINATED for t in trials)
    for trial in trials:  # sample_from drew integers in the example's ranges
        assert 10 <= trial.config["width"] < 100 and 0 <= trial.config["height"] < 100
        expected = np.tanh(trial.iteration / trial.config["width"]) * trial.config["height"]
        assert trial.last_result["episode_reward_mean"] == expected
        kept = sorted(n for n in os.listdir(trial.logdir) if n.startswith("checkpoint_"))
        if trial.iteration < 9:  # stopped by ASHA: not at its end, so no checkpoint
            assert trial.status_reason.startswith("stopped at rung") and kept == []
            continue
        assert kept == ["checkpoint_000009"]  # checkpoint_at_end: _save's file
        with open(os.path.join(trial.logdir, kept[0], "checkpoint")) as f:
            assert json.load(f) == {"timestep": 9}
    # No metric given to tune.run: the analysis ranks by the scheduler's reward_attr
    assert analysis.metric == "episode_reward_mean" and analysis.mode == "max"
    assert analysis.best_result["episode_reward_mean"] == max(
        t.last_result["episode_reward_mean"] for t in trials)
