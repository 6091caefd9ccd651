"""Every public name of Ray Tune 0.5.0's modules, and which ones tuneflows provides under
the same path (``ray.tune`` → ``tuneflows``).

``WHEEL_NAMES`` was taken from the release itself, ``ray-0.5.0-cp36-cp36m-manylinux1_x86_64.whl``
(``pip download ray==0.5.0 --no-deps --only-binary=:all: --python-version 3.6 --platform
manylinux1_x86_64``): each top-level class, function and assignment without a leading ``_``
in ``ray/tune/*.py``, and what ``ray/tune/__init__.py`` re-exports. ``NOT_PROVIDED`` says
why a name has no tuneflows counterpart (none of them is imported by the seed's example
programs, its Client API notebook or the public-API classes of its
``python/ray/tune/test/trial_runner_test.py``); /work/notes/seed-names.md has the table.
"""

from __future__ import annotations

import importlib

import pytest

WHEEL_NAMES = {
    "__init__": ["TuneError", "run_experiments", "Experiment", "register_env",
                 "register_trainable", "TrainingResult", "Trainable", "grid_search"],
    "async_hyperband": ["AsyncHyperBandScheduler"],
    "cluster_info": ["get_ssh_user", "get_ssh_key"],
    "config_parser": ["json_to_resources", "resources_to_json", "make_parser"],
    "error": ["TuneError", "TuneManagerError"],
    "experiment": ["Experiment"],
    "function_runner": ["StatusReporter", "DEFAULT_CONFIG", "FunctionRunner"],
    "hpo_scheduler": ["HyperOptScheduler"],
    "hyperband": ["HyperBandScheduler", "Bracket"],
    "log_sync": ["S3_PREFIX", "GCS_PREFIX", "ALLOWED_REMOTE_PREFIXES", "get_syncer",
                 "wait_for_log_sync"],
    "logger": ["Logger", "UnifiedLogger", "NoopLogger", "to_tf_values", "pretty_print"],
    "median_stopping_rule": ["MedianStoppingRule"],
    "pbt": ["PBT_QUANTILE", "PBTTrialState", "explore", "make_experiment_tag",
            "PopulationBasedTraining"],
    "registry": ["TRAINABLE_CLASS", "ENV_CREATOR", "RLLIB_MODEL", "RLLIB_PREPROCESSOR",
                 "KNOWN_CATEGORIES", "register_trainable", "register_env"],
    "result": ["DEFAULT_RESULTS_DIR", "TrainingResult"],
    "trainable": ["Trainable", "wrap_function"],
    "trial": ["DEBUG_PRINT_INTERVAL", "MAX_LEN_IDENTIFIER", "date_str", "Resources",
              "has_trainable", "Trial"],
    "trial_runner": ["MAX_DEBUG_TRIALS", "TrialRunner"],
    "trial_scheduler": ["TrialScheduler", "FIFOScheduler"],
    "tune": ["run_experiments"],
    "util": ["PINNED_OBJECT_PREFIX", "pin_in_object_store", "get_pinned_object"],
    "variant_generator": ["to_argv", "generate_trials", "generate_variants", "grid_search",
                          "RecursiveDependencyError"],
    "visual_utils": ["load_results_to_df", "generate_plotly_dim_dict"],
    "web_server": ["TuneClient", "RunnerHandler", "TuneServer"],
}

