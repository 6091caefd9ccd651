"""The run-directory rules: naming a run, which run a re-run, a resume or a retried
flow run goes to, and finding an experiment's runs on disk (files only: no Ray,
Prefect or MLflow)."""

import os
import random
from datetime import datetime

import pytest

from tuneflows.runs.lock import ExperimentLock
from tuneflows.runs.state import ExperimentState, save_state
from tuneflows.orchestration.resume import saved_state_to_resume
from tuneflows.model.run_ids import is_run_id, new_run_id
from tuneflows.runs.run_dirs import (
    RunInfo, choose_run, find_run_dir, latest_run_dir, read_run,
    resolve_run_dir, run_dirs, write_run_file,
)
from tuneflows.spec import Experiment

OLD, MIDDLE, NEW = ("2025-06-01_03-00-00_0001", "2025-06-02_03-00-00_0001",
                    "2025-06-03_03-00-00_0001")


def test_run_ids_are_timestamps_that_sort_in_creation_order():
    now = datetime(2026, 12, 2, 0, 31, 5)
    first = new_run_id(now, rng=random.Random(1))
    assert first.startswith("2026-12-02_00-31-05_") and is_run_id(first)
    ids = [first]
    for seed in range(20):  # the same second, over and over: each sorts after the last
        ids.append(new_run_id(now, ids, rng=random.Random(seed)))
    assert sorted(ids) == ids and len(set(ids)) == len(ids)
    assert new_run_id(datetime(2026, 12, 2, 0, 31, 6), ids) > ids[-1]
    assert not is_run_id("train_0_lr=0.1") and not is_run_id("2026-12-02_00-31-05_AB12")


def test_a_rerun_starts_a_new_run_whatever_the_old_runs_hold():
    runs = [RunInfo(OLD, finished=True), RunInfo(MIDDLE, finished=False)]
    assert choose_run(runs, resume=False) is None
    assert choose_run([], resume="AUTO") is None and choose_run([], resume=True) is None


def test_resume_continues_the_newest_unfinished_run_no_driver_holds():
    runs = [RunInfo(OLD, finished=False), RunInfo(MIDDLE, finished=False, in_use=True),
            RunInfo(NEW, finished=True), RunInfo("2025-06-04_03-00-00_0001", has_state=False)]
    assert choose_run(runs, resume=True).run_id == OLD
    assert choose_run(runs, resume="AUTO").run_id == OLD
    assert choose_run(runs[1:], resume="AUTO") is None  # all finished, running or empty


def test_errored_only_takes_the_newest_run_even_finished_and_needs_one():
    runs = [RunInfo(OLD, finished=False), RunInfo(NEW, finished=True)]
    assert choose_run(runs, resume="ERRORED_ONLY").run_id == NEW
    with pytest.raises(ValueError, match="ERRORED_ONLY.*no run"):
        choose_run([RunInfo(NEW, in_use=True)], resume="ERRORED_ONLY")


def test_a_retried_flow_run_continues_its_own_run_even_when_it_finished():
    runs = [RunInfo(OLD, flow_run_id="a", finished=True),
            RunInfo(MIDDLE, flow_run_id="b", finished=False)]
    assert choose_run(runs, resume=False, flow_run_id="a", retrying=True).run_id == OLD
    # its first attempt: a new run, even though a run of another flow run is unfinished
    assert choose_run(runs, resume=False, flow_run_id="a", retrying=False) is None
    # a retry whose first attempt left no run: the resume rules apply
    assert choose_run(runs, resume=False, flow_run_id="c", retrying=True) is None
    assert choose_run(runs, resume="AUTO", flow_run_id="c", retrying=True).run_id == MIDDLE


def _run_dir(root, name, run_id, finished, flow_run_id=None):
    directory = os.path.join(root, name, run_id)
    os.makedirs(directory)
    trials = [{"trial_id": "t1", "status": "TERMINATED" if finished else "RUNNING",
               "trainable_name": "<lambda>"}]  # the trainable of the experiments below
    save_state(directory, ExperimentState("e-" + run_id, trials=trials, trial_order=["t1"],
                                          searcher_done=finished))
    write_run_file(directory, run_id, flow_run_id)
    return directory


def test_runs_are_read_back_from_their_directories(tmp_path):
    root = str(tmp_path)
    old = _run_dir(root, "exp", OLD, finished=True, flow_run_id="f1")
    new = _run_dir(root, "exp", NEW, finished=False)
    os.makedirs(os.path.join(root, "exp", "not-a-run"))
    assert run_dirs(os.path.join(root, "exp")) == [old, new]
    assert read_run(old) == RunInfo(OLD, has_state=True, finished=True, flow_run_id="f1")
    assert latest_run_dir(root, "exp") == new
    lock = ExperimentLock(new)
    lock.acquire()
    try:
        assert read_run(new).in_use
    finally:
        lock.release()
    with pytest.raises(ValueError, match="'other' has no run"):
        latest_run_dir(root, "other")


def test_an_experiment_directory_resolves_to_its_newest_or_newest_unfinished_run(tmp_path):
    root = str(tmp_path)
    unfinished = _run_dir(root, "exp", OLD, finished=False)
    finished = _run_dir(root, "exp", NEW, finished=True)
    experiment_dir = os.path.join(root, "exp")
    assert resolve_run_dir(experiment_dir) == finished
    assert resolve_run_dir(experiment_dir, unfinished=True) == unfinished
    assert resolve_run_dir(finished) == finished  # a run directory is itself
    os.remove(os.path.join(unfinished, "experiment_state.json"))
    with pytest.raises(ValueError, match="Every run of .* has finished"):
        resolve_run_dir(experiment_dir, unfinished=True)


def test_saved_state_to_resume_points_the_experiment_at_its_run(tmp_path):
    root = str(tmp_path)
    experiment = Experiment("exp", run=lambda config, reporter: None, local_dir=root)
    unfinished = _run_dir(root, "exp", OLD, finished=False)
    _run_dir(root, "exp", MIDDLE, finished=True)
    assert saved_state_to_resume(experiment, "AUTO").experiment_id == "e-" + OLD
    assert experiment.dir == unfinished
    assert saved_state_to_resume(experiment, False) is None
    assert experiment.run_id > MIDDLE and experiment.dir.startswith(os.path.join(root, "exp"))
    assert saved_state_to_resume(experiment, MIDDLE).experiment_id == "e-" + MIDDLE
    with pytest.raises(ValueError, match="no run '2025-06-09_03-00-00_0001'"):
        saved_state_to_resume(experiment, "2025-06-09_03-00-00_0001")
    with pytest.raises(ValueError, match="resume must be one of"):
        saved_state_to_resume(experiment, "sometimes")


def test_a_command_line_target_is_a_run_an_experiment_dir_or_an_experiment_name(tmp_path,
                                                                                monkeypatch):
    root = str(tmp_path / "results")
    old = _run_dir(root, "exp", OLD, finished=False)
    new = _run_dir(root, "exp", NEW, finished=True)
    monkeypatch.chdir(tmp_path)
    assert find_run_dir("exp", root) == new  # a name under the results directory
    assert find_run_dir("exp", root, unfinished=True) == old
    assert find_run_dir(os.path.join(root, "exp"), "/elsewhere") == new
    assert find_run_dir(old, "/elsewhere") == old
    assert find_run_dir(os.path.join("results", "exp"), "/elsewhere") == new  # relative path
    with pytest.raises(ValueError, match="'other' is not a directory, nor an experiment under"):
        find_run_dir("other", root)
