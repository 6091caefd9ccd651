"""The MLflow writer child process: applies the driver's recording commands to MLflow
(:class:`~tuneflows.recording.mlflow.writer_process.MlflowWriterProcess` is its driver
side).

A reader thread takes commands off the pipe as they come (:class:`CommandInbox`), so
the driver never blocks on a full pipe while the writer waits on MLflow; the main
thread applies them in order and merges each run's writes whenever no command is
waiting. The writer never outlives the driver: the driver closing the pipe, the
parent-death signal (Linux ``prctl(PR_SET_PDEATHSIG)``) and a poll of the parent pid
(elsewhere) all end it. On its way out it writes what it holds and marks the runs
still open KILLED, within :data:`~tuneflows.recording.mlflow.limits.EXIT_GRACE_S`.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import sys
import threading
from multiprocessing.connection import Connection
from typing import Any, Optional, Sequence

from tuneflows.recording.mlflow.limits import EXIT_GRACE_S, writer_http_settings
from tuneflows.recording.mlflow.writer_commands import (
    BATCHER_COMMANDS, REPLY, RUN_CREATED, WriterCommand,
)

logger = logging.getLogger(__name__)

#: How often the writer checks that its driver is alive where no parent-death signal exists.
PARENT_POLL_S = 1.0
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


class CommandInbox:
    """The driver's commands, read off the pipe by a thread as soon as they arrive.

    :meth:`get` returns None once the driver is gone (the pipe closed, or
    :meth:`driver_gone` was called by the parent-death watch).

    Args:
        commands: The pipe's read end.
    """

    def __init__(self, commands: Connection) -> None:
        self._commands = commands
        self._queue: "queue.SimpleQueue[Any]" = queue.SimpleQueue()
        self.gone = threading.Event()
        threading.Thread(target=self._read, name="tuneflows-inbox", daemon=True).start()

    def get(self, timeout: Optional[float] = None) -> Optional[tuple]:
        """The next command ``(method, key, args, wants_reply)``; None when the driver is
        gone; ``()`` when none came within ``timeout`` seconds (None: wait for one)."""
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            return ()
        if item is None:
            self._queue.put(None)  # later calls see it too
        return item

    def empty(self) -> bool:
        """No command is waiting."""
        return self._queue.empty()

    def driver_gone(self, why: str) -> None:
        """The driver died: what is queued is still handled, then :meth:`get` returns None."""
        if not self.gone.is_set():
            self.gone.set()
            logger.info("The driver is gone (%s): writing what is held, then exiting.", why)
            self._queue.put(None)

    def _read(self) -> None:
        while True:
            try:
                item = self._commands.recv()
            except (EOFError, OSError):
                self.gone.set()
                self._queue.put(None)
                return
            self._queue.put(item)


def watch_parent(driver_pid: int, inbox: CommandInbox) -> None:
    """Ends the writer when the driver process dies, even by SIGKILL: Linux sends
    SIGTERM on its death (``PR_SET_PDEATHSIG``); everywhere a thread polls the parent
    pid. A SIGTERM while the driver lives (the whole process group told to stop) is
    left to the driver, which ends the writer through the pipe once it has recorded
    the experiment's end."""

    def parent_died() -> bool:
        return os.getppid() != driver_pid

    def on_sigterm(signum: int, frame: Any) -> None:
        if parent_died():
            inbox.driver_gone("parent-death signal")

    signal.signal(signal.SIGTERM, on_sigterm)
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: the poll below still works
            pass

    def poll() -> None:
        while not inbox.gone.wait(PARENT_POLL_S):
            if parent_died():
                inbox.driver_gone(f"parent pid {driver_pid} exited")
                return

    threading.Thread(target=poll, name="tuneflows-parent-watch", daemon=True).start()
    if parent_died():  # it died before the signal was armed
        inbox.driver_gone(f"parent pid {driver_pid} exited")


