"""The ``tuneflows`` CLI and the deployable ``tune_spec`` pipeline flow, for real."""

from __future__ import annotations

import json
import os

import pytest

import tuneflows
from tuneflows.cli import main

SPEC = """
{name}:
  run: flows.quickstart:train_func
  stop: {{mean_accuracy: 99}}
  config:
    lr: {{grid_search: [0.4, 0.6]}}
    momentum: 0.1
"""


def _write_spec(tmp_path, name: str) -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(SPEC.format(name=name))
    return str(path)


def test_cli_runs_a_yaml_spec(tune_env, tmp_path):
    assert main(["run", _write_spec(tmp_path, "cli_spec")]) == 0
    exp_dir = tuneflows.latest_run_dir(tune_env, "cli_spec")
    params = sorted(
        json.load(open(os.path.join(exp_dir, d, "params.json")))["lr"]
        for d in os.listdir(exp_dir) if os.path.isdir(os.path.join(exp_dir, d))
    )
    assert params == [0.4, 0.6]


def test_cli_resume_of_a_finished_experiment_reruns_nothing(tune_env, tmp_path):
    spec = _write_spec(tmp_path, "cli_resume")
    assert main(["run", spec]) == 0
    exp_dir = tuneflows.latest_run_dir(tune_env, "cli_resume")
    sizes = {d: os.path.getsize(os.path.join(exp_dir, d, "result.json"))
             for d in os.listdir(exp_dir) if os.path.isdir(os.path.join(exp_dir, d))}
    assert main(["resume", exp_dir]) == 0
    assert {d: os.path.getsize(os.path.join(exp_dir, d, "result.json")) for d in sizes} == sizes
    # re-running the spec is a new run beside it, as re-running a seed-era script was
    assert main(["run", spec]) == 0
    assert tuneflows.latest_run_dir(tune_env, "cli_resume") != exp_dir


def test_cli_rejects_a_spec_that_is_not_a_mapping(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("- just\n- a list\n")
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert "mapping of experiment name" in err and "Traceback" not in err
    with pytest.raises(ValueError, match="mapping of experiment name"):
        main(["--debug", "run", str(path)])


def test_cli_lists_experiments_and_prints_the_best_config(tune_env, tmp_path, capsys):
    spec = _write_spec(tmp_path, "cli_best")
    assert main(["run", spec, "--scheduler", "asha", "--metric", "mean_accuracy",
                 "--mode", "max", "--num-samples", "1"]) == 0
    capsys.readouterr()
    assert main(["ls", tune_env]) == 0
    lines = capsys.readouterr().out.splitlines()
    heading = lines.index("cli_best  (1 run)")
    run_line = lines[heading + 1]
    assert run_line.split()[0] == os.path.basename(tuneflows.latest_run_dir(tune_env, "cli_best"))
    assert "finished" in run_line and "2 trials (2 TERMINATED)" in run_line
    assert "best mean_accuracy=" in run_line
    run_dir = tuneflows.latest_run_dir(tune_env, "cli_best")
    for target in (os.path.join(tune_env, "cli_best"), "cli_best"):  # a directory, a name
        assert main(["best", target]) == 0
        out, err = capsys.readouterr()
        best = json.loads(out)
        assert best["momentum"] == 0.1 and best["lr"] in (0.4, 0.6)
        assert f"cli_best run {os.path.basename(run_dir)}: best trial " in err
    uri = "sqlite:///" + str(tmp_path / "copy.db")
    assert main(["sync-mlflow", "cli_best", "--tracking-uri", uri]) == 0
    assert f"Synced 2 trial(s) of experiment 'cli_best' from {run_dir} to MLflow at {uri}" in \
        capsys.readouterr().out


def test_tune_spec_flow_returns_the_best_config_as_a_pipeline_step(tune_env, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    from flows.tune_spec import tune_spec

    best = tune_spec(_write_spec(tmp_path, "pipeline_spec"), metric="training_iteration", mode="min")
    assert best == {"lr": 0.6, "momentum": 0.1}  # the fastest learner needs fewest iterations
    with get_client(sync_client=True) as client:
        [child] = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=["pipeline_spec"])))
    assert child.state.is_completed() and child.parent_task_run_id is not None


def _two_steps(config, reporter):
    for step in range(1, 3):
        reporter(mean_accuracy=step * config["lr"])


def test_a_retried_flow_run_continues_the_run_it_started(tune_env):
    from prefect import flow

    from tuneflows.runs.run_dirs import read_run_file, run_dirs

    attempts = []

    @flow(retries=1, retry_delay_seconds=0)
    def pipeline() -> str:
        trials = tuneflows.run_experiments(
            {"retried_pipeline": {"run": _two_steps, "config": {"lr": 0.5}}}, verbose=0)
        attempts.append(os.path.dirname(trials[0].logdir))
        if len(attempts) == 1:
            raise RuntimeError("a later step of the pipeline failed")
        return attempts[-1]

    run_dir = pipeline()
    assert attempts == [run_dir, run_dir]  # the retry went back to its run, not a new one
    assert run_dirs(os.path.join(tune_env, "retried_pipeline")) == [run_dir]
    assert read_run_file(run_dir)["flow_run_id"]
    # a new flow run is a new run
    [trial] = tuneflows.run_experiments(
        {"retried_pipeline": {"run": _two_steps, "config": {"lr": 0.5}}}, verbose=0)
    assert os.path.dirname(trial.logdir) != run_dir


def test_cli_resume_keeps_the_metric_and_display_the_run_was_given(tune_env, capsys):
    from flows.quickstart import train_func

    spec = {"cli_metric": {"run": train_func, "stop": {"mean_accuracy": 99},
                           "config": {"lr": tuneflows.grid_search([0.4, 0.6]), "momentum": 0.1}}}
    tuneflows.run_experiments(spec, metric="timesteps_total", mode="min", verbose=0)
    exp_dir = tuneflows.latest_run_dir(tune_env, "cli_metric")
    from tuneflows.runs.state import load_state

    assert (load_state(exp_dir).metric, load_state(exp_dir).mode) == ("timesteps_total", "min")
    capsys.readouterr()
    assert main(["resume", exp_dir]) == 0
    assert (load_state(exp_dir).metric, load_state(exp_dir).mode) == ("timesteps_total", "min")
    out = capsys.readouterr().out  # verbose=0, as the run was started: no status block
    assert out.startswith("Resuming run ") and "== Status ==" not in out, out[-2000:]
