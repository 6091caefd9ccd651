"""TensorBoard event files, one per trial in its logdir, so that
``tensorboard --logdir ~/ray_results/my_experiment`` shows every trial's curves (the
seed's "Visualizing Results").

Every numeric result key (nested keys joined with ``/``) is a scalar ``ray/tune/<key>``
against ``training_iteration``, as the seed wrote them; when a trial ends, its config
and last numeric results are written as TensorBoard hparams (the HParams tab). Written
with tensorboardX's protocol buffers and its synchronous event writer (no thread per
file), on the experiment recorder's thread. Without tensorboardX installed nothing is
written.

Example:
    >>> import os, tempfile
    >>> log = TensorBoardLog()
    >>> logdir = tempfile.mkdtemp()
    >>> log.write_results("t1", logdir, [{"training_iteration": 1, "acc": 0.5}])
    >>> log.end_trial("t1", {"lr": 0.1}, {"training_iteration": 1, "acc": 0.5})
    >>> [f.startswith("events.out.tfevents.") for f in os.listdir(logdir)]
    [True]
"""

from __future__ import annotations

import math
import os
import time
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from tuneflows.recording.trial_files import flatten

try:
    from tensorboardX.event_file_writer import EventsWriter
    from tensorboardX.proto import event_pb2, summary_pb2
    from tensorboardX.summary import hparams
except ImportError:  # the optional extra is not installed: no event files
    EventsWriter = None

#: Prefix of every scalar's tag (the seed's).
TAG_PREFIX = "ray/tune/"
#: Longest a trial's written events wait before they reach the disk.
FLUSH_SECONDS = 2.0


def numeric_items(result: Mapping[str, Any]) -> dict[str, float]:
    """The result's finite numbers (not booleans), nested keys joined with ``/``,
    without the config.

    Example:
        >>> numeric_items({"acc": 0.5, "done": False, "info": {"n": 3}, "host": "a",
        ...                "config": {"lr": 1}, "bad": float("nan")})
        {'acc': 0.5, 'info/n': 3.0}
    """
    flat = flatten({k: v for k, v in result.items() if k != "config"})
    items = {}
    for key, value in flat.items():
        if isinstance(value, (bool, np.bool_)) or not hasattr(value, "__float__"):
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            items[key] = number
    return items


def hparam_values(config: Mapping[str, Any]) -> dict[str, Any]:
    """The config as hparams: numbers, strings and booleans as they are, other values as
    their ``str``, nested keys joined with ``/``."""
    return {key: value if isinstance(value, (bool, int, float, str)) else str(value)
            for key, value in flatten(config).items()}


class TensorBoardLog:
    """Every trial's event file of one experiment run.

    Attributes:
        enabled: Whether tensorboardX is installed (else every call does nothing).
    """

    def __init__(self) -> None:
        self.enabled = EventsWriter is not None
        self._writers: dict[str, Any] = {}
        self._flushed: dict[str, float] = {}

    def _writer(self, trial_id: str, logdir: str) -> Any:
        writer = self._writers.get(trial_id)
        if writer is None:
            os.makedirs(logdir, exist_ok=True)
            writer = self._writers[trial_id] = EventsWriter(os.path.join(logdir, "events"))
            self._flushed[trial_id] = time.monotonic()
        return writer

    def write_results(self, trial_id: str, logdir: str,
                      results: Sequence[Mapping[str, Any]]) -> None:
        """Writes each result's numeric keys as scalars at its ``training_iteration``."""
        if not self.enabled or not results:
            return
        writer = self._writer(trial_id, logdir)
        for result in results:
            values = [summary_pb2.Summary.Value(tag=TAG_PREFIX + key, simple_value=number)
                      for key, number in numeric_items(result).items()]
            writer.write_event(event_pb2.Event(
                wall_time=float(result.get("timestamp") or time.time()),
                step=int(result.get("training_iteration") or 0),
                summary=summary_pb2.Summary(value=values)))
        if time.monotonic() - self._flushed[trial_id] >= FLUSH_SECONDS:
            writer.flush()
            self._flushed[trial_id] = time.monotonic()

    def end_trial(self, trial_id: str, config: Mapping[str, Any],
                  last_result: Optional[Mapping[str, Any]]) -> None:
        """Writes the trial's hparams (config and last numeric results) and closes its
        file. A trial without results has no file."""
        writer = self._writers.pop(trial_id, None)
        self._flushed.pop(trial_id, None)
        if writer is None:
            return
        metrics = {TAG_PREFIX + k: v for k, v in numeric_items(last_result or {}).items()}
        step = int((last_result or {}).get("training_iteration") or 0)
        for summary in hparams(hparam_values(config), metrics):
            writer.write_event(event_pb2.Event(wall_time=time.time(), step=step,
                                               summary=summary))
        writer.close()

    def close(self) -> None:
        """Closes every file still open (trials left unfinished)."""
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
        self._flushed.clear()
