"""StateWriter: the experiment state file as the runner writes it (no Ray session)."""

from __future__ import annotations

import os
import pickle

import pytest

from tuneflows.checkpoints import CheckpointStore
from tuneflows.experiment_state import FINISHED_FILE, STATE_FILE, load_state
from tuneflows.schedulers import FIFOScheduler
from tuneflows.search.variant_generator import BasicVariantGenerator
from tuneflows.spec import Experiment
from tuneflows.state_writer import StateWriter
from tuneflows.trial import ERROR, PENDING, TERMINATED, Trial


def _train(config, reporter):
    reporter(loss=config["x"])


@pytest.fixture
def setup(tmp_path):
    experiment = Experiment("exp", _train, config={"x": 1}, local_dir=str(tmp_path))
    os.makedirs(experiment.dir)  # the runner creates it before the first write
    scheduler, searcher = FIFOScheduler(), BasicVariantGenerator({"x": 1})
    trials = {
        f"t{i}": Trial(trial_id=f"t{i}", experiment_tag=str(i), config={"x": i},
                       trainable_name="_train", logdir=str(tmp_path / f"t{i}"))
        for i in range(3)
    }
    return experiment, scheduler, searcher, trials, CheckpointStore()


def test_writes_round_trip_through_load_state(setup):
    experiment, scheduler, searcher, trials, checkpoints = setup
    trials["t0"].status = TERMINATED
    checkpoints.adopt("t1", str(experiment.dir) + "/t1/checkpoint_4", 4)
    writer = StateWriter(experiment, "e1", scheduler, searcher)
    writer.write(trials, checkpoints, scheduler, searcher, searcher_done=True, rounds={"t0": 2})
    state = load_state(experiment.dir)
    assert state.experiment_id == "e1"
    assert [(t["trial_id"], t["status"]) for t in state.trials] == [
        ("t0", TERMINATED), ("t1", PENDING), ("t2", PENDING)]
    assert state.checkpoints == {"t1": (checkpoints.latest("t1").path, 4)}
    assert state.searcher_done and state.rounds == {"t0": 2}
    assert state.scheduler and state.searcher and state.experiment


def test_unforced_writes_are_throttled(setup):
    experiment, scheduler, searcher, trials, checkpoints = setup
    writer = StateWriter(experiment, "e1", scheduler, searcher, min_interval_s=60)
    writer.write(trials, checkpoints, scheduler, searcher, False, {})
    trials["t2"].status = TERMINATED
    writer.write(trials, checkpoints, scheduler, searcher, False, {})
    assert load_state(experiment.dir).trials[2]["status"] == PENDING
    writer.write(trials, checkpoints, scheduler, searcher, False, {}, force=True)
    assert load_state(experiment.dir).trials[2]["status"] == TERMINATED


def test_a_finished_trial_record_is_built_once(setup, monkeypatch):
    experiment, scheduler, searcher, trials, checkpoints = setup
    trials["t0"].status = TERMINATED
    writer = StateWriter(experiment, "e1", scheduler, searcher, min_interval_s=0)
    built = []
    original = Trial.to_dict
    monkeypatch.setattr(Trial, "to_dict", lambda self: built.append(self.trial_id) or original(self))
    for _ in range(3):
        writer.write(trials, checkpoints, scheduler, searcher, False, {})
    assert built.count("t0") == 1 and built.count("t1") == 3


def test_finished_records_are_appended_once_and_the_state_holds_unfinished_ones(setup):
    experiment, scheduler, searcher, trials, checkpoints = setup
    writer = StateWriter(experiment, "e1", scheduler, searcher, min_interval_s=0)
    trials["t1"].status = TERMINATED
    for _ in range(3):
        writer.write(trials, checkpoints, scheduler, searcher, False, {})
    with open(os.path.join(experiment.dir, STATE_FILE), "rb") as f:
        on_disk = pickle.load(f)
    assert [t["trial_id"] for t in on_disk.trials] == ["t0", "t2"]
    assert on_disk.trial_order == ["t0", "t1", "t2"]
    with open(os.path.join(experiment.dir, FINISHED_FILE), "rb") as f:
        appended = [pickle.load(f)["trial_id"]]
        with pytest.raises(EOFError):
            pickle.load(f)
    assert appended == ["t1"]
    assert [(t["trial_id"], t["status"]) for t in load_state(experiment.dir).trials] == [
        ("t0", PENDING), ("t1", TERMINATED), ("t2", PENDING)]


def test_an_unfinished_record_wins_and_a_cut_short_append_is_ignored(setup):
    experiment, scheduler, searcher, trials, checkpoints = setup
    writer = StateWriter(experiment, "e1", scheduler, searcher, min_interval_s=0)
    trials["t0"].status = ERROR
    writer.write(trials, checkpoints, scheduler, searcher, False, {})
    trials["t0"].status = PENDING  # re-run on resume (ERRORED_ONLY)
    writer.write(trials, checkpoints, scheduler, searcher, False, {})
    with open(os.path.join(experiment.dir, FINISHED_FILE), "ab") as f:
        f.write(pickle.dumps({"trial_id": "t2", "status": TERMINATED})[:-3])  # killed mid-append
    state = load_state(experiment.dir)
    assert [(t["trial_id"], t["status"]) for t in state.trials] == [
        ("t0", PENDING), ("t1", PENDING), ("t2", PENDING)]


def test_records_a_resumed_experiment_already_appended_are_not_appended_again(setup):
    experiment, scheduler, searcher, trials, checkpoints = setup
    trials["t0"].status = TERMINATED
    StateWriter(experiment, "e1", scheduler, searcher).write(
        trials, checkpoints, scheduler, searcher, False, {})
    trials["t1"].status = ERROR
    resumed = StateWriter(experiment, "e1", scheduler, searcher, appended={"t0": TERMINATED})
    resumed.write(trials, checkpoints, scheduler, searcher, False, {})
    appended = []
    with open(os.path.join(experiment.dir, FINISHED_FILE), "rb") as f:
        with pytest.raises(EOFError):
            while True:
                appended.append(pickle.load(f)["trial_id"])
    assert appended == ["t0", "t1"]