#: (module, name) -> why tuneflows has no counterpart; a module's "*" covers all its names.
NOT_PROVIDED = {
    ("cluster_info", "*"): "log-sync plumbing (upload_dir is refused)",
    ("config_parser", "*"): "the seed's argparse spec parser",
    ("error", "TuneManagerError"): "raised by the seed's web server only",
    ("function_runner", "*"): "tuneflows.execution.function_runner runs functions",
    ("hyperband", "Bracket"): "HyperBand's internal bookkeeping",
    ("log_sync", "*"): "upload_dir is refused; MLflow shares results",
    ("logger", "*"): "the driver records (trial files, TensorBoard, MLflow)",
    ("pbt", "PBT_QUANTILE"): "PBT internals",
    ("pbt", "PBTTrialState"): "PBT internals",
    ("pbt", "explore"): "PBT internals (tuneflows.schedulers.pbt_explore)",
    ("pbt", "make_experiment_tag"): "PBT internals",
    ("registry", "TRAINABLE_CLASS"): "keys of the seed's private key-value registry",
    ("registry", "ENV_CREATOR"): "keys of the seed's private key-value registry",
    ("registry", "RLLIB_MODEL"): "keys of the seed's private key-value registry",
    ("registry", "RLLIB_PREPROCESSOR"): "keys of the seed's private key-value registry",
    ("registry", "KNOWN_CATEGORIES"): "keys of the seed's private key-value registry",
    ("trainable", "wrap_function"): "tuneflows wraps functions in its execution layer",
    ("trial", "DEBUG_PRINT_INTERVAL"): "the seed's trial runner internals",
    ("trial", "MAX_LEN_IDENTIFIER"): "the seed's trial runner internals",
    ("trial", "date_str"): "the seed's trial runner internals",
    ("trial", "has_trainable"): "the seed's trial runner internals",
    ("trial_runner", "*"): "no step-wise runner: a Prefect flow runs the loop",
    ("tune", "*"): "run_experiments is tuneflows.run_experiments",
    ("util", "PINNED_OBJECT_PREFIX"): "internal",
    ("variant_generator", "to_argv"): "argparse plumbing of the seed's spec parser",
    ("visual_utils", "*"): "tuneflows.Analysis and MLflow",
    ("web_server", "RunnerHandler"): "the seed's HTTP handler class",
}

#: What the seed's programs and tests import (example programs, the Client API notebook,
#: trial_runner_test.py's public-API classes), module -> names.
IMPORTED_BY_THE_ORIGINALS = {
    "__init__": ["Trainable", "TrainingResult", "TuneError", "register_env",
                 "register_trainable", "run_experiments", "grid_search"],
    "async_hyperband": ["AsyncHyperBandScheduler"],
    "hyperband": ["HyperBandScheduler"],
    "pbt": ["PopulationBasedTraining"],
    "hpo_scheduler": ["HyperOptScheduler"],
    "web_server": ["TuneClient"],
    "result": ["DEFAULT_RESULTS_DIR", "TrainingResult"],
    "util": ["pin_in_object_store", "get_pinned_object"],
    "experiment": ["Experiment"],
    "trial": ["Trial", "Resources"],
    "variant_generator": ["generate_trials", "grid_search", "RecursiveDependencyError"],
}


def _provided(module: str, name: str) -> bool:
    return (module, name) not in NOT_PROVIDED and (module, "*") not in NOT_PROVIDED


def _resolve(module: str, name: str):
    path = "tuneflows" if module == "__init__" else f"tuneflows.{module}"
    return getattr(importlib.import_module(path), name)


PROVIDED = [(m, n) for m, names in WHEEL_NAMES.items() for n in names if _provided(m, n)]


@pytest.mark.parametrize("module,name", PROVIDED, ids=[f"{m}.{n}" for m, n in PROVIDED])
def test_each_provided_seed_name_resolves_under_its_seed_path(module, name):
    assert _resolve(module, name) is not None


def test_the_exceptions_name_only_wheel_names():
    for module, name in NOT_PROVIDED:
        assert module in WHEEL_NAMES and (name == "*" or name in WHEEL_NAMES[module])


def test_every_name_the_originals_import_is_provided():
    for module, names in IMPORTED_BY_THE_ORIGINALS.items():
        for name in names:
            assert name in WHEEL_NAMES[module], (module, name)
            assert _provided(module, name), (module, name)
            _resolve(module, name)


def test_the_package_and_its_modules_export_the_same_objects():
    import tuneflows
    from tuneflows import experiment, registry, result, variant_generator

    assert tuneflows.TrainingResult is result.TrainingResult
    assert tuneflows.Experiment is experiment.Experiment
    assert tuneflows.register_env is registry.register_env
    assert tuneflows.grid_search is variant_generator.grid_search
    assert {"TrainingResult", "register_env"} <= set(tuneflows.__all__)
