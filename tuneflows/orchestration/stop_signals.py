"""SIGINT and SIGTERM stop a running experiment cleanly: the experiment loop is told
to stop, ends its trials, writes its state, ends its MLflow runs (KILLED) and the flow
run (Crashed), and then the signal's usual outcome follows: ``KeyboardInterrupt`` for
SIGINT, ``SystemExit(143)`` for SIGTERM (a script exits non-zero).

Only the main thread can take signals; elsewhere Python's and Prefect's handlers stay.
A second SIGINT while the experiment stops interrupts at once; a SIGTERM'd driver that
has not exited within ``grace_s`` exits (status 143) whatever it is doing then (also
after the ``with`` block, were ``SystemExit`` caught), and its children (the MLflow
writers) notice that and exit too.
"""

from __future__ import annotations

import os
import signal
import threading
from types import TracebackType
from typing import Any, Callable, Optional

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """Routes SIGINT and SIGTERM to ``on_signal`` while the ``with`` block runs.

    Args:
        on_signal: Called (in the main thread, from the signal handler) with the
            signal's name on the first signal; it must only schedule the stop.
        grace_s: After a SIGTERM, the process exits this many seconds later if it is
            still running.

    Example:
        >>> with StopSignals(print) as signals:
        ...     pass
        >>> signals.received is None
        True
    """

    def __init__(self, on_signal: Callable[[str], None], grace_s: float = 60.0) -> None:
        self._on_signal = on_signal
        self._grace_s = grace_s
        self._previous: dict[int, Any] = {}
        self._timer: Optional[threading.Timer] = None
        self.received: Optional[int] = None

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                self._previous[signum] = signal.getsignal(signum)
                signal.signal(signum, self._handle)
        return self

    def __exit__(self, kind: Optional[type], error: Optional[BaseException],
                 traceback: Optional[TracebackType]) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
        # After a SIGTERM the timer outlives the block: the process is on its way out,
        # and the Prefect, Ray and interpreter shutdown that follows is bounded too.

    def raise_if_received(self) -> None:
        """After the stop: ``KeyboardInterrupt`` for SIGINT, ``SystemExit(143)`` for SIGTERM.

        Raises:
            KeyboardInterrupt: SIGINT was received.
            SystemExit: SIGTERM was received (code 128 + 15).
        """
        if self.received == signal.SIGINT:
            raise KeyboardInterrupt("the experiment was stopped by SIGINT")
        if self.received == signal.SIGTERM:
            raise SystemExit(128 + signal.SIGTERM)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.received is not None:
            if signum == signal.SIGINT:
                raise KeyboardInterrupt("a second SIGINT while the experiment stopped")
            return
        self.received = signum
        if signum == signal.SIGTERM:
            self._timer = threading.Timer(self._grace_s, os._exit, (128 + signum,))
            self._timer.daemon = True
            self._timer.start()
        self._on_signal(signal.Signals(signum).name)
