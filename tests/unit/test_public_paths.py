"""Every import path users have (the public API, the seed-era module paths, the
``tuneflows`` command) keeps working whatever moves inside the package: each is
imported here exactly as a user writes it."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

# (module, names) as programs import them.
PUBLIC = [
    ("tuneflows", ["run_experiments", "register_trainable", "Experiment", "Trainable", "Trial",
                   "TuneError", "report", "grid_search", "sample_from", "uniform", "loguniform",
                   "choice", "randint", "randn", "quniform", "qloguniform", "Analysis",
                   "ExperimentAnalysis", "latest_run_dir"]),
    ("tuneflows.api", ["run_experiments"]),
    ("tuneflows.analysis", ["Analysis", "ExperimentAnalysis"]),
    ("tuneflows.error", ["TuneError"]),
    ("tuneflows.result", ["TrainingResult", "TRAINING_ITERATION", "TIMESTEPS_TOTAL",
                          "EARLY_STOPPED"]),
    ("tuneflows.trial", ["Trial", "PENDING", "RUNNING", "PAUSED", "TERMINATED", "ERROR"]),
    ("tuneflows.trainable", ["Trainable"]),
    ("tuneflows.registry", ["register_trainable", "get_trainable"]),
    ("tuneflows.spec", ["Experiment"]),
    # seed-era module paths (ray.tune.<module> of Ray Tune 0.5)
    ("tuneflows.async_hyperband", ["AsyncHyperBandScheduler"]),
    ("tuneflows.hyperband", ["HyperBandScheduler"]),
    ("tuneflows.median_stopping_rule", ["MedianStoppingRule"]),
    ("tuneflows.pbt", ["PopulationBasedTraining"]),
    ("tuneflows.hpo_scheduler", ["HyperOptScheduler"]),
    ("tuneflows.trial_scheduler", ["FIFOScheduler", "TrialScheduler"]),
    ("tuneflows.variant_generator", ["generate_variants", "grid_search", "BasicVariantGenerator"]),
    ("tuneflows.suggest", ["HyperOptSearch", "BasicVariantGenerator", "ConcurrencyLimiter",
                           "Searcher"]),
    ("tuneflows.web_server", ["TuneClient", "TuneServer", "TuneClientError"]),
    ("tuneflows.util", ["pin_in_object_store", "get_pinned_object"]),
    ("tuneflows.schedulers", ["FIFOScheduler", "AsyncHyperBandScheduler", "HyperBandScheduler",
                              "MedianStoppingRule", "PopulationBasedTraining",
                              "HyperOptScheduler", "TrialScheduler", "create_scheduler"]),
    ("tuneflows.search", ["HyperOptSearch", "BasicVariantGenerator", "ConcurrencyLimiter",
                          "Searcher", "create_searcher"]),
    ("tuneflows.cli", ["main"]),
    # Ray Tune 1.x/2.x's paths (ray.tune.<name>, ray.tune.<module>)
    ("tuneflows", ["run", "Tuner", "TuneConfig", "RunConfig", "CheckpointConfig",
                   "FailureConfig", "ResultGrid", "Result", "Checkpoint", "get_checkpoint",
                   "checkpoint_dir", "with_parameters", "with_resources", "Stopper"]),
    ("tuneflows.stopper", ["Stopper", "MaximumIterationStopper", "TrialPlateauStopper",
                           "ExperimentPlateauStopper", "TimeoutStopper", "CombinedStopper",
                           "FunctionStopper", "NoopStopper"]),
    ("tuneflows.schedulers", ["ASHAScheduler"]),
    ("tuneflows.search.hyperopt", ["HyperOptSearch"]),
    ("tuneflows.suggest.hyperopt", ["HyperOptSearch"]),
]


@pytest.mark.parametrize("module,names", PUBLIC, ids=[m for m, _ in PUBLIC])
def test_public_names_import_where_users_import_them(module, names):
    imported = importlib.import_module(module)
    missing = [name for name in names if not hasattr(imported, name)]
    assert missing == []


def test_the_console_script_points_at_the_cli():
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["tuneflows"] == "tuneflows.cli:main"


def test_python_dash_m_tuneflows_cli_runs():
    out = subprocess.run([sys.executable, "-m", "tuneflows.cli", "--help"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and "usage: tuneflows" in out.stdout
