"""An MLflow writer: a child process that makes MLflow calls for the driver, so the
driver never spends its CPU (and the GIL) in MLflow's SQLAlchemy store
(:mod:`tuneflows.recording.mlflow_writer_pool` runs several and shares trials among them).

The driver sends plain data (metric rows, param strings) over a pipe and never waits,
except for two requests: opening an experiment (so a bad tracking URI fails before any
trial starts) and ending it (so ``run_experiments`` returns with every record written).
The child merges each run's writes (:class:`~tuneflows.recording.mlflow_batcher.MlflowBatcher`)
whenever it has a backlog. If the driver dies, the child sees the pipe close, writes
what it holds and exits; a resumed experiment finds its runs by tag.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from typing import Any, Mapping, Optional, Sequence

from tuneflows.error import TuneError
from tuneflows.recording.mlflow_store import tracking_uri_for

logger = logging.getLogger(__name__)

# Commands the child accepts for an open experiment (MlflowBatcher methods).
_WRITER_COMMANDS = frozenset({
    "start_trial", "log_results", "set_tags", "log_artifacts", "backfill",
    "reopen_trial", "end_trial", "log_parent",
})


class MlflowWriterProcess:
    """One MLflow writer process; it serves any number of experiments until
    :meth:`close` (or until this process exits, which closes the pipe).
    :class:`~tuneflows.recording.mlflow_writer_pool.MlflowWriterPool` runs several."""

    def __init__(self) -> None:
        command_read, command_write = os.pipe()
        reply_read, reply_write = os.pipe()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tuneflows.recording.mlflow_writer_process",
             str(command_read), str(reply_write)],
            pass_fds=(command_read, reply_write),
        )
        os.close(command_read)
        os.close(reply_write)
        self._commands = Connection(command_write, readable=False)
        self._replies = Connection(reply_read, writable=False)
        self._lock = threading.Lock()
        self._broken = False

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
        self.send("prepare", "", (experiment_name, local_dir, tracking_uri_for(local_dir)))

    def open_experiment(self, experiment_name: str, local_dir: str, experiment_id: str,
                        run_name: str, tags: Mapping[str, str],
                        parent_run_id: Optional[str] = None) -> str:
        """Creates (or, on resume, reopens) the experiment's parent run, or, given
        ``parent_run_id``, attaches to the one another writer opened.

        Returns:
            The parent run's id.

        Raises:
            TuneError: MLflow cannot be written (e.g. a bad ``MLFLOW_TRACKING_URI``).
        """
        uri = tracking_uri_for(local_dir)
        ok, value = self.request("open", experiment_id,
                                 (experiment_name, local_dir, uri, run_name, dict(tags), parent_run_id))
        if not ok:
            raise TuneError(f"Cannot record experiment {experiment_name!r} in MLflow at "
                            f"{uri!r} (MLFLOW_TRACKING_URI): {value}")
        return value

    def sync(self) -> bool:
        """Waits until the writer has handled every earlier command; False if it stopped."""
        return self.request("sync", "", ())[0]

    def send(self, method: str, key: str, args: tuple) -> None:
        """Queues a command without waiting for it to be done; never raises. Blocks
        only while the pipe is full (the writer is behind), so the runner sends from
        its recorder thread, never from the experiment loop."""
        with self._lock:
            if self._broken:
                return
            try:
                self._commands.send((method, key, args, False))
            except (OSError, ValueError) as exc:
                self._mark_broken(exc)

    def request(self, method: str, key: str, args: tuple) -> tuple[bool, Any]:
        """Sends a command and waits for its reply: ``(ok, value or error text)``."""
        with self._lock:
            if self._broken:
                return False, "the MLflow writer process is not running"
            try:
                self._commands.send((method, key, args, True))
                while not self._replies.poll(1.0):
                    if self._process.poll() is not None:
                        raise EOFError(f"exit code {self._process.returncode}")
                return self._replies.recv()
            except (OSError, EOFError, ValueError) as exc:
                self._mark_broken(exc)
                return False, f"the MLflow writer process stopped ({exc})"

    def close(self, timeout: Optional[float] = None) -> None:
        """Lets the writer finish what it holds and waits for it to exit."""
        with self._lock:
            self._broken = True
            self._commands.close()
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._replies.close()

    def _mark_broken(self, exc: BaseException) -> None:
        self._broken = True
        logger.warning("An MLflow writer process stopped (%s); later records go to the "
                       "trial files only.", exc)


# --------------------------------------------------------------------- the child process
def serve(commands: Connection, replies: Connection) -> None:
    """The writer's loop: applies commands in order and flushes merged writes whenever
    no command is waiting. Ends when the driver closes the pipe."""
    from tuneflows.recording.mlflow_batcher import MlflowBatcher
    from tuneflows.recording.mlflow_store import MlflowStore

    stores: dict[tuple[str, str], Any] = {}  # (name, uri) -> MlflowStore or its error
    writers: dict[str, MlflowBatcher] = {}

    def prepare_store(name: str, local_dir: str, uri: str) -> None:
        if (name, uri) not in stores:
            try:
                stores[name, uri] = MlflowStore(name, local_dir, uri)
            except Exception as exc:  # noqa: BLE001 - reported when the experiment opens
                stores[name, uri] = exc

    def store_for(name: str, local_dir: str, uri: str) -> MlflowStore:
        prepare_store(name, local_dir, uri)
        store = stores[name, uri]
        if isinstance(store, Exception):
            del stores[name, uri]  # the next attempt tries again
            raise store
        return store

    def handle(method: str, key: str, args: tuple) -> Any:
        if method == "prepare":
            prepare_store(*args)
            return None
        if method == "sync":
            return None
        if method == "open":
            name, local_dir, uri, run_name, tags, parent_run_id = args
            store = store_for(name, local_dir, uri)
            parent = store.open_experiment(key, run_name, tags, parent_run_id)
            writers[key] = MlflowBatcher(store)
            return parent
        if method in ("end_experiment", "close_experiment"):
            writer = writers.pop(key, None)
            if writer is None:
                return None
            if method == "end_experiment":
                writer.end_experiment(*args)
            else:
                writer.flush_all()
            return None
        if method in _WRITER_COMMANDS and key in writers:
            return getattr(writers[key], method)(*args)
        return None

    while True:
        if not commands.poll(0):
            for writer in writers.values():
                writer.flush_all()
        try:
            method, key, args, wants_reply = commands.recv()
        except EOFError:
            break
        try:
            value, ok = handle(method, key, args), True
        except Exception as exc:  # noqa: BLE001 - reported to the driver or logged
            value, ok = f"{type(exc).__name__}: {exc}", False
            if not wants_reply:
                logger.warning("MLflow command %s failed: %s", method, value)
        if wants_reply:
            replies.send((ok, value))
    for writer in writers.values():
        writer.flush_all()


def main(argv: Sequence[str]) -> None:
    """Entry point of the writer process: ``<command fd> <reply fd>``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the driver, which closes the pipe
    logging.basicConfig(level=logging.WARNING, format="tuneflows MLflow writer: %(message)s")
    commands = Connection(int(argv[0]), writable=False)
    replies = Connection(int(argv[1]), readable=False)
    serve(commands, replies)


if __name__ == "__main__":
    main(sys.argv[1:])
