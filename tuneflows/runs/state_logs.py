"""The append-only parts of scheduler and searcher state, kept in log files beside the
experiment's state instead of inside it.

A state write holds every part of ``get_state()`` again, so a part that grows with the
trials (HyperOpt's documents, one a trial) made each write dearer as trials finished.
Such a part is an :class:`~tuneflows.model.append_only.AppendOnlyList`: a write appends
only its items added since the last write to ``state_log.<where>.jsonl`` (one JSON item a
line, synced first) and the state holds a reference in its place: the log's name, and how
many items and bytes of it belong to this state. Reading the state back
(:func:`attach_logs`) reads that many bytes, so items appended by a write whose state was
never written (a kill between the two) are not read.

Example:
    >>> import tempfile
    >>> from tuneflows.model.append_only import AppendOnlyList
    >>> directory, settled = tempfile.mkdtemp(), AppendOnlyList([{"tid": 0}])
    >>> logs = StateLogs(directory)
    >>> state = logs.detach("searcher_state", {"settled": settled, "rng": 7})
    >>> state["settled"]
    {'__state_log__': 'state_log.searcher_state.settled.jsonl', 'items': 1, 'bytes': 11}
    >>> settled.append({"tid": 1})
    >>> state = logs.detach("searcher_state", {"settled": settled, "rng": 8})
    >>> attach_logs(directory, state)
    {'settled': [{'tid': 0}, {'tid': 1}], 'rng': 8}
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

from tuneflows.error import TuneError
from tuneflows.model.append_only import AppendOnlyList
from tuneflows.runs.atomic_files import append_synced, write_atomically

LOG_REFERENCE = "__state_log__"  #: the key of a reference to a log in a written state


class StateLogs:
    """Writes one experiment's state logs, remembering how much of each it has written.

    A log is written whole the first time a writer meets it (a resumed experiment's log
    once), and appended to after that.

    Args:
        experiment_dir: The experiment's directory.
    """

    def __init__(self, experiment_dir: str) -> None:
        self._dir = experiment_dir
        self._written: dict[str, tuple[int, int]] = {}  # log name -> (items, bytes) in it

    def detach(self, where: str, state: Any) -> Any:
        """``state`` with each :class:`AppendOnlyList` in it (at any depth of mappings)
        replaced by a reference to its log, to which its new items are written first.
        Mappings on the way to one are copied; nothing else is."""
        if isinstance(state, AppendOnlyList):
            return self._write(where, state)
        if not isinstance(state, Mapping):
            return state
        detached = None
        for key, value in state.items():
            if isinstance(value, (AppendOnlyList, Mapping)):
                new = self.detach(f"{where}.{key}", value)
                if new is not value:
                    detached = detached if detached is not None else dict(state)
                    detached[key] = new
        return state if detached is None else detached

    def _write(self, where: str, items: AppendOnlyList) -> dict[str, Any]:
        name = "state_log." + re.sub(r"[^A-Za-z0-9_.-]", "_", where) + ".jsonl"
        path = os.path.join(self._dir, name)
        count, size = self._written.get(name, (-1, 0))
        if count < 0 or len(items) < count:  # first met (or replaced): written whole
            data = _lines(items)
            write_atomically(path, data)
            count, size = len(items), len(data)
        elif len(items) > count:
            data = _lines(items[count:])
            append_synced(path, data, at=size)
            count, size = len(items), size + len(data)
        self._written[name] = (count, size)
        return {LOG_REFERENCE: name, "items": count, "bytes": size}


def _lines(items: list) -> bytes:
    return "".join(json.dumps(item, sort_keys=True) + "\n" for item in items).encode()


def attach_logs(experiment_dir: str, state: Any) -> Any:
    """``state`` as written by :meth:`StateLogs.detach`, with each log reference replaced
    by the items it stands for (as a list).

    Raises:
        TuneError: A log is missing, shorter than its reference, or not JSON lines.
    """
    if not isinstance(state, Mapping):
        return state
    if LOG_REFERENCE in state:
        return _read(experiment_dir, state)
    return {key: attach_logs(experiment_dir, value) if isinstance(value, Mapping) else value
            for key, value in state.items()}


def _read(experiment_dir: str, reference: Mapping[str, Any]) -> list:
    path = os.path.join(experiment_dir, os.path.basename(str(reference[LOG_REFERENCE])))
    try:
        with open(path, "rb") as f:
            data = f.read(int(reference["bytes"]))
        items = [json.loads(line) for line in data.decode().splitlines()]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TuneError(f"Cannot read the state log {path!r} ({type(exc).__name__}: {exc}). "
                        f"Move the experiment directory away to start fresh.") from exc
    if len(items) != reference["items"]:
        raise TuneError(f"The state log {path!r} holds {len(items)} items where the state "
                        f"expects {reference['items']}. Move the experiment directory away "
                        f"to start fresh.")
    return items
