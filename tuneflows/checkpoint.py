"""``Checkpoint``: Ray Tune 2's handle on a directory of saved state, as a function
trainable reports it (``tuneflows.report(metrics, checkpoint=...)``) and reads it back
(``tuneflows.get_checkpoint()``), and as a :class:`~tuneflows.modern.result_grid.Result`
gives it."""

from __future__ import annotations

import contextlib
import os
import shutil
from typing import Iterator, Optional, Union

#: The file tuneflows adds to a checkpoint directory (its iteration and times).
METADATA_FILE = ".tune_metadata"


class Checkpoint:
    """A directory of saved state.

    Args:
        path: The directory.

    Example:
        >>> import os, tempfile
        >>> source = tempfile.mkdtemp()
        >>> with open(os.path.join(source, "state.json"), "w") as f:
        ...     _ = f.write("{}")
        >>> checkpoint = Checkpoint.from_directory(source)
        >>> with checkpoint.as_directory() as directory:
        ...     sorted(os.listdir(directory))
        ['state.json']
        >>> copy = checkpoint.to_directory(os.path.join(tempfile.mkdtemp(), "copy"))
        >>> os.listdir(copy)
        ['state.json']
    """

    def __init__(self, path: Union[str, os.PathLike]) -> None:
        self.path = os.fspath(path)

    @classmethod
    def from_directory(cls, path: Union[str, os.PathLike]) -> "Checkpoint":
        """The checkpoint of directory ``path``.

        Raises:
            ValueError: ``path`` is not a directory.
        """
        if not os.path.isdir(path):
            raise ValueError(f"Checkpoint.from_directory: {os.fspath(path)!r} is not a directory.")
        return cls(path)

    @contextlib.contextmanager
    def as_directory(self) -> Iterator[str]:
        """The checkpoint's directory, to read inside a ``with`` block."""
        yield self.path

    def to_directory(self, path: Optional[Union[str, os.PathLike]] = None) -> str:
        """Copies the checkpoint's files (not tuneflows' metadata) to ``path`` (default a
        new temporary directory) and returns it."""
        if path is None:
            import tempfile

            path = tempfile.mkdtemp(prefix="checkpoint_")
        target = os.fspath(path)
        shutil.copytree(self.path, target, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(METADATA_FILE))
        return target

    def __repr__(self) -> str:
        return f"Checkpoint(path={self.path!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Checkpoint) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)
