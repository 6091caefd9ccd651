"""What looks at every trial does so on a clock, not per decision (issue 21): counted
walks over the trials, never seconds."""

from __future__ import annotations

import io
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
