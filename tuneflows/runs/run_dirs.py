"""Runs of an experiment: each run has its own directory ``<local_dir>/<name>/<run id>/``,
named by a sortable timestamp-based id (``2026-12-02_00-31-05_ab12``), so a re-run starts
afresh while resume picks a run.

The rule choosing a run is a pure function over :class:`RunInfo` (:func:`choose_run`;
run ids are made by :mod:`tuneflows.model.run_ids`); the rest reads run directories
(files only, no Ray, Prefect or MLflow).

Example:
    >>> runs = [RunInfo("2026-12-01_03-00-00_0001", finished=True),
    ...         RunInfo("2026-12-02_03-00-00_0001", finished=False)]
    >>> choose_run(runs, resume="AUTO").run_id
    '2026-12-02_03-00-00_0001'
    >>> choose_run(runs, resume=False) is None  # a new run
    True
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional, Sequence

from tuneflows.error import TuneError
from tuneflows.model.run_ids import is_run_id
from tuneflows.runs.atomic_files import write_atomically
from tuneflows.runs.lock import is_locked
from tuneflows.runs.state import load_state, state_path
from tuneflows.trial import ERROR, TERMINATED

#: The file in a run directory naming the run and the Prefect flow run that started it.
RUN_FILE = "run.json"
#: The key of ``run.json`` naming the Prefect flow run of the driver running it last.
DRIVER_FLOW_RUN_KEY = "driver_flow_run_id"


@dataclass(frozen=True)
class RunInfo:
    """What choosing a run needs to know about one run directory.

    Attributes:
        run_id: The directory's name.
        has_state: It holds saved experiment state (a run that got as far as starting).
        finished: Its searcher is done and every trial ended.
        flow_run_id: The Prefect flow run that called ``run_experiments`` for it, if any.
        in_use: A live driver holds its lock.
    """

    run_id: str
    has_state: bool = True
    finished: bool = False
    flow_run_id: Optional[str] = None
    in_use: bool = False


def choose_run(runs: Sequence[RunInfo], resume: Any, flow_run_id: Optional[str] = None,
               retrying: bool = False) -> Optional[RunInfo]:
    """The run to continue, or None for a new run.

    Args:
        runs: The experiment's runs, oldest first.
        resume: ``False``: a new run. ``True`` or ``"AUTO"``: the newest unfinished run
            no driver holds, else a new run. ``"ERRORED_ONLY"``: the newest run with
            state no driver holds (its failed trials run again).
        flow_run_id: The Prefect flow run calling ``run_experiments`` (None outside one).
        retrying: That flow run is on a retry: the run it started is continued,
            whatever ``resume`` says.

    Raises:
        ValueError: ``"ERRORED_ONLY"`` with no run to re-run.

    Example:
        >>> runs = [RunInfo("2026-12-01_03-00-00_0001", flow_run_id="f1"),
        ...         RunInfo("2026-12-02_03-00-00_0001", flow_run_id="f2", in_use=True)]
        >>> choose_run(runs, "AUTO").run_id  # the newest is running elsewhere
        '2026-12-01_03-00-00_0001'
        >>> choose_run(runs, False, flow_run_id="f2", retrying=True).run_id
        '2026-12-02_03-00-00_0001'
    """
    if retrying and flow_run_id is not None:
        mine = [r for r in runs if r.flow_run_id == flow_run_id]
        if mine:
            return mine[-1]
    free = [r for r in runs if r.has_state and not r.in_use]
    if resume == "ERRORED_ONLY":
        if not free:
            raise ValueError("resume='ERRORED_ONLY': the experiment has no run to re-run the "
                             "failed trials of.")
        return free[-1]
    if resume in (True, "AUTO"):
        unfinished = [r for r in free if not r.finished]
        return unfinished[-1] if unfinished else None
    return None


# ---------------------------------------------------------------------- files
def run_dirs(experiment_dir: str) -> list[str]:
    """The run directories of an experiment directory, oldest first (empty when none)."""
    if not os.path.isdir(experiment_dir):
        return []
    return [os.path.join(experiment_dir, name) for name in sorted(os.listdir(experiment_dir))
            if is_run_id(name) and os.path.isdir(os.path.join(experiment_dir, name))]


def read_run(run_dir: str) -> RunInfo:
    """A run directory's :class:`RunInfo` (an unreadable state counts as unfinished:
    resuming it then reports what is wrong)."""
    has_state = os.path.exists(state_path(run_dir))
    finished = False
    if has_state:
        try:
            state = load_state(run_dir)
            finished = state is not None and is_finished(state)
        except TuneError:
            finished = False
    return RunInfo(os.path.basename(run_dir), has_state, finished,
                   read_run_file(run_dir).get("flow_run_id"), is_locked(run_dir))


def is_finished(state: Any) -> bool:
    """Whether a saved :class:`~tuneflows.runs.state.ExperimentState` is of a
    run that ended: its searcher is done and no trial is left to run."""
    return bool(state.searcher_done) and all(
        t.get("status") in (TERMINATED, ERROR) for t in state.trials)


def read_run_file(run_dir: str) -> dict[str, Any]:
    """The run's ``run.json`` (empty when missing or unreadable)."""
    try:
        with open(os.path.join(run_dir, RUN_FILE)) as f:
            data = json.load(f)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def write_run_file(run_dir: str, run_id: str, flow_run_id: Optional[str]) -> None:
    """Writes ``run.json`` (once: a resumed run keeps the one it was started with)."""
    path = os.path.join(run_dir, RUN_FILE)
    if os.path.exists(path):
        return
    with open(path, "w") as f:
        json.dump({"run_id": run_id, "flow_run_id": flow_run_id,
                   "created": datetime.now().isoformat(timespec="seconds")}, f)


