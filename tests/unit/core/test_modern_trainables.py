"""Trainables written for Ray Tune 1.x/2.x, run in-process on the trial actor (a plain
class under Ray): ``report(dict, checkpoint=...)`` and ``get_checkpoint()``, a returned
dict, 1.x's ``checkpoint_dir``, the 0.8.7+ class methods, ``with_parameters`` and
``with_resources``; settings ``tuneflows.run`` and the configs refuse; a ResultGrid read
from trial files."""

from __future__ import annotations

import json
import os
import tempfile

import pytest

import tuneflows as tune
from tuneflows.analysis import Analysis
from tuneflows.execution.function_runner import to_trainable_class
from tuneflows.execution.trial_actor import TrialActor
from tuneflows.model.rounds import RoundRequest
from tuneflows.modern.launch import Launch
from tuneflows.modern.result_grid import ResultGrid
from tuneflows.trainable import TrialIdentity


def _start(trainable, config=None, checkpoint=None):
    actor = TrialActor()
    error = actor.start_trial(to_trainable_class(trainable), config or {},
                              TrialIdentity("e", "t1", "t"), checkpoint)
    assert error is None, error
    return actor


def counting_with_checkpoints(config):
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint:
        with checkpoint.as_directory() as directory:
            with open(os.path.join(directory, "state.json")) as f:
                start = json.load(f)["step"]
    for step in range(start + 1, 7):
        if step % 2 == 0:
            with tempfile.TemporaryDirectory() as directory:
                with open(os.path.join(directory, "state.json"), "w") as f:
                    json.dump({"step": step}, f)
                tune.report({"step": step}, checkpoint=tune.Checkpoint.from_directory(directory))
        else:
            tune.report({"step": step})


def test_a_functions_reported_checkpoint_goes_to_the_driver_and_comes_back():
    actor = _start(counting_with_checkpoints)
    assert not actor.can_checkpoint()  # nothing reported yet: a pause keeps it in memory
    outcome = actor.run_round(RoundRequest(until={"training_iteration": 3}))
    assert [r["step"] for r in outcome.results] == [1, 2, 3]
    assert outcome.checkpoint is not None and outcome.checkpoint_iteration == 2
    assert not actor.can_checkpoint()  # its newest checkpoint (2) is behind its result (3)
    again = actor.run_round(RoundRequest(until={"training_iteration": 4}))
    assert again.checkpoint_iteration == 4 and actor.can_checkpoint()
    actor.stop_trial()
    restored = _start(counting_with_checkpoints, checkpoint=again.checkpoint)
    rest = restored.run_round(RoundRequest())
    assert [(r["step"], r["training_iteration"]) for r in rest.results] == [(5, 5), (6, 6)]
    assert rest.finished and rest.checkpoint_iteration == 6


def returns_its_result(config):
    return {"score": config["a"] * 2}


def old_style(config, checkpoint_dir=None):
    start = 0
    if checkpoint_dir:
        with open(os.path.join(checkpoint_dir, "n")) as f:
            start = int(f.read())
    for step in range(start + 1, 4):
        with tune.checkpoint_dir(step=step) as directory:
            with open(os.path.join(directory, "n"), "w") as f:
                f.write(str(step))
        tune.report(loss=1 / step)


def test_a_returned_dict_is_the_final_result_and_1x_checkpoint_dirs_work():
    outcome = _start(returns_its_result, {"a": 3}).run_round(RoundRequest())
    assert outcome.finished and [r["score"] for r in outcome.results] == [6]
    first = _start(old_style).run_round(RoundRequest(until={"training_iteration": 2}))
    assert first.checkpoint_iteration == 2
    rest = _start(old_style, checkpoint=first.checkpoint).run_round(RoundRequest())
    assert [r["training_iteration"] for r in rest.results] == [3]


class Counter(tune.Trainable):
    """Ray Tune 0.8.7+'s method names."""

    def setup(self, config):
        self.n = config.get("start", 0)

    def step(self):
        self.n += 1
        return {"n": self.n}

    def save_checkpoint(self, checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "n"), "w") as f:
            f.write(str(self.n))

    def load_checkpoint(self, checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "n")) as f:
            self.n = int(f.read())


