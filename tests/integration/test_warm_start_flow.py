"""Warm start, for real: the second run of an experiment reads the first run's best trials
back from MLflow and TPE starts from them."""

from __future__ import annotations

import os

import tuneflows
from tuneflows.recording.mlflow.runs import parent_runs, tracking_client
from tuneflows.search import HyperOptSearch, uniform


def bowl(config, reporter):
    reporter(loss=(config["x"] - 0.7) ** 2)


def run(searcher, local_dir, **kwargs):
    return tuneflows.run_experiments({
        "warm_bowl": {"run": bowl, "num_samples": 4, "stop": {"training_iteration": 1},
                      "local_dir": local_dir},
    }, search_alg=searcher, metric="loss", mode="min", verbose=0, **kwargs)


def test_the_second_run_starts_from_the_first_runs_best_trials(tune_env):
    first_searcher = HyperOptSearch({"x": uniform(0, 1)}, random_state_seed=0, n_initial_points=2)
    first = run(first_searcher, tune_env, warm_start="previous")
    assert len(first) == 4 and len(first_searcher.get_state()["settled"]) == 4  # it started cold

    # Same experiment, same results directory: a run of its own beside the first.
    first_run = tuneflows.latest_run_dir(tune_env, "warm_bowl")
    second_searcher = HyperOptSearch({"x": uniform(0, 1)}, random_state_seed=1, n_initial_points=2)
    second = run(second_searcher, tune_env, warm_start="previous", warm_start_trials=3)
    second_run = tuneflows.latest_run_dir(tune_env, "warm_bowl")
    assert second_run > first_run and os.path.dirname(second_run) == os.path.dirname(first_run)
    assert all(t.logdir.startswith(second_run) for t in second)
    settled = second_searcher.get_state()["settled"]  # (tid, trial id, misc, result, ...)
    assert len(second) == 4 and len(settled) == 3 + 4
    best_three = sorted(t.last_result["loss"] for t in first)[:3]
    told = sorted(record[3]["metric_value"] for record in settled[:3])
    assert told == best_three  # the previous run's best, with their results
    told_xs = sorted(record[2]["vals"]["x"][0] for record in settled[:3])
    assert told_xs == sorted(t.config["x"] for t in first
                             if t.last_result["loss"] in best_three)
    assert {t.config["x"] for t in second}.isdisjoint(told_xs)  # not run again

    # The second parent run says where it started from; each names its run directory.
    client = tracking_client()
    older, newer = reversed(parent_runs(client, "warm_bowl"))
    assert newer.data.tags["tuneflows.warm_start.parent_run_id"] == older.info.run_id
    assert newer.data.tags["tuneflows.warm_start.trials"] == "3"
    assert "tuneflows.warm_start.parent_run_id" not in older.data.tags  # it started cold
    assert [r.data.tags["tuneflows.run_id"] for r in (older, newer)] == [
        os.path.basename(first_run), os.path.basename(second_run)]
