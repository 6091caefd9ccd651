"""The seed's ``== Status ==`` block."""

from __future__ import annotations

import io
import os
from contextlib import redirect_stdout

from tuneflows.recording.status_block import StatusDisplay, status_text
from tuneflows.trial import Trial


def _trial(index, status, result=None, **kwargs):
    return Trial(trial_id=f"t{index}", experiment_tag=f"{index}_lr=0.2", config={},
                 trainable_name="train_func", logdir="/x", status=status,
                 last_result=result, **kwargs)


def test_block_matches_the_seed_layout():
    trials = [
        _trial(0, "RUNNING", {"time_total_s": 209.4, "timesteps_total": 20604,
                              "mean_accuracy": 7.29, "training_iteration": 3}, pid=6778),
        _trial(1, "TERMINATED", {"time_total_s": 21.0, "timesteps_total": 2190,
                                 "mean_accuracy": 100.0}, pid=6789,
               status_reason="stopped at rung 9: 0.71 < cutoff 0.78"),
        _trial(2, "ERROR", None, error_file="/x/error.txt", error_msg="ValueError: boom",
               num_failures=4),
    ]
    home = os.path.expanduser("~")
    text = status_text(trials, "Using FIFO scheduling algorithm.", {"cpu": 1, "gpu": 0},
                       {"cpu": 8, "gpu": 0}, os.path.join(home, "ray_results", "exp"),
                       "mean_accuracy", mode="max", elapsed_s=75.2)
    assert text.splitlines() == [
        "== Status ==",
        "Using FIFO scheduling algorithm.",
        "Resources used: 1/8 CPUs, 0/0 GPUs",
        "Result logdir: ~/ray_results/exp",
        "Number of trials: 3 (1 RUNNING, 1 TERMINATED, 1 ERROR) | elapsed 0:01:15",
        "Best trial: train_func_1_lr=0.2 with mean_accuracy=100 (max) at iteration 0",
        " - train_func_0_lr=0.2:  RUNNING [pid=6778], 209 s, 20604 ts, 7.29 acc",
        " - train_func_1_lr=0.2:  TERMINATED [pid=6789], 21 s, 2190 ts, 100 acc "
        "(stopped at rung 9: 0.71 < cutoff 0.78)",
        " - train_func_2_lr=0.2:  ERROR, 4 failures (error: ValueError: boom; see /x/error.txt)",
    ]


def test_many_trials_are_summarised():
    trials = [_trial(i, "TERMINATED", {"x": 1}) for i in range(50)] + [_trial(50, "RUNNING")]
    text = status_text(trials, "s", {}, {}, "/r", max_lines=10)
    assert "Number of trials: 51 (1 RUNNING, 50 TERMINATED)" in text
    lines = text.splitlines()
    assert [line.split(":")[0] for line in lines[-6:]] == [
        f" - train_func_{i}_lr=0.2" for i in (46, 47, 48, 49, 50)] + [" ... 46 more"]
    assert lines[-2].startswith(" - train_func_50_lr=0.2:  RUNNING")
    assert lines[-1] == " ... 46 more: 46 TERMINATED"


def test_thousands_of_ended_trials_without_a_metric_still_show_the_latest():
    trials = [_trial(i, "TERMINATED", {"x": 1}) for i in range(3000)]
    lines = status_text(trials, "s", {}, {}, "/r").splitlines()
    assert [line.split(":")[0] for line in lines[-6:]] == [
        f" - train_func_{i}_lr=0.2" for i in range(2995, 3000)] + [" ... 2995 more"]
    assert lines[-1] == " ... 2995 more: 2995 TERMINATED"


def test_not_a_terminal_prints_throttled_and_final(monkeypatch):
    display = StatusDisplay(verbose=True, interval_s=3600)
    display._is_tty = False
    out = io.StringIO()
    with redirect_stdout(out):
        for i in range(100):
            display.update(f"block {i}", force=True)
        display.close("final")
    assert out.getvalue().splitlines() == ["block 0", "final"]
