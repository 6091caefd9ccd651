"""A background thread that performs all recording writes in order, so the
experiment loop never waits on MLflow or the disk."""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any, Callable, Optional

logger = logging.getLogger(__name__)

_STOP = object()


class Recorder:
    """Runs recording calls in submission order on one thread.

    A failing call is retried (``retries`` times, with a short back-off) and then
    logged as a warning: a recording failure (MLflow down) never fails a trial.
    """

    def __init__(self, retries: int = 2, backoff_s: float = 0.5) -> None:
        self._queue: "queue.Queue[Any]" = queue.Queue()
        self._retries = retries
        self._backoff_s = backoff_s
        self.failures = 0
        self._thread = threading.Thread(target=self._loop, name="tuneflows-recorder", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Queues ``fn(*args, **kwargs)``."""
        self._queue.put((fn, args, kwargs))

    def flush(self, timeout: Optional[float] = None) -> None:
        """Waits until every call submitted so far has run."""
        done = threading.Event()
        self._queue.put((done.set, (), {}))
        done.wait(timeout)

    def close(self) -> None:
        """Flushes and stops the thread."""
        self.flush()
        self._queue.put(_STOP)
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            fn, args, kwargs = item
            for attempt in range(self._retries + 1):
                try:
                    fn(*args, **kwargs)
                    break
                except Exception as exc:  # noqa: BLE001 - recording must not kill trials
                    if attempt == self._retries:
                        self.failures += 1
                        logger.warning("Recording call %s failed: %s", getattr(fn, "__name__", fn), exc)
                    else:
                        time.sleep(self._backoff_s * (attempt + 1))
