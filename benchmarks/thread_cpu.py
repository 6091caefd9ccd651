"""CPU seconds of each thread of this process, grouped by what the thread is: a Python
thread by its name (``MainThread``, ``RecordingThread``...; digits dropped, so a pool's
threads add up), any other by the name Linux has for it (Ray's and gRPC's threads).

Read from ``/proc/self/task/*/stat`` (user + system time), so it tells which thread's
CPU per trial grows where ``time.process_time`` only gives the sum.
"""

from __future__ import annotations

import os
import re
import threading
import time
from typing import Optional

_TICKS = os.sysconf("SC_CLK_TCK")


def _group(name: str) -> str:
    return re.sub(r"[-_ ]?\d+", "", name) or name


def thread_cpu_seconds() -> dict[str, float]:
    """CPU seconds by thread group, of the threads alive now.

    Example:
        >>> "MainThread" in thread_cpu_seconds()
        True
    """
    python_names = {t.native_id: t.name for t in threading.enumerate()}
    out: dict[str, float] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:  # ended meanwhile
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        seconds = (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime
        name = _group(python_names.get(int(tid), f"[{comm}]"))
        out[name] = out.get(name, 0.0) + seconds
    return out


class ThreadCpuSampler(threading.Thread):
    """Samples :func:`thread_cpu_seconds` every ``period`` seconds.

    A thread that ends takes its CPU with it; the groups of a long experiment's driver
    live as long as it does.
    """

    def __init__(self, period: float = 1.0) -> None:
        super().__init__(daemon=True)
        self._period = period
        self._stop_event = threading.Event()
        self.samples: list[tuple[float, dict[str, float]]] = []

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.samples.append((time.time(), thread_cpu_seconds()))
            self._stop_event.wait(self._period)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()

    def between(self, first: float, last: float) -> dict[str, float]:
        """CPU seconds of each group from the sample nearest ``first`` to the one
        nearest ``last`` (groups above 0).

        Example:
            >>> s = ThreadCpuSampler()
            >>> s.samples = [(0.0, {"a": 1.0}), (5.0, {"a": 3.0, "b": 1.0})]
            >>> s.between(0.0, 5.0)
            {'a': 2.0, 'b': 1.0}
        """
        a, b = self._nearest(first), self._nearest(last)
        if a is None or b is None:
            return {}
        spent = {k: v - a.get(k, 0.0) for k, v in b.items()}
        return {k: v for k, v in spent.items() if v > 0}

    def _nearest(self, when: float) -> Optional[dict[str, float]]:
        if not self.samples:
            return None
        return min(self.samples, key=lambda s: abs(s[0] - when))[1]
