"""Ray Tune 2's ``ResultGrid`` and ``Result``: what ``Tuner.fit()`` returns, read from
the trials' files (the same "best" as tuneflows' status block, Prefect and MLflow)."""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, Optional

from tuneflows.analysis import Analysis
from tuneflows.checkpoint import Checkpoint
from tuneflows.error import TuneError
from tuneflows.recording.trial_files import flatten
from tuneflows.trial import ERROR, TERMINATED, Trial

if TYPE_CHECKING:
    import pandas

#: ``get_best_result``'s scopes: which of a trial's results its score is.
SCOPES = ("last", "avg", "last-5-avg", "last-10-avg", "all")
_CHECKPOINT_DIR = re.compile(r"^checkpoint_(\d+)$")


@dataclass
class Result:
    """One trial's outcome.

    Attributes:
        metrics: Its last result.
        config: Its config.
        checkpoint: Its newest checkpoint kept on disk, or None.
        path: Its directory (``params.json``, ``result.json``, checkpoints).
        error: Why it failed (a TuneError naming its error file), or None.
        best_checkpoints: Every checkpoint kept, with the result it was taken at.
    """

    metrics: dict[str, Any]
    config: dict[str, Any]
    checkpoint: Optional[Checkpoint]
    path: str
    error: Optional[Exception]
    best_checkpoints: list[tuple[Checkpoint, dict[str, Any]]]

    @property
    def metrics_dataframe(self) -> "pandas.DataFrame":
        """Every result of the trial, a row each, oldest first."""
        import pandas

        from tuneflows.recording.trial_dirs import read_results

        return pandas.DataFrame([flatten({k: v for k, v in r.items() if k != "config"})
                                 for r in read_results(self.path)])

    @classmethod
    def of_trial(cls, trial: Trial) -> "Result":
        """The result of a finished (or stopped) trial, read from its directory."""
        from tuneflows.recording.trial_dirs import read_results

        kept = checkpoint_dirs(trial.logdir)
        history = ({r.get("training_iteration"): r for r in read_results(trial.logdir)}
                   if kept else {})
        error = None
        if trial.status == ERROR:
            error = TuneError(f"Trial {trial.name} errored: {trial.error_msg} "
                              f"(traceback in {trial.error_file}).")
        return cls(metrics=dict(trial.last_result or {}), config=dict(trial.config),
                   checkpoint=Checkpoint(kept[-1][1]) if kept else None, path=trial.logdir,
                   error=error, best_checkpoints=[(Checkpoint(path), dict(history.get(it, {})))
                                                  for it, path in kept])


class ResultGrid:
    """The results of every trial of an experiment: iterate it, index it, or ask for the
    best.

    Args:
        analysis: The experiment's analysis (its trials, metric and mode).
        experiment_path: The experiment's directory (``Tuner.restore`` takes it).

    Example:
        >>> results = tuner.fit()                                        # doctest: +SKIP
        >>> best = results.get_best_result(metric="loss", mode="min")    # doctest: +SKIP
        >>> best.config, best.metrics["loss"], len(results), results.num_errors  # doctest: +SKIP
    """

    def __init__(self, analysis: Analysis, experiment_path: str) -> None:
        self._analysis = analysis
        self.experiment_path = experiment_path
        self._results = [Result.of_trial(t) for t in analysis.trials]

    def __len__(self) -> int:
        return len(self._results)

    def __getitem__(self, index: int) -> Result:
        return self._results[index]

    def __iter__(self) -> Iterator[Result]:
        return iter(self._results)

    @property
    def errors(self) -> list[Exception]:
        """The errors of the trials that failed."""
        return [r.error for r in self._results if r.error is not None]

    @property
    def num_errors(self) -> int:
        """How many trials failed."""
        return sum(1 for t in self._analysis.trials if t.status == ERROR)

    @property
    def num_terminated(self) -> int:
        """How many trials ended without an error."""
        return sum(1 for t in self._analysis.trials if t.status == TERMINATED)

    def get_best_result(self, metric: Optional[str] = None, mode: Optional[str] = None,
                        scope: str = "last", filter_nan_and_inf: bool = True) -> Result:
        """The best trial's result.

        Args:
            metric / mode: Default the TuneConfig's.
            scope: The trial's score is its ``"last"`` result's value, the average of all
                (``"avg"``) or of the last 5 or 10 (``"last-5-avg"``, ``"last-10-avg"``),
                or its best value (``"all"``).
            filter_nan_and_inf: Trials whose score is NaN or infinite are not best.

        Raises:
            ValueError: No metric or mode is known, or a bad scope.
            RuntimeError: No trial reported the metric.
        """
        metric = metric or self._analysis.metric
        mode = mode or (self._analysis.mode if metric == self._analysis.metric else None)
        if metric is None or mode not in ("max", "min"):
            raise ValueError("get_best_result needs a metric and mode 'max' or 'min' (pass "
                             "them here or to TuneConfig).")
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {SCOPES}, got {scope!r}.")
        scored = []
        for index, (trial, result) in enumerate(zip(self._analysis.trials, self._results)):
            score = _score(trial, result, metric, mode, scope)
            if score is None or (filter_nan_and_inf and not math.isfinite(score)):
                continue
            scored.append((score if mode == "max" else -score, -index, result))
        if not scored:
            raise RuntimeError(f"No trial reported {metric!r} (as a finite number).")
        return max(scored, key=lambda entry: entry[:2])[2]

    def get_dataframe(self, filter_metric: Optional[str] = None,
                      filter_mode: Optional[str] = None) -> "pandas.DataFrame":
        """A row per trial: its last result (or, with ``filter_metric`` and
        ``filter_mode``, its result where that metric was best) and ``config/<key>``."""
        import pandas

        rows = []
        for trial, result in zip(self._analysis.trials, self._results):
            chosen = result.metrics
            if filter_metric is not None:
                history = result.metrics_dataframe
                if filter_metric in history:
                    values = history[filter_metric]
                    best = values.idxmax() if filter_mode != "min" else values.idxmin()
                    chosen = history.loc[best].to_dict()
            row = flatten({k: v for k, v in chosen.items() if k != "config"})
            row.update({"trial_id": trial.trial_id, "logdir": trial.logdir})
            row.update(flatten(trial.config, "config"))
            rows.append(row)
        return pandas.DataFrame(rows)

    def __repr__(self) -> str:
        return (f"ResultGrid({self.experiment_path!r}, {len(self)} results, "
                f"{self.num_errors} errors)")


def checkpoint_dirs(logdir: str) -> list[tuple[int, str]]:
    """The checkpoint directories kept in a trial's directory, oldest first."""
    if not os.path.isdir(logdir):
        return []
    found = [(int(m.group(1)), os.path.join(logdir, name)) for name in os.listdir(logdir)
             if (m := _CHECKPOINT_DIR.match(name))]
    return sorted(found)


def _score(trial: Trial, result: Result, metric: str, mode: str,
           scope: str) -> Optional[float]:
    if scope == "last":
        value = (trial.last_result or {}).get(metric)
        return float(value) if _is_number(value) else None
    history = result.metrics_dataframe
    if metric not in history:
        return None
    values = [float(v) for v in history[metric] if _is_number(v)]
    if scope.startswith("last-"):
        values = values[-int(scope.split("-")[1]):]
    if not values:
        return None
    if scope == "all":
        return max(values) if mode == "max" else min(values)
    return sum(values) / len(values)


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float))
