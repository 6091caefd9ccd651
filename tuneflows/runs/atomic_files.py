"""Files a killed driver never leaves half-written: whole files replaced atomically, and
appends synced to disk before anything that refers to them is written."""

from __future__ import annotations

import os
from typing import Optional


def write_atomically(path: str, data: bytes) -> None:
    """Writes ``path`` whole: a temporary file beside it, synced, then renamed over it.

    Example:
        >>> import tempfile; path = os.path.join(tempfile.mkdtemp(), "state.json")
        >>> write_atomically(path, b"{}"); open(path).read()
        '{}'
    """
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def append_synced(path: str, data: bytes, at: Optional[int] = None) -> None:
    """Appends ``data`` to ``path`` (made if missing) and syncs it to disk.

    Args:
        path: The file.
        data: The bytes to add.
        at: Where the file's known content ends: anything after it (an append cut
            short by an error) is cut off first, so ``data`` follows the known content.

    Example:
        >>> import tempfile; path = os.path.join(tempfile.mkdtemp(), "log.jsonl")
        >>> append_synced(path, b"1\\n"); append_synced(path, b"2\\n")
        >>> append_synced(path, b"3\\n", at=2); open(path).read()
        '1\\n3\\n'
    """
    with open(path, "ab") as f:
        if at is not None and f.tell() != at:
            f.truncate(at)
            f.seek(at)
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
