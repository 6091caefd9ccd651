"""The driver's MLflow writer processes, and the per-experiment view that routes each
trial's records to one of them.

MLflow's SQLAlchemy store is CPU-bound; several processes writing to one store barely
contend, since most of a ``log_batch`` is building rows before the write lock is taken.
Each trial's records go to one writer (trials are dealt round-robin as they start), so
a run's writes stay in order; the experiment's parent run belongs to the first writer.
Measurements: ``docs/architecture.md`` and ``python -m benchmarks.mlflow_writers``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any, Mapping, Optional, Sequence

from tuneflows.recording.mlflow import tags as mlflow_tags
from tuneflows.model.best_trial import experiment_metric
from tuneflows.recording.experiment_report import SummaryFacts
from tuneflows.recording.mlflow.gaps import MlflowGaps
from tuneflows.recording.mlflow.limits import mlflow_deadline_s
from tuneflows.recording.mlflow.names import MlflowNames
from tuneflows.recording.mlflow.records import (
    SPEC_ARTIFACT, ParentRunRecord, experiment_end_record, experiment_spec_json, settings,
    trial_end_tags,
)
from tuneflows.recording.mlflow.writer_commands import WriterCommand
from tuneflows.recording.mlflow.values import metric_rows, param_strings
from tuneflows.recording.mlflow.writer_process import MlflowWriterProcess
from tuneflows.search import without_trial_limit
from tuneflows.spec import Experiment
from tuneflows.trial import ERROR, Trial
from tuneflows.model.trial_outcome import rule_name

logger = logging.getLogger(__name__)

WRITERS_ENV = "TUNEFLOWS_MLFLOW_WRITERS"


def writer_count() -> int:
    """How many MLflow writer processes a driver runs: ``TUNEFLOWS_MLFLOW_WRITERS``, else
    1. Since tiny trials' runs are written whole (``bulk_runs``), one writer spends less
    CPU per trial than two (1.3 against 1.7 ms) and every run saves a second writer's
    start (≈ 2.2 s of CPU beside Ray's start); two still finish a backlog of many results
    ≈ 11 % sooner (docs/performance.md).

    Raises:
        ValueError: ``TUNEFLOWS_MLFLOW_WRITERS`` is not a positive integer.
    """
    value = os.environ.get(WRITERS_ENV)
    if value is None:
        return 1
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise ValueError(f"{WRITERS_ENV} must be a positive integer, got {value!r}.")
    return count


class MlflowWriterPool:
    """The MLflow writer processes of a driver.

    Args:
        count: Number of writer processes (see :func:`writer_count`).
    """

    _shared: Optional["MlflowWriterPool"] = None
    _shared_lock = threading.Lock()

    @classmethod
    def shared(cls) -> "MlflowWriterPool":
        """The writers of this driver process, started on first use and restarted if one
        died: later ``run_experiments`` calls skip their start-up (≈ 2 s of imports)."""
        count = writer_count()
        with cls._shared_lock:
            current = cls._shared
            if current is None or not current.alive or len(current.processes) != count:
                if current is not None:
                    current.close(timeout=30)
                cls._shared = cls(count)
            return cls._shared

    def __init__(self, count: int = 1) -> None:
        self.processes = [MlflowWriterProcess() for _ in range(count)]

    @property
    def alive(self) -> bool:
        """Every writer runs."""
        return all(p.alive for p in self.processes)

    @property
    def pids(self) -> list[int]:
        """The writer processes' pids (the benchmarks measure their CPU)."""
        return [p.pid for p in self.processes]

    def prepare(self, experiment_name: str, local_dir: str) -> None:
        """Opens (and, if new, creates) the experiment's MLflow store in every writer, in
        the background, while Ray and Prefect start."""
        for process in self.processes:
            process.prepare(experiment_name, local_dir)

    def sync(self) -> bool:
        """Waits until every writer has handled every earlier command (at most
        ``TUNEFLOWS_MLFLOW_DEADLINE_S`` in all)."""
        deadline = time.monotonic() + mlflow_deadline_s()
        return all([p.sync(deadline) for p in self.processes])

    def open_experiment(self, experiment_name: str, local_dir: str, experiment_id: str,
                        run_name: str, tags: Mapping[str, str]) -> "MlflowExperimentLog":
        """Creates (or, on resume, reopens) the experiment's parent run in the first
        writer and opens the experiment in the others.

        Raises:
            TuneError: MLflow cannot be written (e.g. a bad ``MLFLOW_TRACKING_URI``).
        """
        primary, *others = self.processes
        parent, mlflow_experiment_id = primary.open_experiment(experiment_name, local_dir,
                                                               experiment_id, run_name, tags)
        helpers = []
        for process in others:
            try:
                process.open_experiment(experiment_name, local_dir, experiment_id, run_name,
                                        tags, parent_run_id=parent)
                helpers.append(process)
            except Exception as exc:  # noqa: BLE001 - the others take its trials
                logger.warning("An MLflow writer could not open experiment %r (%s); the "
                               "other writers take its trials.", experiment_name, exc)
        return MlflowExperimentLog(primary, helpers, experiment_id, mlflow_experiment_id,
                                   parent)

    def close(self, timeout: float = 15.0) -> None:
        """Lets every writer finish what it holds and waits (at most ``timeout`` s
        each) for them to exit."""
        for process in self.processes:
            process.close(timeout)


class MlflowExperimentLog:
    """One experiment's MLflow records, as the runner sees them: converts results and
    configs to plain data in the driver, under names MLflow accepts
    (:class:`~tuneflows.recording.mlflow.names.MlflowNames`), and queues them for the
    writer of their trial.

    Args:
        primary: The writer holding the parent run (and its share of trials).
        helpers: Writers that share the trials.
        experiment_id: The tuneflows experiment id.
        mlflow_experiment_id: The MLflow experiment's id, if known.
    """

    def __init__(self, primary: MlflowWriterProcess, helpers: Sequence[MlflowWriterProcess],
                 experiment_id: str, mlflow_experiment_id: Optional[str] = None,
                 parent_run_id: Optional[str] = None) -> None:
        #: The MLflow experiment's id (its UI pages are ``#/experiments/<id>``).
        self.mlflow_experiment_id = mlflow_experiment_id
        #: The experiment's parent run.
        self.parent_run_id = parent_run_id
        self._primary = primary
        self._writers = [primary, *helpers]
        self._key = experiment_id
        self._writer_of: dict[str, MlflowWriterProcess] = {}
        self._names = MlflowNames()
        self._experiment: Optional[Experiment] = None
        self._metric: Optional[str] = None
        self._mode = "max"
        self._rule = "the scheduler"
        self._started: set[str] = set()  # trials whose run this driver opened
        self._where: list[str] = []  # the summary's links (the Prefect flow run)

    def describe_experiment(self, experiment: Experiment, scheduler: Any, searcher: Any,
                            metric: Optional[str] = None, mode: Optional[str] = None) -> None:
        """Logs on the parent run what the experiment is: the scheduler's and searcher's
        settings as params, the metric and mode trials are judged by as tags, the spec as
        ``experiment.json``; later records use the metric and the scheduler's name."""
        self._experiment = experiment
        self._metric, self._mode = experiment_metric(scheduler, searcher, experiment.stop,
                                                     metric, mode)
        self._rule = rule_name(scheduler)
        judged = ({mlflow_tags.METRIC: self._metric, mlflow_tags.MODE: self._mode}
                  if self._metric else {})
        self._log_parent(ParentRunRecord(
            params={**settings(scheduler, "scheduler"),
                    **settings(without_trial_limit(searcher), "searcher")},
            tags=judged, artifacts={SPEC_ARTIFACT: experiment_spec_json(experiment)}))

    def link_parent(self, tags: Mapping[str, Any], where: Sequence[str] = ()) -> None:
        """Sets tags on the parent run now, and adds ``where`` (markdown lines, e.g. the
        Prefect flow run's page) to the summary its description shows at the end."""
        self._where.extend(where)
        self._log_parent(ParentRunRecord(tags=dict(tags)))

    def start_trial(self, trial_id: str, run_name: str, config: Mapping[str, Any],
                    tags: Mapping[str, Any], start_time_ms: Optional[int] = None) -> None:
        """Creates the trial's nested run (unless a resumed trial has one) with its
        config as params, started at ``start_time_ms`` (when the trial started running;
        default when the writer creates it)."""
        self._started.add(trial_id)
        self._send(trial_id, WriterCommand.START_TRIAL, run_name,
                   param_strings(config, names=self._names), self._tags(tags), start_time_ms)

    def trial_run_id(self, trial_id: str) -> Optional[str]:
        """The id of the trial's MLflow run, once its writer has reported it (None
        before, or when MLflow could not create it)."""
        writer = self._writer_of.get(trial_id)
        return writer.run_ids.get((self._key, trial_id)) if writer is not None else None

    def log_results(self, trial_id: str, results: Sequence[Mapping[str, Any]]) -> None:
        """Logs each numeric value of ``results`` with its iteration as step."""
        self._send(trial_id, WriterCommand.LOG_RESULTS, metric_rows(results, self._names))

    def log_params(self, trial_id: str, config: Mapping[str, Any]) -> None:
        """Records a changed config (PBT) as ``config/<key>`` tags: params are immutable."""
        self._send(trial_id, WriterCommand.SET_TAGS,
                   param_strings(config, prefix="config/", names=self._names, kind="tag"))

    def set_tags(self, trial_id: str, tags: Mapping[str, Any]) -> None:
        """Sets tags on a trial's run."""
        self._send(trial_id, WriterCommand.SET_TAGS, self._tags(tags))

    def log_artifacts(self, trial_id: str, local_dir: str, artifact_path: str) -> None:
        """Copies a directory (a checkpoint) into the trial run's artifacts."""
        self._send(trial_id, WriterCommand.LOG_ARTIFACTS, local_dir, artifact_path)

    def backfill(self, trial_id: str, results: Sequence[Mapping[str, Any]]) -> None:
        """Logs the results a resumed trial's run lacks."""
        self._send(trial_id, WriterCommand.BACKFILL, metric_rows(results, self._names))

    def reopen_trial(self, trial_id: str) -> None:
        """Marks a resumed trial's run RUNNING."""
        self._send(trial_id, WriterCommand.REOPEN_TRIAL)

    def end_trial(self, trial_id: str, status: str, tags: Optional[Mapping[str, Any]] = None,
                  files: Sequence[str] = (), end_time_ms: Optional[int] = None) -> None:
        """Tags the trial's final status (and ``tags``), copies ``files`` into its
        artifacts and terminates its run (FINISHED, FAILED for ERROR, else KILLED) at
        ``end_time_ms`` (default when the writer ends it)."""
        self._send(trial_id, WriterCommand.END_TRIAL, status, self._tags(tags or {}), list(files),
                   end_time_ms)

    def end_trial_run(self, trial: Trial, tags: Mapping[str, Any],
                      experiment_status: str = "") -> None:
        """Ends a trial's run with the tags that say how it ended
        (:func:`~tuneflows.recording.mlflow.records.trial_end_tags`) and, when it
        errored, its ``error.txt``; ``experiment_status`` is given for a trial the
        experiment ended before it did (its run is KILLED)."""
        now_ms = int(time.time() * 1000)
        if trial.trial_id not in self._started:  # it never ran here (or ran before a resume)
            self.start_trial(trial.trial_id, trial.name, trial.config,
                             {mlflow_tags.EXPERIMENT_TAG: trial.experiment_tag,
                              mlflow_tags.TRIAL_LOGDIR: trial.logdir}, now_ms)
        ending = trial_end_tags(trial, self._rule, experiment_status)
        files = [trial.error_file] if trial.status == ERROR and trial.error_file and \
            os.path.exists(trial.error_file) else []
        self.end_trial(trial.trial_id, ending.pop(mlflow_tags.STATUS, trial.status),
                       {**ending, **tags}, files, now_ms)

    def end_experiment_run(self, status: str, trials: Sequence[Trial]) -> MlflowGaps:
        """Logs the best trial's config and metric, the counts by outcome and the
        leaderboard on the parent run, then ends it with ``status`` (FINISHED, FAILED
        or KILLED) once every trial's records are written, or the deadline passed.

        Returns:
            What MLflow lacks (:class:`~tuneflows.recording.mlflow.gaps.MlflowGaps`).
        """
        exp = self._experiment
        facts = SummaryFacts(exp.name if exp else self._key, self._metric, self._mode, self._rule,
                             dict(exp.stop or {}) if exp else {},
                             ([f"Logdir: `{exp.dir}`"] if exp else []) + self._where, status)
        record = experiment_end_record(trials, facts)
        self._log_parent(ParentRunRecord(record.params, record.metrics, {}, record.artifacts))
        return self.end_experiment(status, self._tags(record.tags))

    def end_experiment(self, status: str, summary: Mapping[str, Any],
                       deadline_s: Optional[float] = None) -> MlflowGaps:
        """Waits until every trial's records are written, then ends the parent run;
        waits at most ``deadline_s`` (default ``TUNEFLOWS_MLFLOW_DEADLINE_S``) in all.

        Returns:
            What MLflow lacks (dropped records, writers that stopped or were too slow).
        """
        deadline = time.monotonic() + (deadline_s or mlflow_deadline_s())
        helpers = self._writers[1:]
        for helper in helpers:
            helper.send(WriterCommand.CLOSE_EXPERIMENT, self._key, ())
        gaps = MlflowGaps()
        for helper in helpers:
            ok, value = helper.request(WriterCommand.LOST_RECORDS, self._key, (), deadline=deadline)
            gaps.add_reply(ok, value, self._trials_of(helper))
        ok, value = self._primary.request(WriterCommand.END_EXPERIMENT, self._key,
                                          (status, dict(summary)), deadline=deadline)
        gaps.add_reply(ok, value, self._trials_of(self._primary), holds_parent=True)
        return gaps

    def _trials_of(self, writer: MlflowWriterProcess) -> list[str]:
        return [t for t, w in self._writer_of.items() if w is writer]

    def writer_of(self, trial_id: str) -> MlflowWriterProcess:
        """The writer of a trial's records, chosen round-robin when first asked."""
        writer = self._writer_of.get(trial_id)
        if writer is None:
            writer = self._writers[len(self._writer_of) % len(self._writers)]
            self._writer_of[trial_id] = writer
        return writer

    def _send(self, trial_id: str, method: WriterCommand, *args: Any) -> None:
        self.writer_of(trial_id).send(method, self._key, (trial_id, *args))

    def _tags(self, tags: Mapping[str, Any]) -> dict[str, str]:
        return self._names.strings(tags, "tag")

    def _log_parent(self, record: ParentRunRecord) -> None:
        names = self._names
        self._primary.send(WriterCommand.LOG_PARENT, self._key, (
            param_strings(record.params, names=names), names.metrics(record.metrics),
            self._tags(record.tags), dict(record.artifacts)))
