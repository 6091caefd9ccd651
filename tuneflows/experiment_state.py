"""The experiment's state on disk, written atomically after decisions, so a killed
driver resumes without re-running finished trials or losing recorded results."""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, field
from typing import Any, Optional

from tuneflows.error import TuneError

STATE_FILE = "experiment_state.pkl"
FINISHED_FILE = "finished_trials.pkl"
STATE_VERSION = 3  # 2: MLflow runs are found by tag; 3: finished trials in FINISHED_FILE


@dataclass
class ExperimentState:
    """Everything needed to continue an experiment.

    Attributes:
        version: Format version; a mismatch is refused with a clear error.
        experiment_id: Id shared by the experiment's trials, runs and records.
        experiment: The cloudpickled :class:`~tuneflows.spec.Experiment` (with its
            trainable), so ``tuneflows resume <dir>`` needs no user script.
        trials: Each trial's fields (``Trial.to_dict()``) in ``trial_order``. On disk
            only unfinished trials are here: a finished trial's record is appended once
            to ``finished_trials.pkl``, so a write does not grow with finished trials.
        trial_order: Every trial's id, in creation order.
        checkpoints: Trial id to (path, iteration) of its latest checkpoint.
        scheduler_state / searcher_state: Their ``get_state()``.
        searcher_done: The searcher has said FINISHED.
        rounds: Trial id to the number of rounds played (names of Prefect task runs).
        scheduler / searcher: The cloudpickled objects (their configuration), used by
            ``tuneflows resume <dir>``; a resuming program passes its own instead.
    """

    experiment_id: str
    experiment: bytes
    trials: list[dict[str, Any]] = field(default_factory=list)
    trial_order: list[str] = field(default_factory=list)
    checkpoints: dict[str, tuple[str, int]] = field(default_factory=dict)
    scheduler_state: dict[str, Any] = field(default_factory=dict)
    searcher_state: dict[str, Any] = field(default_factory=dict)
    searcher_done: bool = False
    rounds: dict[str, int] = field(default_factory=dict)
    scheduler: bytes = b""
    searcher: bytes = b""
    version: int = STATE_VERSION


def state_path(experiment_dir: str) -> str:
    """Where an experiment's state lives."""
    return os.path.join(experiment_dir, STATE_FILE)


def save_state(experiment_dir: str, state: ExperimentState) -> None:
    """Writes the state atomically (temporary file, fsync, rename)."""
    path = state_path(experiment_dir)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        pickle.dump(state, f, protocol=pickle.HIGHEST_PROTOCOL)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def append_finished(experiment_dir: str, records: list[dict[str, Any]]) -> None:
    """Appends finished trials' records to ``finished_trials.pkl`` (flushed and synced
    before the state that stops listing them as unfinished is written)."""
    with open(os.path.join(experiment_dir, FINISHED_FILE), "ab") as f:
        for record in records:
            pickle.dump(record, f, protocol=pickle.HIGHEST_PROTOCOL)
        f.flush()
        os.fsync(f.fileno())


def _read_finished(experiment_dir: str) -> dict[str, dict[str, Any]]:
    """Finished trials' records by id, the last appended winning; a record cut short by
    a kill ends the file."""
    records: dict[str, dict[str, Any]] = {}
    path = os.path.join(experiment_dir, FINISHED_FILE)
    if not os.path.exists(path):
        return records
    with open(path, "rb") as f:
        while True:
            try:
                record = pickle.load(f)
            except (EOFError, pickle.UnpicklingError, ValueError):
                return records
            records[record["trial_id"]] = record


def load_state(experiment_dir: str) -> Optional[ExperimentState]:
    """Reads an experiment's state; None when the directory holds none.

    Raises:
        TuneError: The file is corrupt or from an incompatible version.
    """
    path = state_path(experiment_dir)
    if not os.path.exists(path):
        return None
    try:
        with open(path, "rb") as f:
            state = pickle.load(f)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means "unreadable"
        raise TuneError(
            f"Cannot read experiment state {path!r} ({type(exc).__name__}: {exc}). Its "
            f"trial records are untouched; move the directory away to start fresh."
        ) from exc
    version = getattr(state, "version", None)
    if not isinstance(state, ExperimentState) or version != STATE_VERSION:
        raise TuneError(
            f"Experiment state {path!r} has format version {version!r}, but this tuneflows "
            f"reads version {STATE_VERSION}. Resume it with the tuneflows that wrote it, or "
            f"move the directory away to start fresh."
        )
    finished = _read_finished(experiment_dir)
    unfinished = {record["trial_id"]: record for record in state.trials}
    state.trials = [unfinished.get(trial_id) or finished[trial_id] for trial_id in state.trial_order
                    if trial_id in unfinished or trial_id in finished]
    return state
