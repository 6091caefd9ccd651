"""What looks at every trial does so on a clock, not per decision (issue 21): counted
walks over the trials, never seconds."""

from __future__ import annotations

import io
import time
import os
from contextlib import redirect_stdout

from tuneflows.model.paced_clock import COST_SHARE_INVERSE
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
    assert min(gaps) >= 2.0 * COST_SHARE_INVERSE
    assert len(written) <= 100 // (2 * COST_SHARE_INVERSE) + 2


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


def test_a_slow_status_block_in_a_terminal_is_built_less_often(monkeypatch):
    import time as time_module

    clock = [1000.0]
    monkeypatch.setattr(time_module, "monotonic", lambda: clock[0])
    trials, walks = _trials(50), []

    def every_trial() -> list[Trial]:  # a block that takes 1 s to build on the fake clock
        walks.append(len(trials))
        clock[0] += 1.0
        return trials

    display = StatusDisplay(verbose=True)
    display._is_tty = True  # a terminal: forced refreshes may come every 0.1 s
    board = StatusBoard(every_trial, lambda: "FIFO", lambda: {"cpu": 2}, {"cpu": 2}, "/r",
                        "acc", "max", display)
    with redirect_stdout(io.StringIO()):
        for _ in range(1000):  # a trial ending every 0.1 s for 100 s
            board.refresh(force=True)
            clock[0] += 0.1
        display.close("")
    # unpaced: a build per refresh (1,000); paced: one per 20 s of builds
    assert len(walks) <= (1000 * 0.1 + len(walks)) / COST_SHARE_INVERSE + 2


def test_slow_progress_and_leaderboard_builds_push_the_next_away():
    import asyncio

    from tuneflows.recording.prefect_reports import PrefectReports, ReportSettings

    trials, walks = _trials(20), []

    def every_trial() -> list[Trial]:  # each walk takes 20 ms
        walks.append(len(trials))
        time.sleep(0.02)
        return trials

    settings = ReportSettings("acc", "max", "FIFO", interval_s=0.01, progress_interval_s=0.01)
    reports = PrefectReports("exp", every_trial, lambda: 0, settings)
    written = []

    async def record(kind, coroutine):  # stands in for the Prefect API round trip
        coroutine.close()
        written.append(kind)

    reports._write = record
    reports._progress_id = "progress-artifact"

    async def one_second_of_trials_ending() -> None:
        writer = asyncio.ensure_future(reports._keep_up())
        for _ in range(100):
            reports.on_change()
            reports._progress_changed = True
            await asyncio.sleep(0.01)
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)

    asyncio.run(one_second_of_trials_ending())
    assert "progress" in written and "leaderboard" in written
    # unpaced: a progress (2 walks) and a leaderboard (1 walk) every ~0.07 s, ≈ 40 walks;
    # paced: each kind waits 20 × its 20-40 ms build, ≤ 3 builds each in a second
    assert len(walks) <= 10


def test_a_results_config_equal_to_the_trials_is_held_once():
    """Driver memory per finished trial: the result's config (a copy from the actor)
    is the trial's own when they are equal."""
    trial = Trial("a_0", "0", {"x": 1, "nested": {"lr": 0.1}}, "f", "/r/a_0")
    trial.last_result = {"config": {"x": 1, "nested": {"lr": 0.1}}, "acc": 0.5}
    assert trial.last_result["config"] is trial.config
    trial.last_result = {"config": {"x": 2}, "acc": 0.6}  # a result of another config
    assert trial.last_result["config"] == {"x": 2} and trial.config["x"] == 1


def test_the_progress_tally_says_what_a_walk_over_every_trial_says_and_walks_less():
    import random

    from tuneflows.recording.experiment_report import progress_text, progress_wording
    from tuneflows.recording.trial_counts import ProgressTally
    from tuneflows.trial import ERROR, PAUSED, PENDING

    looked = []

    class Watched(Trial):
        def is_finished(self) -> bool:
            looked.append(self.trial_id)
            return super().is_finished()

    rng, trials, tally = random.Random(0), [], ProgressTally("ASHA")
    stop = {"training_iteration": 9}
    for step in range(400):
        trials.append(Watched(f"t{step}", str(step), {}, "f", "", status=PENDING))
        for trial in trials[-12:]:  # the latest trials move on; the older ones ended
            if not trial.is_finished():
                iteration = min(9, trial.iteration + rng.randint(0, 3))
                trial.last_result = {"training_iteration": iteration,
                                     "early_stopped": iteration < 9 and rng.random() < 0.1}
                trial.status = rng.choice([RUNNING, PAUSED, TERMINATED, ERROR] if iteration < 9
                                          else [TERMINATED])
        looked.clear()
        counts = tally.counts(trials)
        assert len(looked) <= 2 * 13  # the new trial and the unfinished ones, not all
        assert progress_wording(counts, 500, stop) == progress_text(trials, 500, "ASHA", stop)
