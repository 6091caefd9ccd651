"""Reading trials back from an experiment directory: every subdirectory holding a
``params.json`` is a trial's logdir, with its config (``params.json``), its results
(``result.json``, a JSON object a line) and its decisions (``events.json``).

Files only: no Ray, Prefect or MLflow, and no code runs (JSON). When the directory also
holds the experiment's saved state, it names each trial's trainable and status.

Example:
    >>> import json, os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(root, "f_0_lr=0.1"))
    >>> with open(os.path.join(root, "f_0_lr=0.1", "params.json"), "w") as f:
    ...     json.dump({"lr": 0.1}, f)
    >>> with open(os.path.join(root, "f_0_lr=0.1", "result.json"), "w") as f:
    ...     print(json.dumps({"trial_id": "a_00000", "training_iteration": 1, "acc": 0.5}), file=f)
    >>> [(t.trial.trial_id, t.trial.config, t.trial.last_result["acc"])
    ...  for t in read_trial_dirs(root)]
    [('a_00000', {'lr': 0.1}, 0.5)]
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Optional

from tuneflows.error import TuneError
from tuneflows.runs.state import load_state
from tuneflows.recording.trial_files import TrialFiles
from tuneflows.trial import ERROR, PENDING, RUNNING, TERMINATED, Trial

PARAMS_FILE, EVENTS_FILE = "params.json", "events.json"
#: The ``events.json`` kinds that end a trial, as its status.
ENDING_EVENTS = {"terminated": TERMINATED, "error": ERROR}


@dataclass
class TrialDir:
    """One trial read back from its directory.

    Attributes:
        trial: The trial (config, last result, status; its logdir is the directory).
        name: Its display name: the saved state's when known, else the directory's name.
    """

    trial: Trial
    name: str

    def history(self) -> list[dict[str, Any]]:
        """Every result the trial recorded, oldest first (read again each call)."""
        return read_results(self.trial.logdir)


def find_trial_dirs(experiment_dir: str) -> list[str]:
    """The directories under ``experiment_dir`` (at any depth) holding a ``params.json``.

    Raises:
        ValueError: ``experiment_dir`` is not a directory.
    """
    if not os.path.isdir(experiment_dir):
        raise ValueError(f"{experiment_dir!r} is not a directory.")
    return sorted(root for root, _, files in os.walk(experiment_dir) if PARAMS_FILE in files)


def read_results(logdir: str) -> list[dict[str, Any]]:
    """A trial directory's results (complete lines of ``result.json``), oldest first."""
    if not os.path.exists(os.path.join(logdir, "result.json")):
        return []
    return TrialFiles(logdir).read_results()


def read_trial_dirs(experiment_dir: str) -> list[TrialDir]:
    """Every trial under ``experiment_dir``, in the order the trials were created (their
    ids), then by directory."""
    known = _saved_trials(experiment_dir)
    found = [_read_trial_dir(path, known) for path in find_trial_dirs(experiment_dir)]
    return sorted(found, key=lambda t: (t.trial.trial_id, t.trial.logdir))


def saved_metric(experiment_dir: str) -> tuple[Optional[str], Optional[str]]:
    """The metric and mode the experiment's saved state names, or (None, None)."""
    state = _load_state_if_readable(experiment_dir)
    if state is None or not state.metric:
        return None, None
    return state.metric, state.mode


def _read_trial_dir(path: str, known: dict[str, Trial]) -> TrialDir:
    with open(os.path.join(path, PARAMS_FILE)) as f:
        config = json.load(f)
    results = read_results(path)
    last = results[-1] if results else None
    trial_id = str((last or {}).get("trial_id") or os.path.basename(path))
    saved = known.get(trial_id)
    status = _status(path, results) if saved is None else saved.status
    trial = Trial(
        trial_id=trial_id,
        experiment_tag=saved.experiment_tag if saved else os.path.basename(path),
        config=config if isinstance(config, dict) else {"params": config},
        trainable_name=saved.trainable_name if saved else "",
        logdir=path, status=status, last_result=last,
        error_file=os.path.join(path, "error.txt") if status == ERROR else None,
        stopping_criterion=saved.stopping_criterion if saved else {},
    )
    return TrialDir(trial, saved.name if saved else os.path.basename(path))


def _status(path: str, results: list[dict[str, Any]]) -> str:
    """TERMINATED or ERROR by the last ending event of ``events.json``; else RUNNING
    when it has results (it had not ended when last written), PENDING when not."""
    status = RUNNING if results else PENDING
    events = os.path.join(path, EVENTS_FILE)
    if os.path.exists(events):
        with open(events) as f:
            for line in f:
                try:
                    kind = json.loads(line).get("event")
                except (ValueError, AttributeError):
                    continue  # a line cut short by a kill
                status = ENDING_EVENTS.get(kind, status)
    return status


def _saved_trials(experiment_dir: str) -> dict[str, Trial]:
    state = _load_state_if_readable(experiment_dir)
    if state is None:
        return {}
    trials = {}
    for fields in state.trials:
        try:
            trials[fields["trial_id"]] = Trial(**fields)
        except (TypeError, KeyError):  # a record of another version: the files say enough
            continue
    return trials


def _load_state_if_readable(experiment_dir: str) -> Any:
    try:
        return load_state(experiment_dir)
    except TuneError:  # an old or damaged state: the trial files are read all the same
        return None
