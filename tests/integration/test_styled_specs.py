"""The deployable ``tune_spec`` flow runs a YAML spec written in the Tuner's shape (the
seed's shape is ``test_cli_and_pipeline``'s): its scheduler, metric and mode come from
the spec, its settings reach the trials, and the flow returns the best config."""

from __future__ import annotations

import shutil

import tuneflows
from tuneflows.cli.main import read_spec_file


def test_tune_spec_runs_a_spec_in_the_tuners_shape(tune_env, tmp_path):
    from flows.tune_spec import tune_spec

    path = str(tmp_path / "tuner_style.yaml")
    shutil.copy("examples/tuner_style.yaml", path)
    spec, options = read_spec_file(path)
    assert options == {"metric": "mean_accuracy", "mode": "max", "scheduler": "asha"}
    assert spec["tuner_style"]["max_failures"] == 1
    assert spec["tuner_style"]["keep_checkpoints_num"] == 1
    best = tune_spec(path, metric="mean_accuracy", num_samples=1,
                     stop={"training_iteration": 3})
    assert best["lr"] == 0.6  # the faster learner, by the spec's mode (max)
    trials = tuneflows.Analysis(tuneflows.latest_run_dir(tune_env, "tuner_style")).trials
    assert sorted(t.config["lr"] for t in trials) == [0.4, 0.6]
    assert all(0.1 <= t.config["momentum"] <= 0.2 and t.iteration == 3 for t in trials)
    spec, options = read_spec_file("examples/tune_run_style.yaml")
    assert options == {"metric": "mean_accuracy", "mode": "max"}
    assert spec["tune_run_style"]["stop"] == {"mean_accuracy": 99}
