"""A background thread that performs recording writes (trial files, sends to the MLflow
writers) in submission order, so the experiment loop never waits on the disk or a pipe."""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Optional

from tuneflows.recording.retry import call_with_retries

_STOP = object()


class RecordingThread:
    """Runs recording calls in submission order on one thread.

    A failing call is retried (``retries`` times, with a short back-off) and then
    logged as a warning: a recording failure never fails a trial.

    Args:
        retries: Extra attempts of a failing call.
        backoff_s: Pause before the first retry (doubled per attempt).

    Example:
        >>> seen = []
        >>> thread = RecordingThread()
        >>> thread.submit(seen.append, 1)
        >>> thread.close()
        >>> seen
        [1]
    """

    def __init__(self, retries: int = 2, backoff_s: float = 0.5) -> None:
        self._queue: "queue.Queue[Any]" = queue.Queue()
        self._retries = retries
        self._backoff_s = backoff_s
        self.failures = 0
        self._thread = threading.Thread(target=self._loop, name="tuneflows-recorder", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Queues ``fn(*args)``."""
        self._queue.put((fn, args))

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Waits until every call submitted so far has run; False on time-out."""
        done = threading.Event()
        self._queue.put((done.set, ()))
        return done.wait(timeout)

    def close(self, timeout: float = 60.0) -> None:
        """Runs what is queued (waiting at most ``timeout`` s) and stops the thread."""
        self._queue.put(_STOP)
        self._thread.join(timeout=timeout)

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            fn, args = item
            if not call_with_retries(fn, *args, retries=self._retries, backoff_s=self._backoff_s):
                self.failures += 1
