"""Analysis of a real run: its directory, its MLflow experiment and run_experiments'
return value tell the same trials, best config and histories."""

from __future__ import annotations

import os

import tuneflows
from tuneflows.analysis import Analysis
from tuneflows.model.best_trial import best_trial


def learner(config, reporter):
    for step in range(1, 4):
        reporter(loss=config["lr"] * 10 / step + config["wd"], acc=1 - config["lr"] / step)


def test_directory_mlflow_and_trials_agree(tune_env):
    trials = tuneflows.run_experiments({
        "analysis_run": {
            "run": learner,
            "stop": {"acc": 2.0, "training_iteration": 3},  # acc: the metric, never reached
            "config": {"lr": tuneflows.grid_search([0.3, 0.1, 0.2]), "wd": 0.01},
        }
    }, verbose=0)
    expected = best_trial(trials, "acc", "max")
    run_dir = os.path.dirname(trials[0].logdir)

    from_trials = Analysis.from_trials(trials)  # the metric: the trials' stop criterion
    from_dir = Analysis(run_dir)  # ... the saved state's
    from_mlflow = Analysis.from_mlflow("analysis_run")  # ... the parent run's tags
    for analysis in (from_trials, from_dir, from_mlflow):
        assert (analysis.metric, analysis.mode) == ("acc", "max"), analysis
        assert analysis.best_trial.trial_id == expected.trial_id, analysis
        assert analysis.best_config == {"lr": 0.1, "wd": 0.01}, analysis
        assert analysis.best_result["acc"] == expected.last_result["acc"], analysis
        assert analysis.get_best_config("loss", "min") == {"lr": 0.1, "wd": 0.01}, analysis
        assert [t.trial_id for t in analysis.trials] == [t.trial_id for t in trials], analysis
        assert {t.status for t in analysis.trials} == {"TERMINATED"}, analysis
        history = analysis.trial_history(expected.trial_id)
        assert history["training_iteration"].tolist() == [1, 2, 3], analysis
        assert history["loss"].tolist()[-1] == expected.last_result["loss"], analysis
        frame = analysis.dataframe()
        assert len(frame) == 3 and sorted(frame["config/lr"]) == [0.1, 0.2, 0.3], analysis

    assert from_mlflow.dataframe()["trial_name"].tolist() == [t.name for t in trials]
    assert from_dir.dataframe()["trial_name"].tolist() == [t.name for t in trials]
    assert from_dir.get_best_logdir() == expected.logdir
    experiment_id = trials[0].last_result["experiment_id"]
    assert Analysis.from_mlflow("analysis_run", experiment_id=experiment_id).best_config == \
        from_mlflow.best_config
