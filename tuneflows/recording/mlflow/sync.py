"""``tuneflows sync-mlflow RUN``: replays an experiment run's trial files into MLflow,
for what MLflow missed (a tracking server that was down, a killed writer) or to copy
an experiment into another store.

``RUN`` is a run directory ``<local_dir>/<name>/<run id>`` (holding
``experiment_state.json`` and the trial directories), an experiment directory
``<local_dir>/<name>`` (its newest run) or, on the command line, an experiment name
under the results directory. The replay is idempotent: the experiment's parent run
and its trials' runs are found by their tags (``tuneflows.experiment_id``,
``trial_id``) and created only when missing; a run gets only the steps (training
iterations) it lacks, its params once, and its status (FINISHED, FAILED, else KILLED)
when it differs; with ``checkpoints`` the checkpoint directories it lacks as artifacts.
The parent run's summary (best trial, leaderboard) is not rebuilt.

Example:
    >>> report = sync_experiment_dir("~/ray_results/my_exp")  # doctest: +SKIP
    >>> print(report.text())                                  # doctest: +SKIP
    Synced 3 trial(s) of experiment 'my_exp' from .../my_exp/2026-12-02_00-31-05_ab12 to
    MLflow at sqlite:///...: 3 run(s) created, 60 step(s) logged, 3 run(s) ended,
    0 checkpoint(s) copied.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from typing import Optional

from tuneflows.recording.mlflow import tags as mlflow_tags
from tuneflows.error import TuneError
from tuneflows.runs.state import load_state
from tuneflows.recording.mlflow.names import MlflowNames
from tuneflows.recording.mlflow.store import STATUS_TO_MLFLOW, MlflowStore, tracking_uri_for
from tuneflows.recording.mlflow.values import metric_rows, param_strings
from tuneflows.trial import ERROR, TERMINATED
from tuneflows.model.run_ids import is_run_id
from tuneflows.runs.run_dirs import find_run_dir, resolve_run_dir
from tuneflows.spec import default_local_dir
from tuneflows.recording.trial_files import ERROR_FILE, error_file
from tuneflows.recording.trial_dirs import TrialDir, read_trial_dirs

CHECKPOINT_PREFIX = "checkpoint_"


@dataclass
class SyncReport:
    """What a replay wrote.

    Attributes:
        experiment_name: The MLflow experiment.
        tracking_uri: The store written.
        run_dir: The run directory replayed.
        trials: Trials replayed.
        created_runs: Trial runs that did not exist.
        steps: Metric steps (results) logged.
        ended_runs: Runs whose status was set (trial runs and the parent run).
        checkpoints: Checkpoint directories copied.
    """

    experiment_name: str
    tracking_uri: str
    run_dir: str
    trials: int = 0
    created_runs: int = 0
    steps: int = 0
    ended_runs: int = 0
    checkpoints: int = 0

    def text(self) -> str:
        """One line for the terminal."""
        return (f"Synced {self.trials} trial(s) of experiment {self.experiment_name!r} from "
                f"{self.run_dir} to MLflow at {self.tracking_uri}: {self.created_runs} run(s) "
                f"created, {self.steps} step(s) logged, {self.ended_runs} run(s) ended, "
                f"{self.checkpoints} checkpoint(s) copied.")


def experiment_layout(experiment_dir: str) -> tuple[str, str]:
    """The experiment's name and results root (``local_dir``) for a directory that is
    ``<local_dir>/<name>`` or a run's ``<local_dir>/<name>/<run id>``.

    Example:
        >>> experiment_layout("/r/my_exp")
        ('my_exp', '/r')
        >>> experiment_layout("/r/my_exp/2026-12-02_00-31-05_ab12")
        ('my_exp', '/r')
    """
    directory = os.path.abspath(experiment_dir)
    parent = os.path.dirname(directory)
    if is_run_id(os.path.basename(directory)):
        return os.path.basename(parent), os.path.dirname(parent)
    return os.path.basename(directory), parent


def sync_experiment_dir(experiment_dir: str, tracking_uri: Optional[str] = None,
                        experiment_name: Optional[str] = None,
                        checkpoints: bool = False) -> SyncReport:
    """Replays the trial files of ``experiment_dir`` into MLflow (see the module).

    Args:
        experiment_dir: A run directory (holding ``experiment_state.json``), or an
            experiment directory: its newest run.
        tracking_uri: The store (default: ``MLFLOW_TRACKING_URI``, else the
            experiment's ``<local_dir>/mlflow.db``).
        experiment_name: The MLflow experiment (default: from the directory's name).
        checkpoints: Also copy checkpoint directories the runs lack.

    Returns:
        What was written.

    Raises:
        ValueError: ``experiment_dir`` is not a directory.
        TuneError: The run directory holds no experiment state.
    """
    directory = resolve_run_dir(os.path.abspath(os.path.expanduser(experiment_dir)))
    state = load_state(directory)
    if state is None:
        raise TuneError(f"{directory!r} holds no experiment_state.json, nor run "
                        f"directories holding one: pass an experiment run's directory (the one "
                        f"holding its trial directories) or its experiment's directory.")
    name, local_dir = experiment_layout(directory)
    name = experiment_name or name
    store = MlflowStore(name, local_dir, tracking_uri or tracking_uri_for(local_dir))
    store.open_experiment(state.experiment_id, f"{name}-{state.experiment_id}",
                          {mlflow_tags.LOGDIR: directory, mlflow_tags.SYNCED_FROM: directory}, reopen=False)
    report = SyncReport(name, store.tracking_uri, directory)
    names = MlflowNames()
    trials = read_trial_dirs(directory)
    for trial_dir in trials:
        _sync_trial(store, trial_dir, names, report, checkpoints)
    report.trials = len(trials)
    finished = all(t.trial.status in (TERMINATED, ERROR) for t in trials)
    parent_status = "FINISHED" if finished else "KILLED"
    if store.client.get_run(store.parent_run_id).info.status != parent_status:
        store.end_experiment(parent_status, {mlflow_tags.SYNCED_FROM: directory})
        report.ended_runs += 1
    return report


def _sync_trial(store: MlflowStore, trial_dir: TrialDir, names: MlflowNames,
                report: SyncReport, checkpoints: bool) -> None:
    """One trial: its run (created once, with its params), missing steps, status,
    error file and (optionally) checkpoints."""
    trial = trial_dir.trial
    if not store.has_trial(trial.trial_id):
        store.create_trial_run(trial.trial_id, trial_dir.name, {
            mlflow_tags.EXPERIMENT_TAG: trial.experiment_tag, mlflow_tags.TRIAL_LOGDIR: trial.logdir,
            mlflow_tags.SYNCED_FROM: trial.logdir})
        store.write(trial.trial_id, params=param_strings(trial.config, names=names))
        report.created_runs += 1
    report.steps += store.backfill(trial.trial_id, metric_rows(trial_dir.history(), names))
    run_id = store.trial_runs[trial.trial_id]
    artifacts = {a.path for a in store.client.list_artifacts(run_id)}
    errors = error_file(trial.logdir)
    if trial.status == ERROR and os.path.exists(errors) and ERROR_FILE not in artifacts:
        store.log_file(trial.trial_id, errors)
    if checkpoints:
        report.checkpoints += _sync_checkpoints(store, trial.trial_id, trial.logdir)
    status = STATUS_TO_MLFLOW.get(trial.status, "KILLED")
    if store.client.get_run(run_id).info.status != status:
        store.write(trial.trial_id, tags={mlflow_tags.STATUS: trial.status if trial.status in (
            TERMINATED, ERROR) else "KILLED"})
        store.terminate_trial(trial.trial_id, trial.status)
        report.ended_runs += 1


def _sync_checkpoints(store: MlflowStore, trial_id: str, logdir: str) -> int:
    """Copies the checkpoint directories of ``logdir`` the run lacks; returns how many."""
    run_id = store.trial_runs[trial_id]
    logged = {os.path.basename(a.path) for a in store.client.list_artifacts(run_id, "checkpoints")}
    copied = 0
    for entry in sorted(os.listdir(logdir)):
        path = os.path.join(logdir, entry)
        if entry.startswith(CHECKPOINT_PREFIX) and os.path.isdir(path) and entry not in logged:
            store.log_artifacts(trial_id, path, f"checkpoints/{entry}")
            copied += 1
    return copied


def cmd_sync_mlflow(args: argparse.Namespace) -> int:
    """``tuneflows sync-mlflow RUN [--tracking-uri URI] [--experiment-name NAME]
    [--checkpoints]``: prints what was replayed, and from which run (``RUN`` as in the
    module docstring)."""
    directory = find_run_dir(args.run_dir, default_local_dir())
    report = sync_experiment_dir(directory, tracking_uri=args.tracking_uri,
                                 experiment_name=args.experiment_name,
                                 checkpoints=args.checkpoints)
    print(report.text())
    return 0
