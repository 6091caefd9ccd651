"""An MLflow writer, as the driver sees it: a child process that makes MLflow calls for
the driver, so the driver never spends its CPU (and the GIL) in MLflow's SQLAlchemy
store (:mod:`tuneflows.recording.mlflow.writer_pool` runs several and shares trials
among them; :mod:`tuneflows.recording.mlflow.writer_child` is the child).

The driver sends plain data (metric rows, param strings) over a pipe and never waits,
except for requests: opening an experiment (so a bad tracking URI fails before any
trial starts) and ending it (so ``run_experiments`` returns with every record written).
Every request has a deadline (``TUNEFLOWS_MLFLOW_DEADLINE_S``); a writer that misses it
is killed, and the next experiment starts a new one. If the driver dies, the child
writes what it holds, marks its open runs KILLED and exits; a resumed experiment finds
its runs by tag.
"""

from __future__ import annotations

import logging
import os
import queue
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from typing import Any, Mapping, Optional

from tuneflows.error import TuneError
from tuneflows.recording.mlflow.limits import EXIT_GRACE_S, mlflow_deadline_s

#: Longest wait for an experiment to open in a writer (a new store's creation queues behind
#: other drivers' under its lock).
OPEN_DEADLINE_S = 180.0
from tuneflows.recording.mlflow.store import tracking_uri_for
from tuneflows.recording.mlflow.writer_commands import REPLY, RUN_CREATED, WriterCommand

logger = logging.getLogger(__name__)


