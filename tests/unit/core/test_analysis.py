"""Analysis over a hand-made experiment directory and over run_experiments' trials: the
best trial by metric and mode (best_trial.py's), the trials' DataFrame, each trial's
history; reading MLflow params back as configs."""

import doctest
import importlib
import json
import os

import pytest

import tuneflows
from tuneflows.analysis import Analysis, ExperimentAnalysis
from tuneflows.recording.mlflow.runs import config_from_params
from tuneflows.recording.mlflow.values import param_strings
from tuneflows.trial import ERROR, RUNNING, TERMINATED, Trial


def write_trial(root, name, config, results, events=()):
    path = os.path.join(root, name)
    os.makedirs(path)
    with open(os.path.join(path, "params.json"), "w") as f:
        json.dump(config, f)
    with open(os.path.join(path, "result.json"), "w") as f:
        for result in results:
            f.write(json.dumps(result) + "\n")
        if results:
            f.write('{"training_iteration": 9, "cut sh')  # a line a kill cut short
    if events:
        with open(os.path.join(path, "events.json"), "w") as f:
            for kind in events:
                f.write(json.dumps({"event": kind}) + "\n")
    return path


def curve(trial_id, losses, config=None):
    return [{"trial_id": trial_id, "training_iteration": i + 1, "loss": loss,
             "info": {"lr": 0.1}, "config": config or {}} for i, loss in enumerate(losses)]


@pytest.fixture
def experiment_dir(tmp_path):
    root = str(tmp_path / "exp" / "run-1")  # a run directory under the experiment's
    write_trial(root, "train_0_lr=0.1", {"lr": 0.1, "net": {"act": "relu"}},
                curve("e_00000", [0.9, 0.5, 0.4]), ["terminated"])
    write_trial(root, "train_1_lr=0.2", {"lr": 0.2, "net": {"act": "tanh"}},
                curve("e_00001", [0.8, 0.4]), ["pause", "terminated"])
    write_trial(root, "train_2_lr=0.3", {"lr": 0.3, "net": {"act": "relu"}},
                curve("e_00002", [0.7]), ["error"])
    write_trial(root, "train_3_lr=0.4", {"lr": 0.4, "net": {"act": "relu"}},
                curve("e_00003", [1.5]))
    write_trial(root, "train_4_lr=0.5", {"lr": 0.5, "net": {"act": "relu"}}, [])
    return str(tmp_path / "exp")


def test_best_by_metric_and_mode_ties_to_fewer_iterations(experiment_dir):
    analysis = Analysis(experiment_dir, metric="loss", mode="min")
    assert analysis.best_trial.trial_id == "e_00001"  # 0.4 in 2 iterations beats 0.4 in 3
    assert analysis.best_config == {"lr": 0.2, "net": {"act": "tanh"}}
    assert analysis.best_result["loss"] == 0.4 and analysis.best_result["training_iteration"] == 2
    assert analysis.get_best_logdir().endswith("train_1_lr=0.2")
    assert analysis.get_best_trial("loss", "max").trial_id == "e_00003"
    assert [t.trial_id for t in analysis.ranked()][-1] == "train_4_lr=0.5"  # no result: last


def test_trials_come_in_creation_order_with_their_status(experiment_dir):
    analysis = ExperimentAnalysis(experiment_dir, metric="loss", mode="min")
    assert [(t.trial_id, t.status) for t in analysis.trials] == [
        ("e_00000", TERMINATED), ("e_00001", TERMINATED), ("e_00002", ERROR),
        ("e_00003", RUNNING), ("train_4_lr=0.5", "PENDING")]
    assert analysis.trials[2].error_file.endswith(os.path.join("train_2_lr=0.3", "error.txt"))


def test_dataframe_has_a_row_per_trial_with_last_result_and_config(experiment_dir):
    frame = Analysis(experiment_dir, metric="loss", mode="min").dataframe()
    assert list(frame["trial_id"])[:2] == ["e_00000", "e_00001"]
    assert list(frame["trial_name"])[:1] == ["train_0_lr=0.1"]
    assert list(frame["loss"])[:4] == [0.4, 0.4, 0.7, 1.5]
    assert list(frame["config/net/act"])[:2] == ["relu", "tanh"]
    assert "info/lr" in frame.columns and "config" not in frame.columns
    assert {"status", "logdir", "training_iteration"} <= set(frame.columns)


def test_each_trial_history_is_a_frame_of_its_results(experiment_dir):
    analysis = Analysis(experiment_dir, metric="loss", mode="min")
    history = analysis.trial_history("e_00000")
    assert history["loss"].tolist() == [0.9, 0.5, 0.4]
    assert history["training_iteration"].tolist() == [1, 2, 3]
    assert analysis.trial_history(analysis.trials[1])["loss"].tolist() == [0.8, 0.4]
    assert set(analysis.trial_dataframes) == {t.trial_id for t in analysis.trials}
    assert analysis.trial_dataframes["train_4_lr=0.5"].empty
    with pytest.raises(KeyError, match="No trial 'nope'"):
        analysis.trial_history("nope")


def test_without_a_metric_best_is_an_error_that_says_what_to_pass(experiment_dir):
    analysis = Analysis(experiment_dir)
    with pytest.raises(ValueError, match="pass metric="):
        analysis.best_trial
    assert analysis.get_best_config("loss", "min") == {"lr": 0.2, "net": {"act": "tanh"}}
    assert analysis.get_best_trial("nothing") is None  # no trial reported it


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(ValueError, match="is not a directory"):
        Analysis(str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="mode must be 'max' or 'min', got mode='up'"):
        Analysis(str(tmp_path), metric="loss", mode="up")


def test_from_trials_needs_no_reload_and_takes_the_stop_metric(tmp_path):
    logdir = write_trial(str(tmp_path), "t0", {"lr": 0.1}, curve("a_0", [0.3, 0.2]))
    trials = [
        Trial("a_0", "0_lr=0.1", {"lr": 0.1}, "train", logdir, status=TERMINATED,
              last_result={"training_iteration": 2, "acc": 0.5},
              stopping_criterion={"training_iteration": 5, "acc": 0.99}),
        Trial("a_1", "1_lr=0.2", {"lr": 0.2}, "train", "", status=TERMINATED,
              last_result={"training_iteration": 1, "acc": 0.7}),
    ]
    analysis = tuneflows.Analysis.from_trials(trials)
    assert (analysis.metric, analysis.mode) == ("acc", "max")  # as the status block ranks
    assert analysis.best_config == {"lr": 0.2}
    assert analysis.dataframe()["trial_name"].tolist() == ["train_0_lr=0.1", "train_1_lr=0.2"]
    assert analysis.trial_history("a_0")["loss"].tolist() == [0.3, 0.2]
    assert Analysis.from_trials(trials, metric="acc", mode="min").best_trial.trial_id == "a_0"


@pytest.mark.parametrize("config", [
    {"lr": 0.001, "layers": 3, "act": "relu", "bn": True, "decay": None},
    {"net": {"sizes": [8, 4], "drop": {"p": 0.5}}, "name": "a b"},
])
def test_mlflow_params_read_back_as_the_config(config):
    assert config_from_params(param_strings(config)) == config


def test_a_perturbed_config_overrides_the_params():
    assert config_from_params({"lr": "0.1", "bs": "32"}, {"lr": "0.05"}) == {"lr": 0.05, "bs": 32}


@pytest.mark.parametrize("name", ["tuneflows.analysis", "tuneflows.recording.trial_dirs",
                                  "tuneflows.recording.mlflow.runs"])
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
