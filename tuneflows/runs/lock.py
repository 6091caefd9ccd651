"""One driver per run directory: a lock taken before anything is written, held
until the experiment ends; the operating system drops it when its driver dies."""

from __future__ import annotations

import json
import os
import socket
from typing import Optional

from filelock import FileLock, Timeout

from tuneflows.error import TuneError

LOCK_FILE = ".tuneflows.lock"
HOLDER_FILE = ".tuneflows.driver.json"


def is_locked(directory: str) -> bool:
    """Whether a live driver holds the lock of ``directory`` (probed without waiting).

    Example:
        >>> import tempfile
        >>> lock = ExperimentLock(tempfile.mkdtemp())
        >>> lock.acquire()
        >>> is_locked(lock.directory)
        True
        >>> lock.release()
        >>> is_locked(lock.directory)
        False
    """
    path = os.path.join(directory, LOCK_FILE)
    if not os.path.exists(path):
        return False
    probe = FileLock(path, timeout=0)
    try:
        probe.acquire()
    except Timeout:
        return True
    probe.release()
    return False


class ExperimentLock:
    """The lock of one run directory.

    Args:
        directory: The run directory (created if missing).

    Example:
        >>> import tempfile
        >>> lock = ExperimentLock(tempfile.mkdtemp())
        >>> lock.acquire()
        >>> ExperimentLock(lock.directory).acquire()  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        tuneflows.error.TuneError: ... is in use by another tuneflows driver (pid ...
        >>> lock.release()
    """

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self._lock: Optional[FileLock] = None

    def acquire(self) -> None:
        """Takes the lock at once, or raises naming the driver that holds it.

        Raises:
            TuneError: Another live driver runs this experiment.
        """
        os.makedirs(self.directory, exist_ok=True)
        lock = FileLock(os.path.join(self.directory, LOCK_FILE), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise TuneError(f"{self.directory!r} is in use by another tuneflows driver "
                            f"({self._holder()}); wait for it to end or stop it.") from None
        self._lock = lock
        with open(os.path.join(self.directory, HOLDER_FILE), "w") as f:
            json.dump({"pid": os.getpid(), "host": socket.gethostname()}, f)

    def release(self) -> None:
        """Releases the lock (a no-op when not held)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _holder(self) -> str:
        try:
            with open(os.path.join(self.directory, HOLDER_FILE)) as f:
                holder = json.load(f)
            return f"pid {holder['pid']} on {holder['host']}"
        except (OSError, ValueError, KeyError, TypeError):
            return "pid unknown"