def serve(inbox: CommandInbox, replies: Connection) -> None:
    """The writer's loop: applies commands in order and flushes merged writes whenever
    no command is waiting (held new runs once they are due: the loop wakes for them).
    Ends when the driver closes the pipe or dies; the runs still
    open are then marked KILLED."""
    from tuneflows.recording.mlflow.batcher import MlflowBatcher
    from tuneflows.recording.mlflow.store import MlflowStore
    from tuneflows.recording.retry import Outage

    stores: dict[tuple[str, str], Any] = {}  # (name, uri) -> MlflowStore or its error
    writers: dict[str, MlflowBatcher] = {}
    closed: dict[str, dict[str, Any]] = {}  # experiment key -> what its records lack
    outage = Outage()

    def prepare_store(name: str, local_dir: str, uri: str) -> None:
        if (name, uri) not in stores:
            try:
                stores[name, uri] = MlflowStore(name, local_dir, uri)
            except Exception as exc:  # noqa: BLE001 - reported when the experiment opens
                stores[name, uri] = exc

    def store_for(name: str, local_dir: str, uri: str) -> MlflowStore:
        prepare_store(name, local_dir, uri)
        if isinstance(stores[name, uri], Exception):
            # failed while the driver started (e.g. another process was creating the
            # same new store): opened once more now, then the error is the experiment's
            del stores[name, uri]
            prepare_store(name, local_dir, uri)
        store = stores[name, uri]
        if isinstance(store, Exception):
            del stores[name, uri]  # the next attempt tries again
            raise store
        return store

    def lost(writer: MlflowBatcher) -> dict[str, Any]:
        return {"trials": sorted(writer.lost_trials), "parent": writer.parent_lost}

    def handle(command: str, key: str, args: tuple) -> Any:
        method = WriterCommand(command)  # an unknown command is an error, reported or logged
        if method == WriterCommand.PREPARE:
            prepare_store(*args)
            return None
        if method == WriterCommand.SYNC:
            return None
        if method == WriterCommand.OPEN:
            name, local_dir, uri, run_name, tags, parent_run_id = args
            store = store_for(name, local_dir, uri)
            parent = store.open_experiment(key, run_name, tags, parent_run_id)
            writers[key] = MlflowBatcher(store, owns_parent=parent_run_id is None, outage=outage)
            return parent, store.experiment_id
        if method in (WriterCommand.END_EXPERIMENT, WriterCommand.CLOSE_EXPERIMENT):
            writer = writers.pop(key, None)
            if writer is None:
                return closed.pop(key, None)
            if method == WriterCommand.END_EXPERIMENT:
                writer.end_experiment(*args)
                return lost(writer)
            writer.flush_all()
            closed[key] = lost(writer)
            return None
        if method == WriterCommand.LOST_RECORDS:
            return closed.pop(key, None)
        if method in BATCHER_COMMANDS and key in writers:  # an experiment closed: dropped
            return getattr(writers[key], method.value)(*args)
        return None

    while True:
        wait = None
        if inbox.empty():
            waits = [w for w in (writer.flush_due() for writer in writers.values())
                     if w is not None]
            wait = min(waits, default=None)
        command = inbox.get(wait)
        if command == ():
            continue
        if command is None:
            break
        method, key, args, wants_reply = command
        try:
            value, ok = handle(method, key, args), True
        except Exception as exc:  # noqa: BLE001 - reported to the driver or logged
            value, ok = f"{type(exc).__name__}: {exc}", False
            if not wants_reply:
                logger.warning("MLflow command %s failed: %s", method, value)
        message = None
        if wants_reply:
            message = (REPLY, ok, value)
        elif method == WriterCommand.START_TRIAL and ok and isinstance(value, str):
            message = (RUN_CREATED, key, args[0], value)  # the driver links to the run
        if message is not None:
            try:
                replies.send(message)
            except OSError:  # the driver is gone
                pass
    _exit_within(EXIT_GRACE_S)
    for key, writer in writers.items():
        killed = writer.kill_open_runs("the tuneflows driver exited before ending its experiment")
        if killed:
            logger.warning("The driver exited before ending experiment %s: %d MLflow run(s) "
                           "marked KILLED.", key, killed)


def _exit_within(seconds: float) -> None:
    """Ends the process ``seconds`` from now, whatever it is doing then."""
    timer = threading.Timer(seconds, os._exit, (3,))
    timer.daemon = True
    timer.start()


def main(argv: Sequence[str]) -> None:
    """Entry point of the writer process: ``<command fd> <reply fd> <driver pid>``."""
    os.environ.update(writer_http_settings(os.environ))  # before MLflow is imported
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the driver, which closes the pipe
    logging.basicConfig(level=logging.WARNING, format="tuneflows MLflow writer: %(message)s")
    logging.getLogger("urllib3").setLevel(logging.ERROR)  # each retry of a dead server
    commands = Connection(int(argv[0]), writable=False)
    replies = Connection(int(argv[1]), readable=False)
    inbox = CommandInbox(commands)
    watch_parent(int(argv[2]), inbox)
    serve(inbox, replies)


if __name__ == "__main__":
    main(sys.argv[1:])