def ending_words(status: str, stopped_by: Optional[str] = None) -> str:
    """How a run ended, in ``tuneflows ls``'s words: ``status`` is the experiment's
    (FINISHED, FAILED, KILLED), ``stopped_by`` what stopped it early (a signal's name,
    or e.g. ``"cancelled"``).

    Example:
        >>> ending_words("KILLED", "SIGINT"), ending_words("KILLED", "cancelled")
        ('interrupted (SIGINT)', 'cancelled')
        >>> ending_words("FINISHED"), ending_words("FAILED")
        ('finished', 'failed')
    """
    if stopped_by:
        return f"interrupted ({stopped_by})" if stopped_by.startswith("SIG") else stopped_by
    return {"FINISHED": "finished", "FAILED": "failed"}.get(status, "interrupted")


def record_run_end(run_dir: str, ended: str) -> None:
    """Notes in ``run.json`` how the run's last driver ended it (``"finished"``,
    ``"interrupted (SIGINT)"``, ``"cancelled"``...), for ``tuneflows ls``.

    Example:
        >>> import tempfile
        >>> run = tempfile.mkdtemp()
        >>> record_run_end(run, "interrupted (SIGINT)")
        >>> read_run_file(run)["ended"]
        'interrupted (SIGINT)'
    """
    _update_run_file(run_dir, ended=ended)


def record_run_start(run_dir: str, flow_run_id: Optional[str],
                     verbose: Optional[int] = None) -> Optional[str]:
    """Notes in ``run.json`` that a driver runs the run now, in Prefect flow run
    ``flow_run_id`` with display level ``verbose`` (which ``tuneflows resume`` keeps),
    and clears how the last driver ended it.

    Returns:
        The flow run of an earlier driver that never noted an end (it died: ``kill -9``,
        a machine lost), for its Prefect state to be ended; None when there is none or
        it is ``flow_run_id`` itself (Prefect retrying the same flow run).

    Example:
        >>> import tempfile
        >>> run = tempfile.mkdtemp()
        >>> write_run_file(run, "r1", None)
        >>> record_run_start(run, "flow-1"), record_run_start(run, "flow-2")
        (None, 'flow-1')
        >>> record_run_end(run, "finished")
        >>> record_run_start(run, "flow-3")  # flow-2's driver ended it: nothing to end
    """
    data = read_run_file(run_dir)
    earlier = None if "ended" in data else data.get(DRIVER_FLOW_RUN_KEY)
    _update_run_file(run_dir, ended=None, verbose=verbose, **{DRIVER_FLOW_RUN_KEY: flow_run_id})
    return earlier if earlier != flow_run_id else None


def _update_run_file(run_dir: str, **fields: Any) -> None:
    """Sets ``fields`` in ``run.json`` (a None value removes its key), atomically."""
    data = read_run_file(run_dir)
    for key, value in fields.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    write_atomically(os.path.join(run_dir, RUN_FILE), json.dumps(data).encode())


def latest_run_dir(local_dir: str, name: str) -> str:
    """The newest run directory of experiment ``name`` under ``local_dir``.

    Raises:
        ValueError: The experiment has no run there.

    Example:
        >>> import tempfile
        >>> root = tempfile.mkdtemp()
        >>> os.makedirs(os.path.join(root, "exp", "2026-12-02_00-31-05_ab12"))
        >>> os.path.basename(latest_run_dir(root, "exp"))
        '2026-12-02_00-31-05_ab12'
    """
    runs = run_dirs(os.path.join(local_dir, name))
    if not runs:
        raise ValueError(f"Experiment {name!r} has no run under {local_dir!r}.")
    return runs[-1]


def resolve_run_dir(path: str, unfinished: bool = False) -> str:
    """``path`` when it is a run directory (or holds trials itself); the newest run
    (with ``unfinished``, the newest unfinished one) when it is an experiment directory.

    Raises:
        ValueError: ``path`` is not a directory, or ``unfinished`` and every run ended.
    """
    if not os.path.isdir(path):
        raise ValueError(f"{path!r} is not a directory.")
    runs = run_dirs(path)
    if not runs or os.path.exists(state_path(path)):
        return path
    if not unfinished:
        return runs[-1]
    chosen = choose_run([read_run(r) for r in runs], resume=True)
    if chosen is None:
        raise ValueError(f"Every run of {path!r} has finished (or is in use); nothing to resume.")
    return os.path.join(path, chosen.run_id)


def find_run_dir(target: str, local_dir: str, unfinished: bool = False) -> str:
    """The run directory a command line names: ``target`` is a run directory, an
    experiment directory (its newest run; with ``unfinished``, its newest unfinished
    one, see :func:`resolve_run_dir`) or the name of an experiment under ``local_dir``.

    Raises:
        ValueError: ``target`` is neither a directory nor an experiment under
            ``local_dir``, or ``unfinished`` and every run ended.

    Example:
        >>> import tempfile
        >>> root = tempfile.mkdtemp()
        >>> os.makedirs(os.path.join(root, "exp", "2026-12-02_00-31-05_ab12"))
        >>> os.path.basename(find_run_dir("exp", root))
        '2026-12-02_00-31-05_ab12'
    """
    path = os.path.expanduser(target)
    if not os.path.isdir(path) and os.sep not in path:
        named = os.path.join(local_dir, path)
        if not os.path.isdir(named):
            raise ValueError(f"{target!r} is not a directory, nor an experiment under "
                             f"{local_dir!r}.")
        path = named
    return resolve_run_dir(os.path.abspath(path), unfinished=unfinished)
