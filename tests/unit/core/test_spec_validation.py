"""Bad specs fail before any trial starts, with a message naming the key or value."""

from __future__ import annotations

import os

import pytest

import tuneflows
from tuneflows.spec import Experiment, normalize_experiments


def _train(config, reporter):
    reporter(mean_accuracy=1.0)


@pytest.fixture(autouse=True)
def results_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNE_RESULT_DIR", str(tmp_path))
    return tmp_path


def _run(spec):
    return tuneflows.run_experiments({"exp": spec}, verbose=False)


def test_unknown_key_lists_valid_keys(results_dir):
    with pytest.raises(ValueError) as info:
        _run({"run": _train, "stpo": {"x": 1}})
    assert "'stpo'" in str(info.value) and "checkpoint_freq" in str(info.value)
    assert not os.path.exists(results_dir / "exp")


def test_unknown_trainable_lists_registered():
    tuneflows.register_trainable("known_one", _train)
    with pytest.raises(ValueError) as info:
        _run({"run": "nope"})
    assert "'nope'" in str(info.value) and "known_one" in str(info.value)


@pytest.mark.parametrize("stop", [5, ["mean_accuracy"], {"mean_accuracy": "high"}, {"x": None}])
def test_stop_must_map_keys_to_numbers(stop):
    with pytest.raises(ValueError, match="stop"):
        _run({"run": _train, "stop": stop})


def test_empty_grid_names_the_key():
    with pytest.raises(ValueError, match="lr"):
        _run({"run": _train, "config": {"opt": {"lr": {"grid_search": []}}}})
    with pytest.raises(ValueError, match="empty"):
        tuneflows.grid_search([])


@pytest.mark.parametrize("key", ["repeat", "num_samples"])
@pytest.mark.parametrize("value", [0, -1, 1.5])
def test_samples_below_one(key, value):
    with pytest.raises(ValueError, match=key):
        _run({"run": _train, key: value})


def test_non_callable_run():
    with pytest.raises(ValueError, match="not callable"):
        _run({"run": 42})


def test_missing_run():
    with pytest.raises(ValueError, match="'run'"):
        _run({"config": {}})


def test_unknown_resource():
    with pytest.raises(ValueError, match="'tpu'"):
        _run({"run": _train, "resources_per_trial": {"tpu": 1}})


def test_spellings_are_equivalent():
    seed = Experiment("a", run=_train, repeat=3, trial_resources={"cpu": 2})
    modern = Experiment("a", run=_train, num_samples=3, resources_per_trial={"cpu": 2})
    assert seed.num_samples == modern.num_samples == 3
    assert seed.resources == modern.resources == {"cpu": 2.0, "gpu": 0.0}


def test_normalize_accepts_dict_experiment_and_list():
    exp = Experiment("a", run=_train)
    exps = normalize_experiments([exp, {"b": {"run": _train}}])
    assert [e.name for e in exps] == ["a", "b"]


def test_local_dir_defaults_to_tune_result_dir(results_dir):
    experiment = Experiment("a", run=_train)
    assert experiment.experiment_dir == os.path.join(str(results_dir), "a")
    assert experiment.dir == os.path.join(str(results_dir), "a", experiment.run_id)


def test_restore_must_be_a_checkpoint_directory(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        _run({"run": _train, "restore": str(tmp_path / "missing")})
    (tmp_path / "not_a_checkpoint").mkdir()
    with pytest.raises(ValueError, match="tune_metadata"):
        _run({"run": _train, "restore": str(tmp_path / "not_a_checkpoint")})


def test_keep_checkpoints_num_below_one():
    with pytest.raises(ValueError, match="keep_checkpoints_num"):
        _run({"run": _train, "keep_checkpoints_num": 0})


def test_incompatible_state_file_is_refused(results_dir):
    from tuneflows.runs.state import STATE_FILE

    run_dir = results_dir / "exp" / "2026-12-02_00-31-05_ab12"
    os.makedirs(run_dir)
    (run_dir / STATE_FILE).write_text('{"version": 99}')
    with pytest.raises(tuneflows.TuneError, match="version"):
        tuneflows.run_experiments({"exp": {"run": _train}}, verbose=False, resume=True)
    (run_dir / STATE_FILE).write_bytes(b"garbage")
    with pytest.raises(tuneflows.TuneError, match="Cannot read"):
        tuneflows.run_experiments({"exp": {"run": _train}}, verbose=False, resume=True)


@pytest.mark.parametrize("upload_dir", ["s3://bucket/results", "/mnt/shared"])
def test_upload_dir_is_rejected_by_name(results_dir, upload_dir):
    with pytest.raises(ValueError, match="upload_dir is not supported") as info:
        _run({"run": _train, "upload_dir": upload_dir})
    assert "local_dir" in str(info.value) and "MLflow" in str(info.value)
    assert not os.path.exists(results_dir / "exp")
    with pytest.raises(ValueError, match="upload_dir"):
        Experiment("a", run=_train, upload_dir=upload_dir)


@pytest.mark.parametrize("upload_dir", [None, ""])
def test_upload_dir_left_empty_is_accepted(upload_dir):
    assert Experiment("a", run=_train, upload_dir=upload_dir).upload_dir == upload_dir


@pytest.mark.parametrize("spec, message", [
    ({"config": [1, 2]}, "'config' must be a dict of settings (name: value), got list [1, 2]"),
    ({"config": "lr=0.1"}, "'config' must be a dict of settings (name: value), got str 'lr=0.1'"),
    ({"config": [("lr", 0.1)]}, "'config' must be a dict of settings"),
    ({"keep_checkpoints_num": True}, "'keep_checkpoints_num' must be an integer >= 1, got True"),
    ({"checkpoint_at_end": "no"}, "'checkpoint_at_end' must be True or False, got 'no'"),
    ({"stop": {"acc": float("nan")}}, "'stop' value for 'acc' must be a number (not NaN)"),
    ({"resources_per_trial": {"cpu": float("nan")}},
     "resources_per_trial['cpu'] must be a finite number >= 0, got nan"),
    ({"trial_resources": {"gpu": float("inf")}}, "trial_resources['gpu'] must be a finite number"),
    ({"config": {"net": {"guard": __import__("threading").Lock()}}},
     "config value at 'net/guard' (a lock) cannot be sent to a trial's process"),
])
def test_hardening_probes_name_the_key_before_anything_starts(results_dir, spec, message):
    with pytest.raises(ValueError) as info:
        _run({"run": _train, **spec})
    assert message in str(info.value)
    assert str(info.value).startswith("experiment 'exp': ")
    assert not os.path.exists(results_dir / "exp")


def test_configs_that_can_be_sent_are_accepted():
    import numpy as np

    exp = Experiment("e", _train, config={"a": np.zeros(3), "b": (1, "x"), "f": lambda s: 1,
                                          "g": tuneflows.grid_search([1, 2])})
    assert set(exp.config) == {"a", "b", "f", "g"}
