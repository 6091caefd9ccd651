"""YAML specs in the shapes of ``tune.run`` and of the ``Tuner``, as the seed's spec
(experiment name to settings) and the options of ``run_experiments``: what lets
``tuneflows run SPEC`` and the ``tune-spec`` deployment flow run a spec in any of the
three styles.

``tune.run``'s shape: its keyword arguments, the trainable as ``run_or_experiment``::

    run_or_experiment: mymodule:train
    name: my_exp
    metric: loss
    mode: min
    num_samples: 4
    scheduler: asha
    config: {lr: {loguniform: [0.001, 0.1]}}

The Tuner's shape: ``trainable``, ``param_space`` and the two configs::

    trainable: mymodule:train
    param_space: {lr: {loguniform: [0.001, 0.1]}}
    tune_config: {metric: loss, mode: min, num_samples: 4, search_alg: hyperopt}
    run_config: {name: my_exp, stop: {training_iteration: 10},
                 failure_config: {max_failures: 1}, checkpoint_config: {num_to_keep: 2}}

Schedulers and searchers are named (``asha``, ``hyperopt``...), built with the metric and
mode; ``max_failures`` defaults to 0, as in Ray Tune.

Example:
    >>> spec, options = to_seed_spec({"trainable": "m:f", "param_space": {"lr": 0.1},
    ...     "tune_config": {"metric": "loss", "mode": "min", "num_samples": 2},
    ...     "run_config": {"name": "e", "stop": {"done": True, "training_iteration": 3}}})
    >>> spec["e"]["run"], spec["e"]["num_samples"], spec["e"]["stop"], spec["e"]["max_failures"]
    ('m:f', 2, {'training_iteration': 3}, 0)
    >>> options
    {'metric': 'loss', 'mode': 'min'}
    >>> to_seed_spec({"my_exp": {"run": "m:f"}}) is None
    True
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from tuneflows.modern.launch import split_stop, trainable_name, verbosity

#: Settings of either shape that become ``run_experiments`` options.
OPTIONS = ("metric", "mode", "scheduler", "search_alg", "max_concurrent_trials")
#: Settings a YAML spec cannot give here (they need ``tuneflows.run`` or ``Tuner``).
NOT_IN_YAML = {
    "time_budget_s": "a time budget",
    "fail_fast": "fail_fast",
}
_SEED_KEYS = {"config", "num_samples", "resources_per_trial", "checkpoint_freq",
              "checkpoint_at_end", "keep_checkpoints_num", "checkpoint_score_attr",
              "max_failures", "restore"}


def to_seed_spec(document: Mapping[str, Any]) -> Optional[tuple[dict[str, Any], dict[str, Any]]]:
    """The seed's spec and the ``run_experiments`` options of a document in
    ``tune.run``'s or the Tuner's shape; None for a spec in the seed's shape.

    Raises:
        ValueError: A setting unknown to the shape, or one a YAML spec cannot give.
    """
    if "trainable" in document:
        return _one(_flatten_tuner(document), "Tuner spec")
    if "run_or_experiment" in document:
        flat = dict(document)
        flat["run"] = flat.pop("run_or_experiment")
        return _one(flat, "tune.run spec")
    return None


def _flatten_tuner(document: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(document) - {"trainable", "param_space", "tune_config", "run_config"}
    if unknown:
        raise ValueError(f"Tuner spec: unknown key(s) {sorted(unknown)}; expected trainable, "
                         f"param_space, tune_config, run_config.")
    tune = dict(document.get("tune_config") or {})
    run = dict(document.get("run_config") or {})
    checkpoints = dict(run.pop("checkpoint_config", None) or {})
    failures = dict(run.pop("failure_config", None) or {})
    flat: dict[str, Any] = {"run": document["trainable"], **tune, **run, **failures}
    if "param_space" in document:
        flat["config"] = document["param_space"]
    renamed = {"num_to_keep": "keep_checkpoints_num", "checkpoint_frequency": "checkpoint_freq",
               "checkpoint_at_end": "checkpoint_at_end"}
    for key, value in checkpoints.items():
        if key == "checkpoint_score_attribute":
            order = checkpoints.get("checkpoint_score_order", "max")
            flat["checkpoint_score_attr"] = ("min-" if order == "min" else "") + value
        elif key in renamed:
            flat[renamed[key]] = value
        elif key != "checkpoint_score_order":
            raise ValueError(f"Tuner spec: run_config.checkpoint_config has unknown key {key!r}.")
    return flat


def _one(flat: dict[str, Any], where: str) -> tuple[dict[str, Any], dict[str, Any]]:
    for key, what in NOT_IN_YAML.items():
        if flat.get(key):
            raise ValueError(f"{where}: {key} ({what}) is not taken by a YAML spec; run the "
                             f"program with tuneflows.run or tuneflows.Tuner instead.")
    options = {key: flat.pop(key) for key in OPTIONS if flat.get(key) is not None}
    run = flat.pop("run")
    name = flat.pop("name", None) or trainable_name(run).rpartition(":")[2]
    settings: dict[str, Any] = {"run": run, "max_failures": 0}
    local_dir = flat.pop("storage_path", None) or flat.pop("local_dir", None)
    if local_dir:
        settings["local_dir"] = local_dir
    stop, stopper = split_stop(flat.pop("stop", None))
    if stopper is not None:
        raise ValueError(f"{where}: stop must be a mapping of result key to threshold.")
    if stop:
        settings["stop"] = stop
    if flat.get("verbose") is not None:
        options["verbose"] = verbosity(flat.pop("verbose"))
    flat.pop("reuse_actors", None)  # accepted either way: actors are always reused
    unknown = sorted(set(flat) - _SEED_KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown or unsupported key(s) {unknown}.")
    settings.update(flat)
    return {name: settings}, options
