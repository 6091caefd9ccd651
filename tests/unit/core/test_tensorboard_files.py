"""TensorBoard event files per trial, read back as TensorBoard would."""

from __future__ import annotations

import doctest
import os

import pytest

import tuneflows.recording.tensorboard_files as tensorboard_files
from tuneflows.recording.tensorboard_files import TensorBoardLog


def test_doctests():
    result = doctest.testmod(tensorboard_files)
    assert result.attempted > 0 and result.failed == 0


def test_scalars_for_every_numeric_key_against_training_iteration(tmp_path, tensorboard_events):
    log = TensorBoardLog()
    logdir = str(tmp_path / "trial_0")
    rows = [{"training_iteration": i, "mean_accuracy": i / 10, "timesteps_total": 100 * i,
             "info": {"lr_now": 0.5}, "done": False, "hostname": "h", "config": {"lr": 0.1}}
            for i in (1, 2, 3)]
    log.write_results("t0", logdir, rows[:2])
    log.write_results("t0", logdir, rows[2:])
    log.end_trial("t0", {"lr": 0.1, "net": {"layers": [64, 64]}, "act": "relu"}, rows[-1])
    assert len([f for f in os.listdir(logdir) if f.startswith("events.out.tfevents.")]) == 1
    events = tensorboard_events(logdir)
    scalars = events["scalars"]
    accuracy = scalars["ray/tune/mean_accuracy"]  # float32 in the file
    assert [s for s, _ in accuracy] == [1, 2, 3]
    assert [v for _, v in accuracy] == pytest.approx([0.1, 0.2, 0.3])
    assert [v for _, v in scalars["ray/tune/timesteps_total"]] == [100, 200, 300]
    assert [s for s, _ in scalars["ray/tune/info/lr_now"]] == [1, 2, 3]
    assert "ray/tune/done" not in scalars and "ray/tune/hostname" not in scalars
    assert not any(tag.startswith("ray/tune/config") for tag in scalars)
    assert events["hparams"] == {"lr": 0.1, "net/layers": "[64, 64]", "act": "relu"}


def test_unfinished_trials_are_closed_and_trials_without_results_write_nothing(
        tmp_path, tensorboard_events):
    log = TensorBoardLog()
    log.write_results("t1", str(tmp_path / "t1"), [{"training_iteration": 1, "loss": 2.0}])
    log.end_trial("t2", {"lr": 1}, None)  # never reported
    log.close()
    assert tensorboard_events(str(tmp_path / "t1"))["scalars"]["ray/tune/loss"] == [(1, 2.0)]
    assert not (tmp_path / "t2").exists()
