"""Time the driver spends in Python's cyclic garbage collector, by generation, and
whether a searcher's ``suggest`` was running when a collection began.

A long experiment's driver holds more objects as trials finish; a full (generation 2)
collection walks all of them. Timing the collections tells whether CPU that grows per
trial is the collector's, and whose allocations triggered it.
"""

from __future__ import annotations

import gc
import threading
import time
from typing import Callable, Optional


class CollectorTimer:
    """Records each collection of the cyclic garbage collector while started.

    Args:
        inside: Whether the code whose collections are told apart (a searcher's
            ``suggest``) is running now; asked when a collection starts.

    Example:
        >>> timer = CollectorTimer(lambda: False)
        >>> timer.start()
        >>> _ = gc.collect()
        >>> timer.stop()
        >>> [(generation, inside) for _, generation, _, inside in timer.collections][-1]
        (2, False)
    """

    def __init__(self, inside: Callable[[], bool]) -> None:
        self._inside = inside
        self._started: Optional[tuple[float, bool]] = None
        self._lock = threading.Lock()
        # (time.time() at the end, generation, seconds, began inside)
        self.collections: list[tuple[float, int, float, bool]] = []

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = (time.perf_counter(), self._inside())
        elif self._started is not None:
            began, inside = self._started
            self._started = None
            with self._lock:
                self.collections.append((time.time(), info["generation"],
                                         time.perf_counter() - began, inside))

    def start(self) -> None:
        """Starts recording collections."""
        gc.callbacks.append(self._callback)

    def stop(self) -> None:
        """Stops recording collections."""
        gc.callbacks.remove(self._callback)

    def between(self, first: float, last: float) -> dict[str, float]:
        """Seconds of collection ending in [first, last]: full and younger ones, each
        begun inside or outside; and how many were full.

        Example:
            >>> timer = CollectorTimer(lambda: False)
            >>> timer.collections = [(1.0, 2, 0.5, True), (2.0, 0, 0.1, False)]
            >>> timer.between(0.0, 3.0)["full_inside_s"], timer.between(0.0, 3.0)["full_count"]
            (0.5, 1)
        """
        with self._lock:
            ended = [c for c in self.collections if first <= c[0] <= last]
        spent = {f"{kind}_{where}_s": 0.0 for kind in ("full", "young")
                 for where in ("inside", "outside")}
        for _, generation, seconds, inside in ended:
            kind = "full" if generation == 2 else "young"
            spent[f"{kind}_{'inside' if inside else 'outside'}_s"] += seconds
        return {**spent, "full_count": sum(1 for c in ended if c[1] == 2)}
