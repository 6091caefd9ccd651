"""Keeps an experiment's pictures fresh without holding up a round: the pictures' child
process (:mod:`~tuneflows.recording.pictures.publish`) starts with the experiment, a
driver thread sends it a job every ``TUNEFLOWS_PICTURES_INTERVAL_S`` seconds while
trials end, and :meth:`PicturesRefresher.finish` sends the last one when the experiment
has ended and its files are written, waiting at most ``TUNEFLOWS_PICTURES_DEADLINE_S``
for it, then ends the child.

``TUNEFLOWS_PICTURES=0`` turns the pictures off. The child's CPU is its own (another
process, at a lower priority), so the experiment loop never shares the GIL with it; the
child ends when its input closes, so it never outlives the driver.

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
import select
import subprocess
import sys
import threading
import time
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
#: How much lower the child's CPU priority is than the driver's: the trials come first.
CHILD_NICE = 10


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
    """Runs the pictures' child process and sends it jobs now and then, and once at the end.

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
        self._lock = threading.Lock()  # one job at a time
        self._child: Optional[subprocess.Popen] = None
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        """Starts the child (its imports overlap the experiment) and the refreshing thread."""
        try:
            self._child = subprocess.Popen(
                [sys.executable, "-m", "tuneflows.recording.pictures.publish", str(CHILD_NICE)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        except OSError as exc:
            logger.warning("The pictures of %r will not be made: %s", self.job.experiment_name,
                           exc)
            return
        self._thread = threading.Thread(target=self._loop, name="tuneflows-pictures",
                                        daemon=True)
        self._thread.start()

    def on_trial_end(self) -> None:
        """A trial ended: the pictures are due at the next interval."""
        self._changed = True

    def finish(self, draw: bool = True) -> Optional[dict[str, Any]]:
        """Stops refreshing, (unless not ``draw``) draws the pictures of the ended
        experiment, and ends the child.

        Returns:
            What the child made (``importances``, ``files``, ``mlflow_run_id``...), or
            None when it failed or missed the deadline (a warning says why).
        """
        self._stop.set()
        deadline = time.monotonic() + self.deadline_s
        if draw and self._child is not None:
            try:  # no trial is left to yield to (allowed where the driver may raise priority)
                os.setpriority(os.PRIO_PROCESS, self._child.pid, os.getpriority(os.PRIO_PROCESS, 0))
            except (OSError, AttributeError):
                pass
        made = self._refresh(deadline) if draw else None
        with self._lock:
            child, self._child = self._child, None
        if child is not None:
            child.stdin.close()  # the child's input ends: it exits
            try:
                child.wait(max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            child.stdout.close()
        return made

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            if self._changed:
                self._changed = False
                self._refresh(time.monotonic() + max(self.interval_s, self.deadline_s))

    def _refresh(self, deadline: float) -> Optional[dict[str, Any]]:
        """Sends the job and waits for the child's answer until ``deadline``; a child
        that misses it is killed (no later pictures)."""
        with self._lock:
            child, name = self._child, self.job.experiment_name
            if child is None or child.poll() is not None:
                return None
            try:
                child.stdin.write(self.job.to_json() + "\n")
                child.stdin.flush()
                ready, _, _ = select.select([child.stdout], [], [],
                                            max(0.0, deadline - time.monotonic()))
                line = child.stdout.readline() if ready else ""
            except (OSError, ValueError) as exc:
                line, ready = "", [exc]
            if not line:
                child.kill()
                child.wait()
                self._child = None
                logger.warning("The pictures of %r were not made: %s", name,
                               "the pictures' process stopped" if ready else
                               f"they took longer than the deadline ({DEADLINE_ENV})")
                return None
        made = json.loads(line)
        if "error" in made:
            logger.warning("The pictures of %r were not made: %s", name, made["error"])
            return None
        return made


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
