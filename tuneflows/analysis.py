"""Analysis of a finished (or running) experiment: its best trial, config and result by a
metric and mode, a pandas DataFrame of its trials and each trial's history.

Read from an experiment (or run) directory's trial files, from the MLflow experiment
(one parent run, its nested trial runs with params and metric history), or straight from
``run_experiments``' return value. "Best" is :mod:`tuneflows.model.best_trial`'s, as in the
status block, the Prefect summary and the MLflow parent run. ``ExperimentAnalysis`` is
Ray Tune's name for the same class.

Example:
    >>> trials = tuneflows.run_experiments({"my_exp": {...}})           # doctest: +SKIP
    >>> analysis = Analysis.from_trials(trials, metric="mean_accuracy")  # doctest: +SKIP
    >>> analysis = Analysis("~/ray_results/my_exp")                      # doctest: +SKIP
    >>> analysis = Analysis.from_mlflow("my_exp")                        # doctest: +SKIP
    >>> analysis.best_config, analysis.dataframe().head()               # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

from tuneflows.recording.mlflow import tags as mlflow_tags
from tuneflows.model.best_trial import best_trial, experiment_metric, metric_value, ranked_trials
from tuneflows.model.metric_mode import validate_mode
from tuneflows.recording.mlflow.runs import (
    metric_history, parent_run, tracking_client, trial_config,
    trial_runs, trial_status,
)
from tuneflows.recording.pictures.importances import parameter_importances
from tuneflows.recording.pictures.pages import log_parameters
from tuneflows.recording.trial_files import flatten
from tuneflows.runs.run_dirs import resolve_run_dir
from tuneflows.trial import Trial
from tuneflows.recording.trial_dirs import read_results, read_trial_dirs, saved_metric

if TYPE_CHECKING:
    import pandas

__all__ = ["Analysis", "ExperimentAnalysis"]

#: Result keys that are the trial's identity or config, not results: left out of frames.
NOT_RESULTS = ("config",)


@dataclass
class AnalysisSource:
    """What an :class:`Analysis` reads: the trials, their names, how to get a trial's
    history, and the metric and mode the source itself names (if any)."""

    trials: list[Trial]
    names: dict[str, str]
    history: Callable[[Trial], list[dict[str, Any]]]
    metric: Optional[str] = None
    mode: Optional[str] = None
    where: str = ""


class Analysis:
    """An experiment's trials, ranked by a metric.

    Args:
        experiment_dir: A run directory (every subdirectory holding a ``params.json``
            is a trial), e.g. ``~/ray_results/my_exp/2026-12-02_00-31-05_ab12``, or an
            experiment directory (``~/ray_results/my_exp``: its newest run).
        metric: The result key "best" is judged by. Default: what the source names (the
            saved state's or the MLflow parent run's metric), else the first stop
            criterion that is not a budget key.
        mode: ``"max"`` or ``"min"`` (default: the source's, else ``"max"``).

    Example:
        >>> import json, os, tempfile
        >>> root = tempfile.mkdtemp()
        >>> for i, acc in enumerate([0.6, 0.9]):
        ...     os.makedirs(os.path.join(root, f"t{i}"))
        ...     json.dump({"lr": i / 10}, open(os.path.join(root, f"t{i}", "params.json"), "w"))
        ...     with open(os.path.join(root, f"t{i}", "result.json"), "w") as f:
        ...         for it in (1, 2):
        ...             print(json.dumps({"trial_id": f"t{i}", "training_iteration": it,
        ...                               "acc": acc * it / 2}), file=f)
        >>> analysis = Analysis(root, metric="acc", mode="max")
        >>> analysis.best_config, analysis.best_result["acc"]
        ({'lr': 0.1}, 0.9)
        >>> analysis.dataframe()[["trial_id", "acc", "config/lr"]].values.tolist()
        [['t0', 0.6, 0.0], ['t1', 0.9, 0.1]]
        >>> analysis.trial_history("t1")["acc"].tolist()
        [0.45, 0.9]
    """

    def __init__(self, experiment_dir: Any = None, metric: Optional[str] = None,
                 mode: Optional[str] = None, *, source: Optional[AnalysisSource] = None):
        if source is None:
            if experiment_dir is None:
                raise ValueError("Analysis needs an experiment directory (or use "
                                 "Analysis.from_mlflow / Analysis.from_trials).")
            source = _directory_source(os.path.abspath(os.path.expanduser(
                os.fspath(experiment_dir))))
        validate_mode(mode, allow_none=True)
        self._source = source
        fallback = experiment_metric(None, None, _stop_of(source.trials))
        self.metric: Optional[str] = metric or source.metric or fallback[0]
        if mode is None and (metric is None or metric == source.metric):
            mode = source.mode  # the source's mode goes with the source's metric
        self.mode: str = mode or "max"

    # ----------------------------------------------------------------- constructors
    @classmethod
    def from_trials(cls, trials: Sequence[Trial], metric: Optional[str] = None,
                    mode: Optional[str] = None) -> "Analysis":
        """The analysis of ``run_experiments``' return value, without reading it back
        (histories come from each trial's ``result.json`` when asked for)."""
        source = AnalysisSource(list(trials), {t.trial_id: t.name for t in trials},
                                lambda trial: read_results(trial.logdir), where="trials")
        return cls(metric=metric, mode=mode, source=source)

    @classmethod
    def from_mlflow(cls, experiment_name: str, metric: Optional[str] = None,
                    mode: Optional[str] = None, *, experiment_id: Optional[str] = None,
                    tracking_uri: Optional[str] = None,
                    local_dir: Optional[str] = None) -> "Analysis":
        """The analysis of MLflow experiment ``experiment_name``: one parent run (the
        newest, or tuneflows experiment ``experiment_id``'s) and its trial runs.

        Args:
            experiment_name: The MLflow (and tuneflows) experiment's name.
            metric: As for :class:`Analysis`; default the parent run's ``tuneflows.metric``.
            mode: As for :class:`Analysis`; default the parent run's ``tuneflows.mode``.
            experiment_id: Which run of the experiment (the ``experiment_id`` of its
                results); default the newest.
            tracking_uri: The MLflow store; default where run_experiments writes
                (``MLFLOW_TRACKING_URI``, else ``<local_dir>/mlflow.db``).
            local_dir: The results root of the embedded store.

        Raises:
            ValueError: There is no such experiment or parent run.
        """
        client = tracking_client(tracking_uri, local_dir)
        parent = parent_run(client, experiment_name, experiment_id)
        runs = trial_runs(client, parent)
        trials, names, by_trial = [], {}, {}
        for run in runs:
            tags = run.data.tags
            trial = Trial(trial_id=tags[mlflow_tags.TRIAL_ID], experiment_tag=tags.get(mlflow_tags.EXPERIMENT_TAG, ""),
                          config=trial_config(run), trainable_name="",
                          logdir=tags.get(mlflow_tags.TRIAL_LOGDIR, ""), status=trial_status(run),
                          last_result=dict(run.data.metrics) or None,
                          error_msg=tags.get(mlflow_tags.ERROR))
            trials.append(trial)
            names[trial.trial_id] = run.info.run_name or trial.trial_id
            by_trial[trial.trial_id] = run
        source = AnalysisSource(
            trials, names, lambda trial: metric_history(client, by_trial[trial.trial_id]),
            parent.data.tags.get(mlflow_tags.METRIC), parent.data.tags.get(mlflow_tags.MODE),
            where=f"MLflow run {parent.info.run_id} of {experiment_name!r}")
        return cls(metric=metric, mode=mode, source=source)

    # ----------------------------------------------------------------- trials
    @property
    def trials(self) -> list[Trial]:
        """Every trial, in the order they were created."""
        return list(self._source.trials)

    def trial_name(self, trial: Trial) -> str:
        """The name a trial is shown by (its MLflow run's, its directory's)."""
        return self._source.names.get(trial.trial_id, trial.trial_id)

    def get_best_trial(self, metric: Optional[str] = None,
                       mode: Optional[str] = None) -> Optional[Trial]:
        """The best trial by ``metric`` and ``mode`` (default the analysis'), ties to
        fewer iterations then creation order; None when no trial reported the metric.

        Raises:
            ValueError: No metric is known (none given and the source names none).
        """
        metric, mode = self._judged_by(metric, mode)
        return best_trial(self._source.trials, metric, mode)

    def get_best_config(self, metric: Optional[str] = None,
                        mode: Optional[str] = None) -> Optional[dict[str, Any]]:
        """The best trial's config (None when no trial reported the metric)."""
        trial = self.get_best_trial(metric, mode)
        return dict(trial.config) if trial else None

    def get_best_result(self, metric: Optional[str] = None,
                        mode: Optional[str] = None) -> Optional[dict[str, Any]]:
        """The best trial's last result (None when no trial reported the metric)."""
        trial = self.get_best_trial(metric, mode)
        return dict(trial.last_result or {}) if trial else None

    def get_best_logdir(self, metric: Optional[str] = None,
                        mode: Optional[str] = None) -> Optional[str]:
        """The best trial's logdir (None when no trial reported the metric)."""
        trial = self.get_best_trial(metric, mode)
        return trial.logdir if trial else None

    @property
    def best_trial(self) -> Optional[Trial]:
        """:meth:`get_best_trial` by the analysis' metric and mode."""
        return self.get_best_trial()

    @property
    def best_config(self) -> Optional[dict[str, Any]]:
        """:meth:`get_best_config` by the analysis' metric and mode."""
        return self.get_best_config()

    @property
    def best_result(self) -> Optional[dict[str, Any]]:
        """:meth:`get_best_result` by the analysis' metric and mode."""
        return self.get_best_result()

    @property
    def best_logdir(self) -> Optional[str]:
        """:meth:`get_best_logdir` by the analysis' metric and mode (Ray Tune 1.x)."""
        return self.get_best_logdir()

    @property
    def results_df(self) -> "pandas.DataFrame":
        """:meth:`dataframe` indexed by ``trial_id`` (Ray Tune 1.x/2.x's ``results_df``)."""
        return self.dataframe().set_index("trial_id")

    def ranked(self, metric: Optional[str] = None, mode: Optional[str] = None) -> list[Trial]:
        """Every trial, best first (trials without the metric last)."""
        metric, mode = self._judged_by(metric, mode)
        return ranked_trials(self._source.trials, metric, mode)

    # ----------------------------------------------------------------- frames
    def dataframe(self) -> "pandas.DataFrame":
        """A row per trial: ``trial_id``, ``trial_name``, ``status``, ``logdir``, its
        last result (nested keys joined with ``/``) and its config as ``config/<key>``."""
        import pandas

        rows = []
        for trial in self._source.trials:
            row: dict[str, Any] = {"trial_id": trial.trial_id, "trial_name": self.trial_name(trial),
                                   "status": trial.status, "logdir": trial.logdir}
            row.update(_result_columns(trial.last_result or {}))
            row.update(flatten(trial.config, "config"))
            rows.append(row)
        return pandas.DataFrame(rows)

    def trial_history(self, trial: Any) -> "pandas.DataFrame":
        """Every result of ``trial`` (a Trial or its id), a row each, oldest first.

        Raises:
            KeyError: No such trial.
        """
        import pandas

        found = self._trial(trial)
        return pandas.DataFrame([_result_columns(r) for r in self._source.history(found)])

    @property
    def trial_dataframes(self) -> dict[str, "pandas.DataFrame"]:
        """:meth:`trial_history` of every trial, by trial id."""
        return {t.trial_id: self.trial_history(t) for t in self._source.trials}

    def importances(self, metric: Optional[str] = None,
                    mode: Optional[str] = None) -> dict[str, float]:
        """Each config parameter's importance for ``metric`` (default the analysis'),
        most important first; they add up to 1
        (:func:`~tuneflows.recording.pictures.importances.parameter_importances`: fANOVA over the
        ended trials' last values; a parameter whose values are positive and span two
        decades or more is taken on a log scale). Empty with fewer than two ended trials
        reporting the metric. The MLflow parent run holds the same numbers as metrics
        ``importance.<parameter>``.

        Example:
            >>> analysis.importances()                      # doctest: +SKIP
            {'alpha': 0.93, 'learning_rate': 0.07}

        Raises:
            ValueError: No metric is known.
        """
        metric, _ = self._judged_by(metric, mode)
        ended = [t for t in self._source.trials if t.is_finished()]
        configs = [t.config for t in ended]
        return parameter_importances(configs, [metric_value(t, metric) for t in ended],
                                     log_params=log_parameters(configs, {}))

    def get_all_configs(self) -> dict[str, dict[str, Any]]:
        """Every trial's config, by trial id."""
        return {t.trial_id: dict(t.config) for t in self._source.trials}

    def __repr__(self) -> str:
        return (f"Analysis({self._source.where!r}, {len(self._source.trials)} trials, "
                f"metric={self.metric!r}, mode={self.mode!r})")

    # ----------------------------------------------------------------- helpers
    def _judged_by(self, metric: Optional[str], mode: Optional[str]) -> tuple[str, str]:
        metric = metric or self.metric
        if metric is None:
            raise ValueError(f"No metric to rank the trials of {self._source.where} by: pass "
                             f"metric= (and mode='max'|'min').")
        mode = mode or (self.mode if metric == self.metric else "max")
        validate_mode(mode)
        return metric, mode

    def _trial(self, trial: Any) -> Trial:
        trial_id = trial.trial_id if isinstance(trial, Trial) else str(trial)
        for candidate in self._source.trials:
            if candidate.trial_id == trial_id:
                return candidate
        raise KeyError(f"No trial {trial_id!r} in {self._source.where}.")


ExperimentAnalysis = Analysis


def _directory_source(path: str) -> AnalysisSource:
    directory = resolve_run_dir(path)  # an experiment directory: its newest run
    found = read_trial_dirs(directory)
    metric, mode = saved_metric(directory)
    return AnalysisSource([t.trial for t in found], {t.trial.trial_id: t.name for t in found},
                          lambda trial: read_results(trial.logdir), metric, mode,
                          where=directory)


def _stop_of(trials: Sequence[Trial]) -> dict[str, Any]:
    for trial in trials:
        if trial.stopping_criterion:
            return dict(trial.stopping_criterion)
    return {}


def _result_columns(result: dict[str, Any]) -> dict[str, Any]:
    return flatten({k: v for k, v in result.items() if k not in NOT_RESULTS})
