"""What looks at every trial does so on a clock, not per decision (issue 21): counted
walks over the trials, never seconds."""

from __future__ import annotations

import io
import os
from contextlib import redirect_stdout

from tuneflows.recording.status_block import StatusDisplay
from tuneflows.recording.status_board import StatusBoard
from tuneflows.trial import RUNNING, TERMINATED, Trial


def _trials(n: int) -> list[Trial]:
    return [Trial(f"t{i}", str(i), {"x": i}, "f", f"/r/t{i}",
                  status=TERMINATED if i < n - 2 else RUNNING,
                  last_result={"acc": i / n, "training_iteration": 1})
            for i in range(n)]


def _board(trials: list[Trial], walks: list[int], display: StatusDisplay) -> StatusBoard:
    def every_trial() -> list[Trial]:
        walks.append(len(trials))
        return trials

    return StatusBoard(every_trial, lambda: "FIFO", lambda: {"cpu": 2}, {"cpu": 2}, "/r",
                       "acc", "max", display)


def test_refreshes_per_decision_do_not_walk_the_trials_between_prints():
    trials, walks = _trials(500), []
    display = StatusDisplay(verbose=True, interval_s=3600)
    display._is_tty = False  # a log file: a block every interval_s
    board = _board(trials, walks, display)
    out = io.StringIO()
    with redirect_stdout(out):
        for i in range(2000):  # a refresh per result and a forced one per trial end
            board.refresh(force=i % 2 == 0)
        board.close()
    assert walks == [500, 500]  # the first block and the final one
    assert out.getvalue().count("== Status ==") == 2


def test_a_quiet_board_never_walks_the_trials():
    trials, walks = _trials(50), []
    board = _board(trials, walks, StatusDisplay(verbose=0))
    for i in range(100):
        board.refresh(force=i % 2 == 0)
    assert walks == []


def test_a_long_state_write_stretches_the_interval_to_the_next(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from tuneflows.runs import state_writer
    from tuneflows.runs.checkpoint_store import CheckpointStore
    from tuneflows.schedulers import FIFOScheduler
    from tuneflows.search.variant_generator import BasicVariantGenerator
    from tuneflows.spec import Experiment

    clock, written = [100.0], []

    def slow_save(directory, state):  # a write that takes 2 s on the fake clock
        written.append(clock[0])
        clock[0] += 2.0

    monkeypatch.setattr(state_writer, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    monkeypatch.setattr(state_writer, "save_state", slow_save)
    experiment = Experiment("exp", lambda config, reporter: None, local_dir=str(tmp_path))
    os.makedirs(experiment.dir)
    scheduler, searcher = FIFOScheduler(), BasicVariantGenerator({})
    writer = state_writer.StateWriter(experiment, "e1", scheduler, searcher, min_interval_s=0.5)
    for _ in range(200):  # a decision every 0.5 s for 100 s
        writer.write({}, CheckpointStore(), scheduler, searcher, False, {})
        clock[0] += 0.5
    gaps = {round(b - a, 1) for a, b in zip(written, written[1:])}
    assert min(gaps) >= 2.0 * state_writer.WRITE_SHARE_INVERSE
    assert len(written) <= 100 // (2 * state_writer.WRITE_SHARE_INVERSE) + 2


def test_the_state_file_holds_nested_dataclasses_as_their_fields():
    import json
    from dataclasses import dataclass

    from tuneflows.runs.state import ExperimentState, encode_state

    @dataclass
    class Rung:
        milestone: int
        scores: tuple

    state = ExperimentState("e1", trial_order=["a"], rounds={"a": 1},
                            scheduler_state={"rungs": [Rung(1, (0.5, 2))]})
    data = json.loads(encode_state(state))
    assert data["scheduler_state"] == {"rungs": [{"milestone": 1, "scores": [0.5, 2]}]}
    assert data["trial_order"] == ["a"] and data["rounds"] == {"a": 1}
