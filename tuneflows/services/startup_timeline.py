"""A start-up timeline for measuring where a run's time goes: with
``TUNEFLOWS_TIMING=1`` each milestone (Ray ready, Prefect API ready, MLflow store open,
first trial started, last trial ended, process exit) is printed to stderr with the
seconds since the driver's interpreter started. Child processes started after the
driver's first milestone (the MLflow writers) print theirs on the driver's clock
(``TUNEFLOWS_TIMING_START``, which the driver sets then); only the driver prints
"process exit"."""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time

TIMING_ENV = "TUNEFLOWS_TIMING"
START_ENV = "TUNEFLOWS_TIMING_START"  # the driver's start, for its children's milestones

_lock = threading.Lock()
_seen: set[str] = set()


def _process_start() -> float:
    """When this process started, in ``time.time()`` seconds (Linux: from /proc)."""
    try:
        with open("/proc/self/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return time.time() - uptime + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.time()


_OWN_START = _process_start()


def _clock_start() -> float:
    """The driver's start when a parent set it, else this process's own."""
    try:
        return float(os.environ[START_ENV])
    except (KeyError, ValueError):
        return _OWN_START


_START = _clock_start()


def enabled() -> bool:
    """Whether ``TUNEFLOWS_TIMING`` asks for the timeline."""
    return os.environ.get(TIMING_ENV, "").strip().lower() not in ("", "0", "false", "no")


def mark(milestone: str, once: bool = True) -> None:
    """Prints ``milestone`` with the seconds since the process started (when enabled).

    Args:
        milestone: What just became ready or happened.
        once: Print only the first time this milestone is reached.

    Example:
        >>> mark("nothing to see")  # silent unless TUNEFLOWS_TIMING=1
    """
    if not enabled():
        return
    with _lock:
        if once and milestone in _seen:
            return
        _seen.add(milestone)
        os.environ.setdefault(START_ENV, repr(_START))  # children: the driver's clock
    print(f"[tuneflows timing] {time.time() - _START:7.2f} s  {milestone}", file=sys.stderr,
          flush=True)


atexit.register(lambda: _START == _OWN_START and mark("process exit"))
