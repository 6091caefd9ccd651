"""The names of Ray Tune 1.x/2.x that tuneflows offers match Ray Tune's own, checked
against the Ray Tune installed with the ``bench`` extra (ray 2.60): a program written
for ``from ray import tune`` finds each name where it looks for it. No Ray session runs.
"""

from __future__ import annotations

import dataclasses
import doctest
import importlib
import inspect

import pytest
import ray.tune
import ray.tune.schedulers
import ray.tune.search
import ray.tune.stopper

import tuneflows
import tuneflows.stopper
from tuneflows.modern.arguments import REFUSED
from tuneflows.modern.result_grid import Result, ResultGrid

#: Names a program imports from ``ray.tune`` that tuneflows offers at its root.
ROOT_NAMES = ["run", "Tuner", "TuneConfig", "RunConfig", "CheckpointConfig", "FailureConfig",
              "Checkpoint", "get_checkpoint", "report", "with_parameters", "with_resources",
              "ResultGrid", "Result", "ExperimentAnalysis", "Stopper", "Trainable",
              "Experiment", "register_trainable", "run_experiments", "uniform", "loguniform",
              "quniform", "qloguniform", "randint", "randn", "choice", "grid_search",
              "sample_from", "TuneError"]


@pytest.mark.parametrize("name", ROOT_NAMES)
def test_root_names_exist_in_both(name):
    assert hasattr(ray.tune, name) and hasattr(tuneflows, name)


@pytest.mark.parametrize("name", ["TuneConfig", "RunConfig", "CheckpointConfig",
                                  "FailureConfig"])
def test_config_fields_are_ray_tunes(name):
    ours = {f.name for f in dataclasses.fields(getattr(tuneflows, name))}
    theirs = {f.name for f in dataclasses.fields(getattr(ray.tune, name))}
    assert ours <= theirs
    assert {n for n in theirs - ours if not n.startswith("_")} == set()  # none left out


def test_every_argument_of_tune_run_is_taken_or_refused_with_a_reason():
    ours = set(inspect.signature(tuneflows.run).parameters) - {"refused"}
    theirs = {n for n in inspect.signature(ray.tune.run).parameters if not n.startswith("_")}
    assert ours - {"queue_trials"} <= theirs  # queue_trials: Ray Tune 1.x's, gone in 2.x
    assert theirs - ours <= set(REFUSED), sorted(theirs - ours - set(REFUSED))
    with pytest.raises(ValueError, match="callbacks is not supported: tuneflows records"):
        tuneflows.run(lambda config: None, callbacks=[object()])
    with pytest.raises(ValueError, match="unknown argument 'num_sample'"):
        tuneflows.run(lambda config: None, num_sample=2)


def test_tuner_methods_take_ray_tunes_arguments():
    for method in ("restore", "can_restore"):
        ours = set(inspect.signature(getattr(tuneflows.Tuner, method)).parameters)
        theirs = set(inspect.signature(getattr(ray.tune.Tuner, method)).parameters)
        assert ours <= theirs | {"cls"}
        assert {n for n in theirs - ours if not n.startswith("_")} == set()
    assert set(inspect.signature(tuneflows.Tuner.__init__).parameters) - {"refused"} <= set(
        inspect.signature(ray.tune.Tuner.__init__).parameters)


def test_result_grid_and_result_have_ray_tunes_members():
    theirs = {n for n in dir(ray.tune.ResultGrid) if not n.startswith("_")} - {"filesystem"}
    assert theirs <= set(dir(ResultGrid)) | {"experiment_path"}  # an attribute of ours
    for name in ("__len__", "__getitem__", "__iter__"):
        assert hasattr(ResultGrid, name)
    fields = {f.name for f in dataclasses.fields(Result)} | {"metrics_dataframe"}
    assert {"metrics", "config", "checkpoint", "path", "error", "metrics_dataframe",
            "best_checkpoints"} <= fields
    assert set(inspect.signature(ResultGrid.get_best_result).parameters) == set(
        inspect.signature(ray.tune.ResultGrid.get_best_result).parameters)


def test_experiment_analysis_has_the_members_tune_run_programs_use():
    for name in ("best_config", "best_trial", "best_result", "best_logdir", "results_df",
                 "trial_dataframes", "get_best_trial", "get_best_config", "get_all_configs"):
        assert hasattr(ray.tune.ExperimentAnalysis, name) or name == "best_logdir"  # 1.x's
        assert hasattr(tuneflows.ExperimentAnalysis, name)


def test_checkpoint_and_report_signatures():
    for name in ("from_directory", "as_directory", "to_directory"):
        assert hasattr(ray.tune.Checkpoint, name) and hasattr(tuneflows.Checkpoint, name)
    ours = inspect.signature(tuneflows.report).parameters
    theirs = inspect.signature(ray.tune.report).parameters
    assert list(theirs) == ["metrics", "checkpoint"] and {"metrics", "checkpoint"} <= set(ours)
    assert ours["checkpoint"].kind == theirs["checkpoint"].kind == inspect.Parameter.KEYWORD_ONLY


def test_stopper_names():
    ours = set(tuneflows.stopper.__all__)
    assert ours <= set(dir(ray.tune.stopper))
    assert {n for n in dir(ray.tune.stopper) if n.endswith("Stopper")} <= ours


def test_module_paths_of_schedulers_and_searchers():
    from tuneflows.schedulers import ASHAScheduler, AsyncHyperBandScheduler
    from tuneflows.search import BasicVariantGenerator, ConcurrencyLimiter  # noqa: F401
    from tuneflows.search.hyperopt import HyperOptSearch
    from tuneflows.suggest.hyperopt import HyperOptSearch as HyperOptSearch1x

    assert issubclass(ASHAScheduler, AsyncHyperBandScheduler) and HyperOptSearch is HyperOptSearch1x
    for module, name in [("ray.tune.schedulers", "ASHAScheduler"),
                         ("ray.tune.search", "ConcurrencyLimiter"),
                         ("ray.tune.search", "BasicVariantGenerator"),
                         ("ray.tune.search.hyperopt", "HyperOptSearch")]:
        assert hasattr(importlib.import_module(module), name)
    # ASHAScheduler has Ray Tune 2's defaults
    defaults = {n: p.default for n, p in inspect.signature(ASHAScheduler).parameters.items()}
    theirs = inspect.signature(ray.tune.schedulers.ASHAScheduler).parameters
    for name in ("time_attr", "max_t", "grace_period", "reduction_factor", "brackets"):
        assert defaults[name] == theirs[name].default, name


@pytest.mark.parametrize("name", ["tuneflows.modern.launch", "tuneflows.modern.configs",
                                  "tuneflows.modern.arguments", "tuneflows.modern.wrappers",
                                  "tuneflows.checkpoint",
                                  "tuneflows.execution.function_checkpoints"])
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
