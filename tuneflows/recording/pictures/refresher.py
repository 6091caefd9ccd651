"""Keeps an experiment's pictures fresh without holding up a round: a driver thread
starts the pictures' child process (:mod:`~tuneflows.recording.pictures.publish`) every
``TUNEFLOWS_PICTURES_INTERVAL_S`` seconds while trials end (one child at a time), and
:meth:`PicturesRefresher.finish` runs it once more when the experiment has ended and
its files are written, waiting at most ``TUNEFLOWS_PICTURES_DEADLINE_S``.

``TUNEFLOWS_PICTURES=0`` turns the pictures off. The child's CPU is its own (another
process, at a lower priority while trials run), so the experiment loop never shares the
GIL with it.

Example:
    >>> refresher = PicturesRefresher(job)      # doctest: +SKIP
    >>> refresher.start()                       # doctest: +SKIP
    >>> refresher.on_trial_end()                # doctest: +SKIP
    >>> made = refresher.finish()               # doctest: +SKIP
    >>> made["importances"]                     # doctest: +SKIP
    {'alpha': 0.91, 'learning_rate': 0.09}
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from dataclasses import replace
from typing import Any, Optional

from tuneflows.recording.mlflow.store import tracking_uri_for
from tuneflows.recording.pictures.pages import search_space_scales
from tuneflows.recording.pictures.publish import PicturesJob

logger = logging.getLogger(__name__)

ENABLED_ENV = "TUNEFLOWS_PICTURES"
INTERVAL_ENV = "TUNEFLOWS_PICTURES_INTERVAL_S"
DEADLINE_ENV = "TUNEFLOWS_PICTURES_DEADLINE_S"
DEFAULT_INTERVAL_S = 120.0
DEFAULT_DEADLINE_S = 60.0
#: The refreshes while trials run yield the CPU to them (``nice``).
RUNNING_NICE = 10


def pictures_enabled() -> bool:
    """Whether pictures are made (``TUNEFLOWS_PICTURES``, default on; 0/false/no/off: off)."""
    return os.environ.get(ENABLED_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def _seconds(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got "
                         f"{os.environ.get(name)!r}.") from None
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}.")
    return value


class PicturesRefresher:
    """Starts the pictures' child process now and then, and once at the end.

    Args:
        job: What to draw and where to log it.
        interval_s: Least seconds between two refreshes while running (default
            ``TUNEFLOWS_PICTURES_INTERVAL_S``, else 120).
        deadline_s: Longest wait for the last refresh (default
            ``TUNEFLOWS_PICTURES_DEADLINE_S``, else 60).
    """

    def __init__(self, job: PicturesJob, interval_s: Optional[float] = None,
                 deadline_s: Optional[float] = None) -> None:
        self.job = job
        self.interval_s = interval_s or _seconds(INTERVAL_ENV, DEFAULT_INTERVAL_S)
        self.deadline_s = deadline_s or _seconds(DEADLINE_ENV, DEFAULT_DEADLINE_S)
        self._changed = False
        self._stop = threading.Event()
        self._lock = threading.Lock()  # one child at a time
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        """Starts the refreshing thread."""
        self._thread = threading.Thread(target=self._loop, name="tuneflows-pictures",
                                        daemon=True)
        self._thread.start()

    def on_trial_end(self) -> None:
        """A trial ended: the pictures are due at the next interval."""
        self._changed = True

    def finish(self, draw: bool = True) -> Optional[dict[str, Any]]:
        """Stops refreshing and (unless not ``draw``) draws the pictures of the ended
        experiment.

        Returns:
            What the child made (``importances``, ``files``, ``mlflow_run_id``...), or
            None when it failed or missed the deadline (a warning says why).
        """
        self._stop.set()
        deadline = time.monotonic() + self.deadline_s
        if self._thread is not None:
            self._thread.join(max(0.0, deadline - time.monotonic()))
        return self._refresh(self.job, deadline) if draw else None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            if self._changed:
                self._changed = False
                self._refresh(replace(self.job, nice=RUNNING_NICE),
                              time.monotonic() + max(self.interval_s, self.deadline_s))

    def _refresh(self, job: PicturesJob, deadline: float) -> Optional[dict[str, Any]]:
        with self._lock:
            started = time.monotonic()
            try:
                child = subprocess.Popen(
                    [sys.executable, "-m", "tuneflows.recording.pictures.publish",
                     job.to_json()], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                    text=True)
            except OSError as exc:
                logger.warning("The pictures of %r were not made: %s", self.job.experiment_name,
                               exc)
                return None
            try:
                out, err = child.communicate(timeout=max(0.1, deadline - started))
            except subprocess.TimeoutExpired:
                child.kill()
                child.communicate()
                logger.warning("The pictures of %r took longer than %.0f s and were not "
                               "made (%s).", self.job.experiment_name, deadline - started,
                               DEADLINE_ENV)
                return None
            if child.returncode != 0:
                logger.warning("The pictures of %r were not made: %s", self.job.experiment_name,
                               (err.strip().splitlines() or ["exit code %d" % child.returncode])[-1])
                return None
            logger.debug("Pictures of %r made in %.1f s.", self.job.experiment_name,
                         time.monotonic() - started)
            try:
                return json.loads(out.strip().splitlines()[-1])
            except (ValueError, IndexError):
                return None


def pictures_for(experiment: Any, experiment_id: str, metric: Optional[str],
                 mode: str) -> Optional[PicturesRefresher]:
    """The refresher of an experiment's pictures, or None when pictures are off
    (``TUNEFLOWS_PICTURES=0``) or no metric is known to draw.

    Args:
        experiment: The :class:`~tuneflows.spec.Experiment` (its run directory, name,
            results root and search space).
        experiment_id: The tuneflows experiment id (tags its MLflow parent run).
        metric: The metric trials are ranked by.
        mode: ``"max"`` or ``"min"``.
    """
    if not metric or not pictures_enabled():
        return None
    return PicturesRefresher(PicturesJob(
        experiment.dir, metric, mode, experiment.name, experiment_id,
        tracking_uri_for(experiment.local_dir), search_space_scales(experiment.config or {})))
