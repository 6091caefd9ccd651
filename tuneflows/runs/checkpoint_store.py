"""Driver-side checkpoint store: checkpoints arrive as bytes from trial actors and are
written under the trial's logdir, pruned to ``keep_checkpoints_num``, and read back as
bytes to restore, resume or clone a trial."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from typing import Optional

from tuneflows.trainable import pack_directory, unpack_directory


@dataclass
class CheckpointRecord:
    """A checkpoint on the driver's disk."""

    path: str
    iteration: int
    score: Optional[float] = None


class CheckpointStore:
    """Keeps each trial's checkpoints.

    Args:
        keep_num: Keep at most this many per trial (None: all).
        score_attr: Result key ranking checkpoints (higher is better; prefix ``min-``
            for lower is better); None keeps the newest.
    """

    def __init__(self, keep_num: Optional[int] = None, score_attr: Optional[str] = None) -> None:
        self.keep_num = keep_num
        self.score_attr = score_attr
        self._records: dict[str, list[CheckpointRecord]] = {}
        self._latest: dict[str, CheckpointRecord] = {}

    def save(self, trial_id: str, logdir: str, blob: bytes, iteration: int,
             result: Optional[dict] = None) -> CheckpointRecord:
        """Writes ``blob`` to ``<logdir>/checkpoint_<iteration>`` and prunes old ones.

        Returns:
            The new record; the pruned directories are gone from disk.
        """
        path = os.path.join(logdir, f"checkpoint_{iteration:06d}")
        tmp = path + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        unpack_directory(blob, tmp)
        shutil.rmtree(path, ignore_errors=True)
        os.replace(tmp, path)
        record = CheckpointRecord(path, iteration, self._score(result))
        records = [r for r in self._records.get(trial_id, []) if r.path != path]
        records.append(record)
        self._latest[trial_id] = record
        self._records[trial_id] = self._prune(records)
        return record

    def _score(self, result: Optional[dict]) -> Optional[float]:
        if not self.score_attr or not result:
            return None
        key = self.score_attr[4:] if self.score_attr.startswith("min-") else self.score_attr
        value = result.get(key)
        if value is None:
            return None
        return -float(value) if self.score_attr.startswith("min-") else float(value)

    def _prune(self, records: list[CheckpointRecord]) -> list[CheckpointRecord]:
        if self.keep_num is None or len(records) <= self.keep_num:
            return records
        latest = records[-1]
        if self.score_attr:
            ranked = sorted(records, key=lambda r: (r.score is not None, r.score or 0.0, r.iteration))
        else:
            ranked = sorted(records, key=lambda r: r.iteration)
        keep = ranked[-self.keep_num:]
        if latest not in keep:  # the newest is always kept: resume needs it
            keep = keep[1:] + [latest]
        for record in records:
            if record not in keep:
                shutil.rmtree(record.path, ignore_errors=True)
        return sorted(keep, key=lambda r: r.iteration)

    def latest(self, trial_id: str) -> Optional[CheckpointRecord]:
        """The newest checkpoint of a trial."""
        return self._latest.get(trial_id)

    def latest_positions(self) -> dict[str, tuple[str, int]]:
        """Trial id to (path, iteration) of its newest checkpoint, for trials that have one."""
        return {trial_id: (r.path, r.iteration) for trial_id, r in self._latest.items()}

    def load(self, trial_id: str) -> Optional[bytes]:
        """The newest checkpoint of a trial as bytes, or None."""
        record = self._latest.get(trial_id)
        return read_checkpoint(record.path) if record else None

    def adopt(self, trial_id: str, path: str, iteration: int) -> None:
        """Registers an existing checkpoint directory (experiment resume)."""
        record = CheckpointRecord(path, iteration)
        self._records.setdefault(trial_id, []).append(record)
        self._latest[trial_id] = record


def read_checkpoint(path: str) -> bytes:
    """Packs a checkpoint directory into bytes, with a clear error when it is unusable."""
    if not os.path.isdir(path):
        raise ValueError(f"Checkpoint {path!r} does not exist or is not a directory.")
    if not os.path.exists(os.path.join(path, ".tune_metadata")):
        raise ValueError(f"Checkpoint {path!r} is not a tuneflows checkpoint (no .tune_metadata).")
    return pack_directory(path)
