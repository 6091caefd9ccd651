"""The experiment recorder: the one place the experiment loop reports what happened;
it fans each record out to the trial's files, MLflow and the status block.

File writes and sends to the MLflow writers run on a :class:`RecordingThread`, in
order, off the event loop. Only resume reads files (to find what is already recorded),
before the trial runs again.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable, Mapping, Optional, Sequence

from tuneflows.recording.mlflow import tags as mlflow_tags
from tuneflows.recording.mlflow.gaps import MlflowGaps
from tuneflows.recording.mlflow.writer_pool import MlflowExperimentLog
from tuneflows.recording.pictures.refresher import PicturesRefresher
from tuneflows.recording.prefect_reports import PrefectReports
from tuneflows.recording.recording_thread import RecordingThread
from tuneflows.recording.status_board import StatusBoard
from tuneflows.recording.tensorboard_files import TensorBoardLog
from tuneflows.recording.trial_files import TrialFiles, error_file
from tuneflows.result import EARLY_STOPPED
from tuneflows.trial import Trial
from tuneflows.model.codes import EventKind


class ExperimentRecorder:
    """Records one experiment run.

    Args:
        mlflow: The experiment's MLflow records (parent run, a nested run per trial).
        board: The experiment's status block and where it shows.
        reports: The flow run's Prefect artifacts and decision log (None: none).
        pictures: Refreshes the run's pictures as trials end (None: no pictures).

    Example:
        >>> recorder = ExperimentRecorder(mlflow_log, board)  # doctest: +SKIP
        >>> recorder.on_trial_add(trial)                                       # doctest: +SKIP
        >>> recorder.on_results(trial, [{"training_iteration": 1, "loss": 0.3}])  # doctest: +SKIP
    """

    def __init__(self, mlflow: MlflowExperimentLog, board: StatusBoard,
                 reports: Optional[PrefectReports] = None,
                 pictures: Optional[PicturesRefresher] = None) -> None:
        self._mlflow = mlflow
        self.reports = reports
        self.pictures = pictures
        self._board = board
        self._display = board.display
        self._thread = RecordingThread()
        self._files: dict[str, TrialFiles] = {}
        self._tensorboard = TensorBoardLog()  # on the recording thread only

    # ------------------------------------------------------------------ trials
    def on_trial_add(self, trial: Trial) -> None:
        """A new trial: its ``params.json`` (its MLflow run starts when it does)."""
        self._thread.submit(self._write_params, trial.trial_id, trial.logdir, dict(trial.config))

    def on_trial_start(self, trial: Trial) -> None:
        """The trial runs (its trainable is set up on an actor): its MLflow run starts
        now, unless it has one (it ran before a pause, restart or resume), so a trial
        that waited for a slot does not count the wait in MLflow's duration."""
        self._thread.submit(self._mlflow.start_trial, trial.trial_id, trial.name,
                            dict(trial.config), self._run_tags(trial), int(time.time() * 1000))

    @staticmethod
    def _run_tags(trial: Trial) -> dict[str, str]:
        return {mlflow_tags.EXPERIMENT_TAG: trial.experiment_tag,
                mlflow_tags.TRIAL_LOGDIR: trial.logdir}

    def open_trial_run(self, trial: Trial) -> None:
        """A resumed trial that ran before the kill: its MLflow run is created now if it
        has none (its results are then backfilled); a no-op when it has one."""
        self._thread.submit(self._mlflow.start_trial, trial.trial_id, trial.name,
                            dict(trial.config), self._run_tags(trial))

    def mlflow_run_id(self, trial: Trial) -> Optional[str]:
        """The id of the trial's MLflow run, once MLflow has it (None before)."""
        return self._mlflow.trial_run_id(trial.trial_id)

    def adopt_trial_files(self, trial: Trial) -> list[dict[str, Any]]:
        """Takes over a trial directory written before a kill: repairs its files, logs
        to MLflow what its run lacks, and returns the results already recorded."""
        files = TrialFiles(trial.logdir)
        self._files[trial.trial_id] = files
        rows = files.repair()
        if rows:
            self._thread.submit(self._mlflow.backfill, trial.trial_id, rows)
        return rows

    def on_trial_resume(self, trial: Trial) -> None:
        """A resumed trial will run again: its MLflow run is marked RUNNING."""
        self._thread.submit(self._mlflow.reopen_trial, trial.trial_id)

    def on_results(self, trial: Trial, results: Sequence[Mapping[str, Any]]) -> None:
        """New results: ``result.json``, ``progress.csv``, MLflow metrics, the status block."""
        rows = [dict(r) for r in results]
        self._thread.submit(self._append_results, trial.trial_id, trial.logdir, rows)
        self._thread.submit(self._tensorboard.write_results, trial.trial_id, trial.logdir, rows)
        self._thread.submit(self._mlflow.log_results, trial.trial_id, rows)
        if rows:
            self._display.show_result(trial.name, rows[-1])
        self.show_status()

    def on_event(self, trial: Trial, kind: str, reason: str, **details: Any) -> None:
        """A pause, stop, restart or end, with its reason, to ``events.json``."""
        event = {"event": kind, "trial_id": trial.trial_id, "iteration": trial.iteration,
                 "reason": reason, "time": time.time(), **details}
        self._thread.submit(self._append_event, trial.trial_id, trial.logdir, event)
        if self.reports is not None and kind.is_decision:
            self.reports.on_decision(trial, kind, reason)

    def on_perturb(self, trial: Trial, donor: Trial, old_config: Mapping[str, Any],
                   reason: str) -> None:
        """PBT exploit/explore: the event, the new ``params.json`` and MLflow tags."""
        self.on_event(trial, EventKind.PERTURB, reason, clone_from=donor.trial_id,
                      old_config=dict(old_config), new_config=dict(trial.config))
        self._thread.submit(self._write_params, trial.trial_id, trial.logdir, dict(trial.config))
        self._thread.submit(self._mlflow.log_params, trial.trial_id, dict(trial.config))
        self._thread.submit(self._mlflow.set_tags, trial.trial_id, {
            f"perturbation/{trial.iteration}": f"from {donor.trial_id}: {reason}"})

    def on_checkpoint(self, trial: Trial, path: str) -> None:
        """A checkpoint directory was written: logged to the trial's MLflow run."""
        self._thread.submit(self._mlflow.log_artifacts, trial.trial_id, path,
                            f"checkpoints/{os.path.basename(path)}")

    def on_error(self, trial: Trial, text: str) -> str:
        """A failure's traceback, appended to the trial's error file; returns its path."""
        self._thread.submit(self._write_error, trial.trial_id, trial.logdir, text)
        return error_file(trial.logdir)

    def on_trial_end(self, trial: Trial, reason: str,
                     tags: Optional[Mapping[str, Any]] = None) -> None:
        """The trial ended (its status is final): event (marked ``early_stopped`` when a
        scheduler or client stopped it), MLflow status, status block."""
        stopped = {EARLY_STOPPED: True} if (trial.last_result or {}).get(EARLY_STOPPED) else {}
        self.on_event(trial, EventKind(trial.status.lower()), reason, **stopped)
        self._thread.submit(self._tensorboard.end_trial, trial.trial_id, dict(trial.config),
                            dict(trial.last_result or {}))
        if self.reports is not None:
            self.reports.on_trial_end(trial)
        if self.pictures is not None:
            self.pictures.on_trial_end()
        self._thread.submit(self._mlflow.end_trial_run, trial, dict(tags or {}))
        self._thread.submit(self._files.pop, trial.trial_id, None)  # made again if needed
        self.show_status(force=True)

    def on_trial_left_running(self, trial: Trial, experiment_status: str = "FAILED") -> None:
        """The experiment ended (``experiment_status``: FAILED, KILLED) while the trial
        was unfinished: its MLflow run is KILLED, with its outcome "unfinished"."""
        self._thread.submit(self._mlflow.end_trial_run, trial, {}, experiment_status)

    # ------------------------------------------------------------------ experiment
    def show_status(self, force: bool = False) -> None:
        """Refreshes the status block (throttled unless ``force``) and marks the
        Prefect leaderboard as due."""
        if self.reports is not None:
            self.reports.on_change()
        self._board.refresh(force=force)

    def on_experiment_end(self, status: str, trials: Sequence[Trial]) -> MlflowGaps:
        """Writes everything queued, ends the MLflow parent run (``status``: FINISHED,
        FAILED or KILLED) with the best trial, the counts by outcome and the leaderboard,
        and shows the final status block; waits for MLflow at most
        ``TUNEFLOWS_MLFLOW_DEADLINE_S`` (the files are written whatever MLflow does).

        Returns:
            What MLflow lacks of the experiment.
        """
        self._thread.submit(self._tensorboard.close)
        self._thread.close()
        gaps = self._mlflow.end_experiment_run(status, trials)
        self._board.close()
        return gaps

    def show_where_to_look(self, lines: Sequence[str]) -> None:
        """After the final status block: where the records are (unless quiet)."""
        self._display.show_lines(lines)

    # ------------------------------------------------------------------ on the thread
    def _files_of(self, trial_id: str, logdir: str) -> TrialFiles:
        files = self._files.get(trial_id)
        if files is None:
            files = self._files[trial_id] = TrialFiles(logdir)
        return files

    def _write_params(self, trial_id: str, logdir: str, config: dict[str, Any]) -> None:
        self._files_of(trial_id, logdir).write_params(config)

    def _append_results(self, trial_id: str, logdir: str, rows: list[dict[str, Any]]) -> None:
        self._files_of(trial_id, logdir).append_results(rows)

    def _append_event(self, trial_id: str, logdir: str, event: dict[str, Any]) -> None:
        self._files_of(trial_id, logdir).append_event(event)

    def _write_error(self, trial_id: str, logdir: str, text: str) -> None:
        self._files_of(trial_id, logdir).write_error(text)

