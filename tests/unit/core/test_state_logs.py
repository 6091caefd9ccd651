"""The append-only parts of searcher state: written once, item by item, beside the state
file, and read back exactly (issue 21: a 10,000-trial TPE run wrote every hyperopt
document again at each state write)."""

from __future__ import annotations

import json
import os

import pytest

from tuneflows.error import TuneError
from tuneflows.model.append_only import AppendOnlyList
from tuneflows.runs.checkpoint_store import CheckpointStore
from tuneflows.runs.state import STATE_FILE, load_state
from tuneflows.runs.state_logs import LOG_REFERENCE, StateLogs, attach_logs
from tuneflows.runs.state_writer import StateWriter
from tuneflows.schedulers import FIFOScheduler
from tuneflows.search import ConcurrencyLimiter, HyperOptSearch, uniform
from tuneflows.spec import Experiment
from tuneflows.trial import TERMINATED, Trial

LOG = "state_log.searcher_state.settled.jsonl"


def _state(items: list) -> dict:
    return {"settled": AppendOnlyList(items), "rng": {"seed": len(items)}}


def test_a_write_appends_only_the_items_added_since_the_last(tmp_path):
    logs = StateLogs(str(tmp_path))
    items = [{"tid": i} for i in range(3)]
    first = logs.detach("searcher_state", _state(items))
    before = (tmp_path / LOG).read_bytes()
    items += [{"tid": 3}, {"tid": 4}]
    second = logs.detach("searcher_state", _state(items))
    after = (tmp_path / LOG).read_bytes()
    assert after.startswith(before) and after[len(before):].count(b"\n") == 2
    assert first["settled"] == {LOG_REFERENCE: LOG, "items": 3, "bytes": len(before)}
    assert second["settled"]["items"] == 5 and second["rng"] == {"seed": 5}
    assert attach_logs(str(tmp_path), second) == {"settled": items, "rng": {"seed": 5}}
    assert attach_logs(str(tmp_path), first)["settled"] == items[:3]  # as that state saw it


def test_nested_logs_are_named_by_where_they_are_and_others_are_not_copied(tmp_path):
    logs = StateLogs(str(tmp_path))
    plain = {"count": 1, "inner": {"a": [1, 2]}}
    state = {"live": ["t1"], "searcher": {"settled": AppendOnlyList([[0, "t0"]])}, "p": plain}
    written = logs.detach("searcher_state", state)
    assert written["p"] is plain and written["live"] is state["live"]
    assert written["searcher"]["settled"][LOG_REFERENCE] == (
        "state_log.searcher_state.searcher.settled.jsonl")
    assert logs.detach("searcher_state", plain) is plain  # nothing to detach: as given
    assert attach_logs(str(tmp_path), written) == state


def test_items_appended_after_the_last_state_are_not_read(tmp_path):
    logs = StateLogs(str(tmp_path))
    items = [{"tid": 0}]
    state = logs.detach("searcher_state", _state(items))
    logs.detach("searcher_state", _state(items + [{"tid": 1}]))  # killed before its state
    assert attach_logs(str(tmp_path), state)["settled"] == [{"tid": 0}]


def test_a_new_writer_writes_a_log_whole_once_then_appends(tmp_path):
    StateLogs(str(tmp_path)).detach("searcher_state", _state([{"tid": 0}, {"tid": 1}]))
    with open(tmp_path / LOG, "ab") as f:
        f.write(b'{"tid": 9')  # an append cut short by a kill
    resumed = StateLogs(str(tmp_path))  # a resumed run, its searcher restored
    items = [{"tid": 0}, {"tid": 1}, {"tid": 2}]
    resumed.detach("searcher_state", _state(items))
    state = resumed.detach("searcher_state", _state(items + [{"tid": 3}]))
    assert (tmp_path / LOG).read_text().splitlines() == [json.dumps(i) for i in items] + [
        json.dumps({"tid": 3})]
    assert attach_logs(str(tmp_path), state)["settled"] == items + [{"tid": 3}]


def test_an_append_cut_short_in_a_run_is_cut_off_before_the_next(tmp_path):
    logs = StateLogs(str(tmp_path))
    logs.detach("searcher_state", _state([{"tid": 0}]))
    with open(tmp_path / LOG, "ab") as f:
        f.write(b'{"ti')  # a write that raised half-way (a full disk)
    state = logs.detach("searcher_state", _state([{"tid": 0}, {"tid": 1}]))
    assert attach_logs(str(tmp_path), state)["settled"] == [{"tid": 0}, {"tid": 1}]


@pytest.mark.parametrize("damage", ["missing", "short", "garbage"])
def test_a_damaged_log_is_an_error_naming_it(tmp_path, damage):
    state = StateLogs(str(tmp_path)).detach("searcher_state", _state([{"tid": 0}, {"tid": 1}]))
    if damage == "missing":
        os.remove(tmp_path / LOG)
    else:
        (tmp_path / LOG).write_bytes(b'{"tid": 0}\n' if damage == "short" else b"\x00" * 30)
    with pytest.raises(TuneError, match=LOG):
        attach_logs(str(tmp_path), state)


# ------------------------------------------------- HyperOptSearch through the state writer
def _search(wrapped: bool):
    search = HyperOptSearch({"x": uniform(0, 1)}, metric="loss", mode="min",
                            random_state_seed=0, n_initial_points=3)
    return ConcurrencyLimiter(search, 2) if wrapped else search


def _drive(search, trials: dict, start: int, stop: int) -> list:
    """Suggests, and completes, trials ``start`` to ``stop`` (every fifth fails); the
    configs suggested."""
    configs = []
    for i in range(start, stop):
        trial_id = f"t{i:04d}"
        config = search.suggest(trial_id)
        configs.append(config)
        trials[trial_id] = Trial(trial_id, str(i), config, "f", f"/r/{trial_id}",
                                 status=TERMINATED)
        if i % 5 == 4:
            search.on_trial_complete(trial_id, error=True)
        else:
            search.on_trial_complete(trial_id, {"loss": (config["x"] - 0.3) ** 2})
    return configs


@pytest.mark.parametrize("wrapped", [False, True])
def test_the_state_file_stays_small_and_a_resumed_search_continues_exactly(tmp_path, wrapped):
    experiment = Experiment("exp", lambda config, reporter: None, local_dir=str(tmp_path))
    os.makedirs(experiment.dir)
    scheduler, search, trials = FIFOScheduler(), _search(wrapped), {}
    writer = StateWriter(experiment, "e1", scheduler, search, min_interval_s=0)
    sizes = []
    for start in range(0, 120, 20):
        _drive(search, trials, start, start + 20)
        writer.write(trials, CheckpointStore(), scheduler, search, False, {})
        with open(os.path.join(experiment.dir, STATE_FILE)) as f:
            sizes.append(len(json.dumps(json.load(f)["searcher_state"])))
    assert max(sizes) - min(sizes) < 20, sizes  # not a document more per trial

    restored = _search(wrapped)
    restored.set_state(load_state(experiment.dir).searcher_state)
    assert restored.best_result() == search.best_result()
    assert _drive(restored, {}, 120, 130) == _drive(search, {}, 120, 130)
