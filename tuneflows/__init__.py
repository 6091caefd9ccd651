"""tuneflows: hyperparameter tuning where every experiment is a Prefect flow, every
trial runs on Ray, and MLflow keeps every record. The API is early Ray Tune's:
replace ``ray.tune`` with ``tuneflows``.

Heavy parts (Ray, Prefect, MLflow) load on first use of ``run_experiments``, so the pure
layers (``tuneflows.schedulers``, ``tuneflows.search``) import without them; the packages
that load an engine apply tuneflows' process defaults first
(:mod:`tuneflows.services.process_defaults`).
"""

import importlib
from typing import Any

from tuneflows.error import TuneError
from tuneflows.registry import register_env, register_trainable
from tuneflows.result import TrainingResult
from tuneflows.search.domains import (
    choice, grid_search, loguniform, qloguniform, quniform, randint, randn, sample_from, uniform,
)
from tuneflows.spec import Experiment
from tuneflows.trainable import Trainable
from tuneflows.trial import Trial

_LAZY = {
    "report": ("tuneflows.execution.function_runner", "report"),
    "Analysis": ("tuneflows.analysis", "Analysis"),
    "ExperimentAnalysis": ("tuneflows.analysis", "ExperimentAnalysis"),
    "run_experiments": ("tuneflows.api", "run_experiments"),
    "latest_run_dir": ("tuneflows.runs.run_dirs", "latest_run_dir"),
    "schedulers": ("tuneflows.schedulers", None),
    "search": ("tuneflows.search", None),
    "util": ("tuneflows.execution.pinned_objects", None),
    "hpo_scheduler": ("tuneflows.hpo_scheduler", None),
    "web_server": ("tuneflows.web_server", None),
    # Ray Tune 1.x/2.x: inside a trainable
    "Checkpoint": ("tuneflows.checkpoint", "Checkpoint"),
    "get_checkpoint": ("tuneflows.execution.function_runner", "get_checkpoint"),
    "checkpoint_dir": ("tuneflows.execution.function_runner", "checkpoint_dir"),
    # Ray Tune 1.x/2.x: running experiments (tuneflows/modern/)
    "run": ("tuneflows.modern.run", "run"),
    "Tuner": ("tuneflows.modern.tuner", "Tuner"),
    "TuneConfig": ("tuneflows.modern.configs", "TuneConfig"),
    "RunConfig": ("tuneflows.modern.configs", "RunConfig"),
    "CheckpointConfig": ("tuneflows.modern.configs", "CheckpointConfig"),
    "FailureConfig": ("tuneflows.modern.configs", "FailureConfig"),
    "ResultGrid": ("tuneflows.modern.result_grid", "ResultGrid"),
    "Result": ("tuneflows.modern.result_grid", "Result"),
    "with_parameters": ("tuneflows.modern.wrappers", "with_parameters"),
    "with_resources": ("tuneflows.modern.wrappers", "with_resources"),
    "stopper": ("tuneflows.stopper", None),
    "Stopper": ("tuneflows.stopper", "Stopper"),
    "suggest": ("tuneflows.suggest", None),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'tuneflows' has no attribute {name!r}")
    module_name, attr = _LAZY[name]
    module = importlib.import_module(module_name)
    return getattr(module, attr) if attr else module


__all__ = [
    "Analysis", "Checkpoint", "CheckpointConfig", "Experiment", "ExperimentAnalysis",
    "FailureConfig", "Result", "ResultGrid", "RunConfig", "Stopper", "Trainable", "Trial",
    "TrainingResult", "TuneConfig", "TuneError", "Tuner", "checkpoint_dir", "choice",
    "get_checkpoint", "grid_search", "latest_run_dir", "loguniform", "qloguniform", "quniform",
    "randint", "randn", "register_env", "register_trainable", "report", "run", "run_experiments",
    "sample_from", "uniform", "with_parameters", "with_resources",
]
