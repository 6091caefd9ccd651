"""Hardening probes, run as a careful user would: one driver per experiment directory,
names that reach the filesystem, experiment names that are not directory names."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

import tuneflows
from tuneflows.error import TuneError


def steps(config, reporter):
    for i in range(3):
        reporter(mean_accuracy=i, timesteps_total=i)


def test_a_second_driver_on_one_run_is_refused_naming_the_first(tune_env):
    [first] = tuneflows.run_experiments({"locked": {"run": steps}}, verbose=False)
    directory = tuneflows.latest_run_dir(tune_env, "locked")
    run_id = os.path.basename(directory)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\n"
         "from tuneflows.runs.lock import ExperimentLock\n"
         f"lock = ExperimentLock({directory!r})\n"
         "lock.acquire()\n"
         "print('held', flush=True)\n"
         "time.sleep(60)\n"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(TuneError, match=f"in use by another tuneflows driver \\(pid {holder.pid} on"):
            tuneflows.run_experiments({"locked": {"run": steps}}, verbose=False, resume=run_id)
        # a re-run meanwhile is a run of its own: two drivers never share a run directory
        [rerun] = tuneflows.run_experiments({"locked": {"run": steps}}, verbose=False)
        assert rerun.status == "TERMINATED" and not rerun.logdir.startswith(directory)
    finally:
        holder.kill()
        holder.wait(10)
    # The holder died: its lock is gone with it, and the run can be resumed.
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            [trial] = tuneflows.run_experiments({"locked": {"run": steps}}, verbose=False,
                                                resume=run_id)
            break
        except TuneError:
            time.sleep(0.2)
    assert trial.status == "TERMINATED" and trial.logdir == first.logdir


def test_config_values_with_slashes_make_safe_trial_directories(tune_env):
    trials = tuneflows.run_experiments({"paths": {
        "run": steps,
        "config": {"data": tuneflows.grid_search(["train/a.csv", "../../b.csv", "c\0d"])},
    }}, verbose=False)
    assert [t.status for t in trials] == ["TERMINATED"] * 3
    root = os.path.realpath(tuneflows.latest_run_dir(tune_env, "paths"))
    for trial in trials:
        assert os.path.dirname(os.path.realpath(trial.logdir)) == root
        assert "/" not in os.path.basename(trial.logdir)
    assert sorted(t.config["data"] for t in trials) == ["../../b.csv", "c\0d", "train/a.csv"]


@pytest.mark.parametrize("name", [".", "..", "a/b", "nul\0"])
def test_experiment_names_that_are_not_directory_names_are_rejected(tune_env, name):
    with pytest.raises(ValueError, match="Experiment name must be a non-empty directory name"):
        tuneflows.run_experiments({name: {"run": steps}}, verbose=False)


def reports_nan(config, reporter):
    for i in range(2):
        reporter(loss=float("nan"), acc=float("inf"), step=i)


def _run_log_messages(flow_run_name: str, deadline_s: float = 20.0) -> list[str]:
    """The messages of a flow run's log as the Prefect API has them (logs arrive in
    batches, so wait until one warning is there, up to a deadline)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter, FlowRunFilterName, LogFilter, LogFilterFlowRunId,
    )

    deadline = time.monotonic() + deadline_s
    with get_client(sync_client=True) as client:
        [run] = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[flow_run_name])))
        while True:
            logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])))
            messages = [log.message for log in logs]
            if any("stops on" in m for m in messages) or time.monotonic() > deadline:
                return messages
            time.sleep(0.5)


def test_a_stop_on_a_key_never_reported_warns_and_results_are_strict_json(tune_env):
    import json

    [trial] = tuneflows.run_experiments({"nan": {
        "run": reports_nan, "stop": {"accuracy": 0.9}}}, verbose=False)
    warning = " ".join(_run_log_messages("nan"))
    assert "stops on ['accuracy'], which the trainable does not report" in warning
    assert "'acc'" in warning and "'loss'" in warning

    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")

    with open(os.path.join(trial.logdir, "result.json")) as f:
        rows = [json.loads(line, parse_constant=refuse) for line in f]
    assert [(r["loss"], r["acc"]) for r in rows] == [(None, None), (None, None)]
