"""The experiment's state on disk, written atomically after decisions, so a killed
driver resumes without re-running finished trials or losing recorded results.

State is data: ``experiment_state.json`` (unfinished trials, checkpoints, scheduler and
searcher state) and ``finished_trials.jsonl`` (a finished trial's record a line), with the
append-only parts of scheduler and searcher state in ``state_log.*.jsonl``
(:mod:`tuneflows.runs.state_logs`), are JSON, so reading them (on resume, or to check
whether an experiment exists) runs no code. Only ``tuneflows resume DIR`` without a
script needs the trainable, scheduler and searcher objects: they are in
``experiment.pkl``, which nothing else reads.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from typing import Any, Optional

from tuneflows.error import TuneError
from tuneflows.model.plain_json import plain_json
from tuneflows.runs.atomic_files import append_synced, write_atomically
from tuneflows.runs.state_logs import attach_logs

STATE_FILE = "experiment_state.json"
FINISHED_FILE = "finished_trials.jsonl"
CONFIGURATION_FILE = "experiment.pkl"
LEGACY_STATE_FILE = "experiment_state.pkl"  # tuneflows before state version 4: pickles
STATE_VERSION = 4  # 3: pickles; 4: JSON, the configuration in its own file
UNSERIALIZABLE = "__unserializable__"


@dataclass
class ExperimentState:
    """Everything needed to continue an experiment, as plain data.

    Attributes:
        version: Format version; a mismatch is refused with a clear error.
        experiment_id: Id shared by the experiment's trials, runs and records.
        trials: Each trial's fields (``Trial.to_dict()``) in ``trial_order``. On disk
            only unfinished trials are here: a finished trial's record is appended once
            to ``finished_trials.jsonl``, so a write does not grow with finished trials.
        trial_order: Every trial's id, in creation order (on disk: a reference to its log).
        checkpoints: Trial id to (path, iteration) of its latest checkpoint.
        scheduler_state / searcher_state: Their ``get_state()``; on disk their
            append-only parts are references to their logs, read back by :func:`load_state`.
        searcher_done: The searcher has said FINISHED.
        rounds: Trial id to the number of rounds played (names of Prefect task runs). On
            disk only unfinished trials' are here; :func:`load_state` adds the others.
        finished_rounds: [trial id, rounds] of the trials whose records are in
            ``finished_trials.jsonl`` (on disk: a reference to their log; read back into
            ``rounds``).
        metric / mode: What the experiment is judged by (for ``tuneflows ls``).
        spec: The settings that shape its trials
            (:func:`~tuneflows.runs.spec_changes.spec_record`), compared on resume.
    """

    experiment_id: str
    trials: list[dict[str, Any]] = field(default_factory=list)
    trial_order: list[str] = field(default_factory=list)
    checkpoints: dict[str, tuple[str, int]] = field(default_factory=dict)
    scheduler_state: dict[str, Any] = field(default_factory=dict)
    searcher_state: dict[str, Any] = field(default_factory=dict)
    searcher_done: bool = False
    rounds: dict[str, int] = field(default_factory=dict)
    finished_rounds: list[list] = field(default_factory=list)
    metric: Optional[str] = None
    mode: str = "max"
    spec: dict[str, Any] = field(default_factory=dict)
    version: int = STATE_VERSION


def plain(value: Any) -> Any:
    """``value`` as JSON data (:func:`~tuneflows.model.plain_json.plain_json`), with NaN
    kept and anything else kept as its ``repr`` under :data:`UNSERIALIZABLE` (and
    cannot be resumed exactly).

    Example:
        >>> plain({"a": (1, 2), 3: {"b": None}, "f": len})
        {'a': [1, 2], '3': {'b': None}, 'f': {'__unserializable__': '<built-in function len>'}}
    """
    return plain_json(value, unknown=lambda v: {UNSERIALIZABLE: repr(v)}, keep_non_finite=True)


def state_path(experiment_dir: str) -> str:
    """Where an experiment's state lives."""
    return os.path.join(experiment_dir, STATE_FILE)


def encode_state(state: ExperimentState) -> bytes:
    """The state file's bytes (JSON).

    Its fields go through :func:`plain` once, uncopied (a deep copy of every field
    first, scheduler and searcher state included, cost as much again as the encoding);
    a dataclass inside them becomes its fields, as ``dataclasses.asdict`` made it.
    """
    data = {f.name: getattr(state, f.name) for f in fields(state)}
    return json.dumps(plain_json(data, unknown=_state_value, keep_non_finite=True),
                      sort_keys=True).encode()