class MlflowWriterProcess:
    """One MLflow writer process; it serves any number of experiments until
    :meth:`close` (or until this process exits, which closes the pipe).
    :class:`~tuneflows.recording.mlflow.writer_pool.MlflowWriterPool` runs several."""

    def __init__(self) -> None:
        command_read, command_write = os.pipe()
        reply_read, reply_write = os.pipe()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tuneflows.recording.mlflow.writer_child",
             str(command_read), str(reply_write), str(os.getpid())],
            pass_fds=(command_read, reply_write),
        )
        os.close(command_read)
        os.close(reply_write)
        self._commands = Connection(command_write, readable=False)
        self._replies = Connection(reply_read, writable=False)
        self._lock = threading.Lock()
        self._broken = False
        self._reply_queue: "queue.SimpleQueue[Optional[tuple]]" = queue.SimpleQueue()
        #: ``(experiment key, trial id)`` to the id of the trial's MLflow run, as the
        #: writer reports each run it creates (or finds, for a resumed trial).
        self.run_ids: dict[tuple[str, str], str] = {}
        self._reader = threading.Thread(target=self._read_replies, name="tuneflows-mlflow-replies",
                                        daemon=True)
        self._reader.start()

    @property
    def alive(self) -> bool:
        """The process runs and its pipe works."""
        return not self._broken and self._process.poll() is None

    @property
    def pid(self) -> int:
        """The writer process's pid."""
        return self._process.pid

    def prepare(self, experiment_name: str, local_dir: str) -> None:
        """Opens (and, if new, creates) the experiment's MLflow store in the background."""
        self.send(WriterCommand.PREPARE, "", (experiment_name, local_dir, tracking_uri_for(local_dir)))

    def open_experiment(self, experiment_name: str, local_dir: str, experiment_id: str,
                        run_name: str, tags: Mapping[str, str],
                        parent_run_id: Optional[str] = None) -> tuple[str, str]:
        """Creates (or, on resume, reopens) the experiment's parent run, or, given
        ``parent_run_id``, attaches to the one another writer opened.

        Returns:
            The parent run's id and the MLflow experiment's id.

        Raises:
            TuneError: MLflow cannot be written (e.g. a bad ``MLFLOW_TRACKING_URI``).
        """
        uri = tracking_uri_for(local_dir)
        # A new SQLite store is created (migrated, 10-25 s) by one process at a time, under
        # its lock: drivers starting together queue there, so opening may take longer
        # than the deadline of a record.
        deadline = time.monotonic() + max(mlflow_deadline_s(), OPEN_DEADLINE_S)
        ok, value = self.request(WriterCommand.OPEN, experiment_id, (experiment_name, local_dir, uri, run_name,
                                                          dict(tags), parent_run_id),
                                 deadline=deadline)
        if not ok:
            raise TuneError(f"Cannot record experiment {experiment_name!r} in MLflow at "
                            f"{uri!r} (MLFLOW_TRACKING_URI): {value}. Start the tracking "
                            f"server, or unset MLFLOW_TRACKING_URI to record in "
                            f"<local_dir>/mlflow.db.")
        parent, mlflow_experiment_id = value
        return parent, mlflow_experiment_id

    def sync(self, deadline: Optional[float] = None) -> bool:
        """Waits until the writer has handled every earlier command; False if it
        stopped or missed ``deadline`` (a ``time.monotonic()`` time; default
        ``TUNEFLOWS_MLFLOW_DEADLINE_S`` from now)."""
        return self.request(WriterCommand.SYNC, "", (), deadline=deadline)[0]

    def send(self, method: WriterCommand, key: str, args: tuple) -> None:
        """Queues a command without waiting for it to be done; never raises. The
        writer reads commands as they come, whatever MLflow makes it wait for, so this
        blocks only for the write to the pipe."""
        with self._lock:
            if self._broken:
                return
            try:
                self._commands.send((method, key, args, False))
            except (OSError, ValueError) as exc:
                self._mark_broken(exc)

    def request(self, method: WriterCommand, key: str, args: tuple,
                deadline: Optional[float] = None) -> tuple[bool, Any]:
        """Sends a command and waits for its reply: ``(ok, value or error text)``.

        Args:
            method: The command.
            key: The experiment it is for.
            args: Its arguments.
            deadline: When to give up (a ``time.monotonic()`` time; default
                ``TUNEFLOWS_MLFLOW_DEADLINE_S`` from now). A writer that misses it is
                killed: its reply could no longer be told from a later one's.
        """
        if deadline is None:
            deadline = time.monotonic() + mlflow_deadline_s()
        with self._lock:
            if self._broken:
                return False, "the MLflow writer process is not running"
            try:
                self._commands.send((method, key, args, True))
                while True:
                    try:
                        reply = self._reply_queue.get(
                            timeout=min(1.0, max(0.0, deadline - time.monotonic())))
                    except queue.Empty:
                        if self._process.poll() is not None:
                            raise EOFError(f"exit code {self._process.returncode}") from None
                        if time.monotonic() >= deadline:
                            self._broken = True
                            self._process.kill()
                            return False, (f"the MLflow writer process did not answer within "
                                           f"the deadline ({mlflow_deadline_s():g} s, "
                                           f"TUNEFLOWS_MLFLOW_DEADLINE_S) and was stopped")
                        continue
                    if reply is None:
                        raise EOFError("its pipe closed")
                    return reply
            except (OSError, EOFError, ValueError) as exc:
                self._mark_broken(exc)
                return False, f"the MLflow writer process stopped ({exc})"

    def _read_replies(self) -> None:
        """Reads what the writer sends, as it comes: replies go to the waiting request,
        the ids of new runs to :attr:`run_ids`."""
        while True:
            try:
                message = self._replies.recv()
            except (EOFError, OSError, ValueError):
                self._reply_queue.put(None)
                return
            if message[0] == RUN_CREATED:
                _, key, trial_id, run_id = message
                self.run_ids[key, trial_id] = run_id
            elif message[0] == REPLY:
                self._reply_queue.put(tuple(message[1:]))

    def close(self, timeout: float = EXIT_GRACE_S + 5) -> None:
        """Lets the writer finish what it holds (it marks runs still open KILLED) and
        waits at most ``timeout`` s for it to exit, then kills it."""
        with self._lock:
            self._broken = True
            self._commands.close()
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._reader.join(5.0)  # it reads the pipe to its end, which the exit closed
        self._replies.close()

    def _mark_broken(self, exc: BaseException) -> None:
        self._broken = True
        logger.warning("An MLflow writer process stopped (%s); later records go to the "
                       "trial files only.", exc)
