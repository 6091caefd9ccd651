"""StateWriter: the experiment state file as the runner writes it (no Ray session)."""

from __future__ import annotations

import json
import os
import pickle
from types import SimpleNamespace

import numpy as np
import pytest
from ray import cloudpickle

from tuneflows.runs.checkpoint_store import CheckpointStore
from tuneflows.error import TuneError
from tuneflows.runs.state import (
    CONFIGURATION_FILE, FINISHED_FILE, LEGACY_STATE_FILE, STATE_FILE, load_state,
)
from tuneflows.schedulers import FIFOScheduler
from tuneflows.search.variant_generator import BasicVariantGenerator
from tuneflows.spec import Experiment
from tuneflows.runs.state_writer import StateWriter
from tuneflows.trial import ERROR, PENDING, TERMINATED, Trial


def _appended(experiment) -> list:
    with open(os.path.join(experiment.dir, FINISHED_FILE)) as f:
        return [json.loads(line)["trial_id"] for line in f]


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
    assert os.path.exists(os.path.join(experiment.dir, CONFIGURATION_FILE))


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
    with open(os.path.join(experiment.dir, STATE_FILE)) as f:
        on_disk = json.load(f)
    assert [t["trial_id"] for t in on_disk["trials"]] == ["t0", "t2"]
    assert on_disk["trial_order"]["items"] == 3  # a reference to its log, written once
    assert load_state(experiment.dir).trial_order == ["t0", "t1", "t2"]
    assert _appended(experiment) == ["t1"]
    assert [(t["trial_id"], t["status"]) for t in load_state(experiment.dir).trials] == [
        ("t0", PENDING), ("t1", TERMINATED), ("t2", PENDING)]


def test_an_unfinished_record_wins_and_a_cut_short_append_is_ignored(setup):
    experiment, scheduler, searcher, trials, checkpoints = setup
    writer = StateWriter(experiment, "e1", scheduler, searcher, min_interval_s=0)
    trials["t0"].status = ERROR
    writer.write(trials, checkpoints, scheduler, searcher, False, {})
    trials["t0"].status = PENDING  # re-run on resume (ERRORED_ONLY), by the resumed run's writer
    resumed = StateWriter(experiment, "e1", scheduler, searcher, appended={"t0": ERROR})
    resumed.write(trials, checkpoints, scheduler, searcher, False, {})
    with open(os.path.join(experiment.dir, FINISHED_FILE), "a") as f:
        f.write(json.dumps({"trial_id": "t2", "status": TERMINATED})[:-3])  # killed mid-append
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
    assert _appended(experiment) == ["t0", "t1"]


def test_a_corrupt_finished_record_is_an_error_naming_the_file_and_line(setup):
    experiment, scheduler, searcher, trials, checkpoints = setup
    trials["t0"].status = TERMINATED
    StateWriter(experiment, "e1", scheduler, searcher).write(
        trials, checkpoints, scheduler, searcher, False, {})
    path = os.path.join(experiment.dir, FINISHED_FILE)
    with open(path) as f:
        good = f.read()
    with open(path, "w") as f:
        f.write("{not json\n" + good)
    with pytest.raises(TuneError, match=f"record 1 of '{path}' is corrupt"):
        load_state(experiment.dir)


def test_state_is_json_and_loading_runs_no_code(setup):
    experiment, scheduler, searcher, trials, checkpoints = setup
    marker = os.path.join(experiment.dir, "pwned")

    class Evil:
        def __reduce__(self):
            return (open, (marker, "w"))

    # A crafted pickle where the state used to be is refused without being loaded.
    with open(os.path.join(experiment.dir, LEGACY_STATE_FILE), "wb") as f:
        pickle.dump(Evil(), f)
    with pytest.raises(TuneError, match="migrate-state"):
        load_state(experiment.dir)
    assert not os.path.exists(marker)
    trials["t1"].config = {"x": np.int64(3), "y": (1, 2)}
    StateWriter(experiment, "e1", scheduler, searcher).write(
        trials, checkpoints, scheduler, searcher, False, {})
    state = load_state(experiment.dir)
    assert state.trials[1]["config"] == {"x": 3, "y": [1, 2]}
    assert not os.path.exists(marker)


def test_a_legacy_pickle_state_migrates_on_request(setup, tmp_path):
    from tuneflows.runs.state_migration import migrate_state

    experiment, scheduler, searcher, trials, checkpoints = setup
    legacy = SimpleNamespace(
        experiment_id="old", trials=[trials["t1"].to_dict()], trial_order=["t0", "t1"],
        checkpoints={}, scheduler_state={}, searcher_state={}, searcher_done=True, rounds={},
        experiment=cloudpickle.dumps(experiment), scheduler=cloudpickle.dumps(scheduler),
        searcher=cloudpickle.dumps(searcher), version=3)
    with open(os.path.join(experiment.dir, LEGACY_STATE_FILE), "wb") as f:
        pickle.dump(legacy, f)
    finished = dict(trials["t0"].to_dict(), status=TERMINATED)
    with open(os.path.join(experiment.dir, "finished_trials.pkl"), "wb") as f:
        pickle.dump(finished, f)
    migrate_state(experiment.dir)
    state = load_state(experiment.dir)
    assert state.experiment_id == "old" and state.searcher_done
    assert [(t["trial_id"], t["status"]) for t in state.trials] == [
        ("t0", TERMINATED), ("t1", PENDING)]
    assert os.path.exists(os.path.join(experiment.dir, CONFIGURATION_FILE))


def test_a_write_looks_only_at_new_and_unfinished_trials_and_rounds_survive(setup):
    experiment, scheduler, searcher, trials, checkpoints = setup
    writer = StateWriter(experiment, "e1", scheduler, searcher, min_interval_s=0)
    looked = []

    class Watched(Trial):
        def is_finished(self) -> bool:
            looked.append(self.trial_id)
            return super().is_finished()

    many = {f"w{i}": Watched(f"w{i}", str(i), {}, "f", "/r", status=TERMINATED)
            for i in range(200)}
    many["w199"].status = PENDING
    writer.write(many, checkpoints, scheduler, searcher, False, {"w0": 3, "w199": 1})
    looked.clear()
    many["w199"].status = TERMINATED
    many["w200"] = Watched("w200", "200", {}, "f", "/r")
    writer.write(many, checkpoints, scheduler, searcher, False, {"w0": 3, "w199": 2})
    assert sorted(set(looked)) == ["w199", "w200"]  # not the 199 finished before
    state = load_state(experiment.dir)
    assert state.rounds == {"w0": 3, "w199": 2} and len(state.trial_order) == 201
    assert [t["trial_id"] for t in state.trials if t["status"] == PENDING] == ["w200"]