def _state_value(value: Any) -> Any:
    """What :func:`encode_state` makes of a value JSON cannot hold."""
    if is_dataclass(value) and not isinstance(value, type):
        return plain(asdict(value))
    return {UNSERIALIZABLE: repr(value)}


def save_state(experiment_dir: str, state: ExperimentState) -> None:
    """Writes the state atomically (temporary file, fsync, rename)."""
    write_atomically(state_path(experiment_dir), encode_state(state))


def save_configuration(experiment_dir: str, blob: bytes) -> None:
    """Writes ``experiment.pkl``: the pickled experiment, scheduler and searcher that
    ``tuneflows resume DIR`` runs again (the only pickle tuneflows reads, and only there)."""
    write_atomically(os.path.join(experiment_dir, CONFIGURATION_FILE), blob)


def append_finished(experiment_dir: str, records: list[dict[str, Any]]) -> None:
    """Appends finished trials' records to ``finished_trials.jsonl`` (flushed and
    synced before the state that stops listing them as unfinished is written)."""
    lines = "".join(json.dumps(plain(r), sort_keys=True) + "\n" for r in records)
    append_synced(os.path.join(experiment_dir, FINISHED_FILE), lines.encode())


def _read_finished(experiment_dir: str) -> dict[str, dict[str, Any]]:
    """Finished trials' records by id, the last appended winning. A last line cut
    short by a kill is dropped (the state still lists that trial as unfinished);
    any other bad line is an error naming the file and the line."""
    records: dict[str, dict[str, Any]] = {}
    path = os.path.join(experiment_dir, FINISHED_FILE)
    if not os.path.exists(path):
        return records
    with open(path) as f:
        lines = f.read().split("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            records[record["trial_id"]] = record
        except (ValueError, KeyError, TypeError) as exc:
            if number == len(lines):  # no newline after it: an append cut short
                continue
            raise TuneError(f"Finished-trial record {number} of {path!r} is corrupt "
                            f"({type(exc).__name__}: {exc}). Fix or remove that line to "
                            f"resume, or move the directory away to start fresh.") from exc
    return records


def load_state(experiment_dir: str) -> Optional[ExperimentState]:
    """Reads an experiment's state; None when the directory holds none.

    Raises:
        TuneError: The file is corrupt, from an incompatible version, or an old
            pickle (see ``tuneflows migrate-state``).
    """
    path = state_path(experiment_dir)
    if not os.path.exists(path):
        if os.path.exists(os.path.join(experiment_dir, LEGACY_STATE_FILE)):
            raise TuneError(
                f"{experiment_dir!r} holds a state pickle of an older tuneflows, which is "
                f"not loaded because a pickle can run code. If you trust the file, convert "
                f"it with `tuneflows migrate-state {experiment_dir}`.")
        return None
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as exc:
        raise TuneError(
            f"Cannot read experiment state {path!r} ({type(exc).__name__}: {exc}). Its "
            f"trial records are untouched; move the directory away to start fresh."
        ) from exc
    version = data.get("version") if isinstance(data, dict) else None
    if version != STATE_VERSION:
        raise TuneError(
            f"Experiment state {path!r} has format version {version!r}, but this tuneflows "
            f"reads version {STATE_VERSION}. Resume it with the tuneflows that wrote it, or "
            f"move the directory away to start fresh.")
    try:
        state = ExperimentState(**data)
    except TypeError as exc:
        raise TuneError(f"Experiment state {path!r} is malformed: {exc}.") from exc
    state.checkpoints = {k: (v[0], int(v[1])) for k, v in state.checkpoints.items()}
    state.trial_order = attach_logs(experiment_dir, state.trial_order)
    state.rounds = {**dict(attach_logs(experiment_dir, state.finished_rounds)), **state.rounds}
    state.finished_rounds = []
    state.scheduler_state = attach_logs(experiment_dir, state.scheduler_state)
    state.searcher_state = attach_logs(experiment_dir, state.searcher_state)
    finished = _read_finished(experiment_dir)
    unfinished = {record["trial_id"]: record for record in state.trials}
    state.trials = [unfinished.get(trial_id) or finished[trial_id] for trial_id in state.trial_order
                    if trial_id in unfinished or trial_id in finished]
    return state