def test_a_trainable_class_with_setup_step_and_checkpoint_methods():
    trainable = Counter(config={"start": 5})
    assert [trainable.train()["n"] for _ in range(2)] == [6, 7] and Counter.can_checkpoint()
    blob = trainable.save_to_object()
    other = Counter(config={})
    other.restore_from_object(blob)
    assert other.train()["n"] == 8 and other.iteration == 3


def with_data(config, data):
    return {"total": config["a"] + sum(data)}


def test_with_parameters_and_with_resources():
    wrapped = tune.with_resources(tune.with_parameters(with_data, data=[1, 2]), {"CPU": 2})
    outcome = _start(wrapped, {"a": 1}).run_round(RoundRequest())
    assert [r["total"] for r in outcome.results] == [4]
    assert Launch(wrapped, storage_path="/tmp/r").experiment().resources == {"cpu": 2.0, "gpu": 0.0}
    assert wrapped.__name__ == "with_data"
    counter = tune.with_parameters(Counter)(config={"start": 1})
    assert counter.train()["n"] == 2
    with pytest.raises(ValueError, match="not a CPU or GPU amount"):
        tune.with_resources(with_data, {"memory": 10})


def test_refused_and_invalid_settings_name_themselves():
    with pytest.raises(ValueError, match="RunConfig: sync_config is not supported"):
        tune.RunConfig(sync_config=object())
    with pytest.raises(ValueError, match="TuneConfig: trial_name_creator is not supported"):
        tune.TuneConfig(trial_name_creator=lambda trial: "x")
    with pytest.raises(ValueError, match="max_failures must be 0 with fail_fast"):
        tune.FailureConfig(max_failures=2, fail_fast=True)
    with pytest.raises(ValueError, match="function trainable checkpoints what it reports"):
        Launch(returns_its_result, checkpoint_at_end=True).experiment()
    with pytest.raises(ValueError, match="storage_path .remote. is not supported"):
        Launch(returns_its_result, storage_path="s3://bucket/results").experiment()
    with pytest.raises(ValueError, match="placement group"):
        Launch(returns_its_result, resources_per_trial=object()).experiment()
    with pytest.raises(ValueError, match="restart_errored is not supported"):
        tune.Tuner.restore("/nonexistent", returns_its_result, restart_errored=True)
    with pytest.raises(ValueError, match="ASHAScheduler was made with metric='acc'"):
        Launch(returns_its_result, metric="loss", mode="min",
               scheduler=tune.schedulers.ASHAScheduler(metric="acc", mode="max")
               ).scheduler_object()
    exp = Launch(Counter, stop=tune.stopper.MaximumIterationStopper(4), max_failures=-1,
                 storage_path="/tmp/r").experiment()
    assert exp.stop == {"training_iteration": 4} and exp.max_failures == 10**9


def _trial_dir(root, name, config, values):
    path = os.path.join(root, name)
    os.makedirs(path)
    with open(os.path.join(path, "params.json"), "w") as f:
        json.dump(config, f)
    with open(os.path.join(path, "result.json"), "w") as f:
        for i, v in enumerate(values, 1):
            print(json.dumps({"trial_id": name, "training_iteration": i, "loss": v}), file=f)
    os.makedirs(os.path.join(path, "checkpoint_000002"))


def test_result_grid_scopes_and_frames(tmp_path):
    _trial_dir(str(tmp_path), "a", {"x": 1}, [0.9, 0.1, 0.8])  # best once, worst last
    _trial_dir(str(tmp_path), "b", {"x": 2}, [0.5, 0.5, 0.5])
    grid = ResultGrid(Analysis(str(tmp_path), metric="loss", mode="min"), str(tmp_path))
    assert grid.get_best_result().config == {"x": 2}
    assert grid.get_best_result(scope="all").config == {"x": 1}
    assert grid.get_best_result(scope="avg").config == {"x": 2}
    assert grid[0].checkpoint.path.endswith("checkpoint_000002")
    assert grid[0].best_checkpoints[0][1]["loss"] == 0.1
    frame = grid.get_dataframe(filter_metric="loss", filter_mode="min")
    assert frame.set_index("trial_id")["loss"].to_dict() == {"a": 0.1, "b": 0.5}
    with pytest.raises(ValueError, match="scope must be one of"):
        grid.get_best_result(scope="best")
    with pytest.raises(RuntimeError, match="No trial reported 'acc'"):
        grid.get_best_result("acc", "max")
