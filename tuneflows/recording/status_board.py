"""The status block of one running experiment, built in one place: from its trials,
its scheduler's line, the resources it holds and its metric. The recorder shows it
live and at the end; the experiment loop serves it to the Client API's ``/status``.

Example:
    >>> from tuneflows.recording.status_block import StatusDisplay
    >>> from tuneflows.trial import Trial
    >>> board = StatusBoard(lambda: [Trial("a_0", "0", {}, "f", "/r/a_0")], lambda: "FIFO",
    ...                     lambda: {"cpu": 1}, {"cpu": 2}, "/r", "acc", "max",
    ...                     StatusDisplay(0))
    >>> print(board.text().splitlines()[2])
    Resources used: 1/2 CPUs, 0/0 GPUs
"""

from __future__ import annotations

import time
from typing import Callable, Mapping, Optional, Sequence

from tuneflows.model.paced_clock import PacedClock
from tuneflows.recording.status_block import StatusDisplay, status_text
from tuneflows.trial import Trial


class StatusBoard:
    """What an experiment's ``== Status ==`` block is made of, and where it shows.

    Args:
        trials: Returns the experiment's trials.
        scheduler_line: Returns the scheduler's line (its ``debug_string()``).
        used: Returns the resources the experiment holds now.
        total: The cluster's resources.
        logdir: The run's directory.
        metric: What trials are ranked by (None: none known).
        mode: ``"max"`` or ``"min"``.
        display: Where the block shows (the terminal, by verbosity).
    """

    def __init__(self, trials: Callable[[], Sequence[Trial]], scheduler_line: Callable[[], str],
                 used: Callable[[], Mapping[str, float]], total: Mapping[str, float],
                 logdir: str, metric: Optional[str], mode: str, display: StatusDisplay) -> None:
        self._trials = trials
        self._scheduler_line = scheduler_line
        self._used = used
        self._total = total
        self._logdir = logdir
        self._metric = metric
        self._mode = mode
        self.display = display
        self._started = time.monotonic()
        self._pace = PacedClock(0.0)

    def text(self) -> str:
        """The current ``== Status ==`` block."""
        return status_text(list(self._trials()), self._scheduler_line(), self._used(),
                           self._total, self._logdir, self._metric, mode=self._mode,
                           elapsed_s=time.monotonic() - self._started)

    def refresh(self, force: bool = False) -> None:
        """Shows the block again (throttled unless ``force``), when it shows at all.

        Building the block walks every trial, so it is built only when it shows, and
        a long build pushes the next away (:class:`~tuneflows.model.paced_clock.PacedClock`):
        a terminal's live block of 10,000 trials refreshes less often, never costing the
        driver more than a fixed share."""
        if self.display.due(force) and self._pace.due():
            started = time.monotonic()
            text = self.text()
            self._pace.ran(started)
            self.display.update(text, force=force)

    def close(self) -> None:
        """Shows the final block."""
        self.display.close(self.text())
