"""A child that must not outlive its driver: a tiny watcher process ends it when the
driver dies, even by SIGKILL (which runs no exit handler of the driver's).

``python -m tuneflows.services.orphan_guard DRIVER_PID CHILD_PID`` polls whether its parent is
still ``DRIVER_PID``; once the driver is gone it sends the child SIGTERM, then SIGKILL
after ``KILL_AFTER_S`` seconds, and exits; it also exits when the child ends first. It
uses only the standard library (beyond the ``tuneflows`` package's own import).
tuneflows guards Prefect's ephemeral API server with it (the local Prefect server is
meant to outlive the driver; the MLflow writers watch their parent themselves).

Example:
    >>> import subprocess, sys
    >>> child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    >>> guard = guard_child(child.pid)
    >>> child.kill(); child.wait() != 0  # the child ends first: the guard exits too
    True
    >>> guard.wait(timeout=10)
    0
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Sequence

POLL_S = 0.5
KILL_AFTER_S = 5.0


def guard_child(child_pid: int) -> subprocess.Popen:
    """Starts the watcher that ends ``child_pid`` when this process dies."""
    return subprocess.Popen([sys.executable, "-m", "tuneflows.services.orphan_guard", str(os.getpid()),
                             str(child_pid)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def process_alive(pid: int) -> bool:
    """Whether ``pid`` is a running (not zombie) process."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True  # no /proc: the signal test is all there is


def _end(pid: int) -> None:
    """SIGTERM, then SIGKILL if ``pid`` is still there ``KILL_AFTER_S`` later."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + KILL_AFTER_S
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if process_alive(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def main(argv: Sequence[str]) -> int:
    """Watches until the driver or the child is gone; ends the child in the first case."""
    driver_pid, child_pid = int(argv[0]), int(argv[1])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is the driver's to handle
    while process_alive(child_pid):
        if os.getppid() != driver_pid:
            _end(child_pid)
            return 0
        time.sleep(POLL_S)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
