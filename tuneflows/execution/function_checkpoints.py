"""The checkpoints a function trainable reports (Ray Tune 2's ``report(metrics,
checkpoint=...)``, 1.x's ``with checkpoint_dir(step)``) and the one it restores from
(``get_checkpoint()``).

A reported directory is packed into bytes when it is reported (the function may delete
it as soon as ``report`` returns) and tied to the result it came with; the trial's actor
hands the newest one to the driver at the end of the round, which stores it as every
other checkpoint (decision 4: checkpoints travel as bytes).
"""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
from typing import Any, Optional

from tuneflows.checkpoint import METADATA_FILE, Checkpoint
from tuneflows.trainable import pack_directory, unpack_directory


class ReportedCheckpoints:
    """A function trainable's reported and restored checkpoints.

    Example:
        >>> source = tempfile.mkdtemp()
        >>> with open(os.path.join(source, "state.txt"), "w") as f:
        ...     _ = f.write("3")
        >>> held = ReportedCheckpoints()
        >>> held.hold(Checkpoint.from_directory(source))
        >>> held.attach({"iteration": 3, "time_total": 1.0, "timesteps_total": None})
        >>> held.has_new, held.iteration
        (True, 3)
        >>> restored = ReportedCheckpoints()
        >>> restored.restore_from(unpacked(held.packed()))
        >>> sorted(os.listdir(restored.restored.path)), restored.has_new
        (['state.txt'], False)
    """

    def __init__(self) -> None:
        self._pending: Optional[bytes] = None  # reported, waiting for its result
        self._latest: Optional[bytes] = None
        self._meta: dict[str, Any] = {}
        self.has_new = False  # reported since the driver last took one
        self.restored: Optional[Checkpoint] = None

    def hold(self, checkpoint: Any) -> None:
        """Packs a reported checkpoint; it belongs to the next completed result.

        Raises:
            TypeError: ``checkpoint`` is not a :class:`~tuneflows.Checkpoint`.
        """
        if not isinstance(checkpoint, Checkpoint):
            raise TypeError(f"report(checkpoint=...) takes a tuneflows.Checkpoint (e.g. "
                            f"Checkpoint.from_directory(path)), got {checkpoint!r}.")
        self._pending = pack_directory(checkpoint.path)

    def attach(self, meta: dict[str, Any]) -> None:
        """Ties the held checkpoint (if any) to the result just completed, whose
        ``iteration``, ``time_total`` and ``timesteps_total`` ``meta`` gives."""
        if self._pending is not None:
            self._latest, self._pending, self._meta = self._pending, None, dict(meta)
            self.has_new = True

    @property
    def iteration(self) -> Optional[int]:
        """The iteration of the newest checkpoint (None before any)."""
        return self._meta.get("iteration") if self._latest is not None else None

    def packed(self) -> bytes:
        """The newest checkpoint as a tuneflows checkpoint archive (its files and
        ``.tune_metadata``); it is no longer new.

        Raises:
            ValueError: Nothing was reported or restored.
        """
        if self._latest is None:
            raise ValueError("The function reported no checkpoint.")
        work = tempfile.mkdtemp(prefix="tune_reported_")
        try:
            unpack_directory(self._latest, work)
            with open(os.path.join(work, METADATA_FILE), "wb") as f:
                pickle.dump({"saved": ".", **self._meta}, f)
            self.has_new = False
            return pack_directory(work)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def restore_from(self, directory: str, meta: Optional[dict[str, Any]] = None) -> None:
        """Keeps a copy of a checkpoint directory for ``get_checkpoint()`` (the caller
        removes ``directory``); it is also the newest checkpoint until one is reported."""
        self.discard()
        copy = tempfile.mkdtemp(prefix="tune_restored_")
        shutil.copytree(directory, copy, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(METADATA_FILE))
        self.restored = Checkpoint(copy)
        self._latest, self._meta, self.has_new = pack_directory(copy), dict(meta or {}), False

    def discard(self) -> None:
        """Removes the restored copy."""
        if self.restored is not None:
            shutil.rmtree(self.restored.path, ignore_errors=True)
            self.restored = None


def unpacked(blob: bytes) -> str:
    """A new temporary directory holding a packed checkpoint (for examples and tests)."""
    directory = tempfile.mkdtemp(prefix="tune_unpacked_")
    unpack_directory(blob, directory)
    return directory
