"""``tuneflows ls`` and ``tuneflows best``: what the experiments under a results
directory and their runs hold, read from their saved state (JSON: no code runs; no Ray, Prefect or
MLflow)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from typing import Optional, Sequence

from tuneflows.model.best_trial import best_trial, metric_value, reported_metrics
from tuneflows.error import TuneError
from tuneflows.runs.lock import is_locked
from tuneflows.runs.state import ExperimentState, load_state
from tuneflows.runs.run_dirs import find_run_dir, is_finished, read_run_file, run_dirs
from tuneflows.spec import default_local_dir
from tuneflows.model.trial_outcome import STOPPED_EARLY, trial_outcome
from tuneflows.trial import Trial


@dataclass
class RunSummary:
    """One run directory as ``tuneflows ls`` shows it."""

    name: str
    run_id: str
    directory: str
    status: str
    counts: dict[str, int]
    metric: Optional[str]
    mode: str
    best: Optional[Trial]
    trials: Sequence[Trial]

    def line(self) -> str:
        """A row of ``tuneflows ls``, under its experiment's name: the run, how it ended
        (or that it runs), its trials by status and how many were stopped early, the
        best metric."""
        counts = ", ".join(f"{n} {status}" for status, n in sorted(self.counts.items()))
        total = sum(self.counts.values())
        early = sum(1 for t in self.trials if trial_outcome(t, "").kind == STOPPED_EARLY)
        stopped = f", {early} stopped early" if early else ""
        best = "-"
        if self.best is not None:
            best = f"{self.metric}={metric_value(self.best, self.metric):.6g} ({self.mode})"
        return (f"  {self.run_id:<26} {self.status:<10} {total:>5} trials ({counts}){stopped}"
                f"  best {best}")


def summarize(directory: str, metric: Optional[str] = None,
              mode: Optional[str] = None) -> Optional[RunSummary]:
    """The summary of a run directory, or None when it holds no state.

    Raises:
        TuneError: The state is unreadable.
    """
    state: Optional[ExperimentState] = load_state(directory)
    if state is None:
        return None
    trials = [Trial(**fields) for fields in state.trials]
    if metric is None:
        metric, mode = state.metric, mode or state.mode
    mode = mode or "max"
    counts: dict[str, int] = {}
    for trial in trials:
        counts[trial.status] = counts.get(trial.status, 0) + 1
    ended = read_run_file(directory).get("ended")
    status = "finished" if is_finished(state) else (
        "running" if is_locked(directory) else
        ended if isinstance(ended, str) else "unfinished")  # a killed driver notes nothing
    return RunSummary(os.path.basename(os.path.dirname(directory)), os.path.basename(directory),
                      directory, status, counts, metric, mode, best_trial(trials, metric, mode),
                      trials)


def cmd_ls(args: argparse.Namespace) -> int:
    """``tuneflows ls [LOCAL_DIR]``: every experiment under the results directory and
    its runs, oldest first (status, trials by status, best metric). The default results
    directory not existing yet means no experiments; a given one must exist."""
    local_dir = os.path.abspath(args.local_dir or default_local_dir())
    if not os.path.isdir(local_dir):
        if args.local_dir is None:
            print(f"No experiments in {local_dir} yet.")
            return 0
        raise ValueError(f"{local_dir!r} is not a directory.")
    shown = 0
    for name in sorted(os.listdir(local_dir)):
        summaries = [s for s in (summarize(d) for d in run_dirs(os.path.join(local_dir, name)))
                     if s is not None]
        if summaries:
            print(f"{name}  ({len(summaries)} run{'s' if len(summaries) > 1 else ''})")
            for summary in summaries:
                print(summary.line())
            shown += 1
    if not shown:
        print(f"No tuneflows experiments under {local_dir}.")
    return 0


def cmd_best(args: argparse.Namespace) -> int:
    """``tuneflows best RUN``: the best trial's config as JSON on stdout, and on stderr
    which run and trial it is (``RUN`` is a run directory, an experiment directory: its
    newest run, or an experiment name under the results directory)."""
    directory = find_run_dir(args.run_dir, default_local_dir())
    summary = summarize(directory, args.metric, args.mode)
    if summary is None:
        raise TuneError(f"{directory!r} holds no tuneflows experiment run.")
    if summary.best is None:
        raise TuneError(_no_best_reason(summary))
    best = summary.best
    print(f"{summary.name} run {summary.run_id}: best trial {best.trial_id} with "
          f"{summary.metric}={metric_value(best, summary.metric):.6g} ({summary.mode})",
          file=sys.stderr)
    print(json.dumps(best.config, sort_keys=True, default=str))
    return 0


def _no_best_reason(summary: RunSummary) -> str:
    """Why a run has no best trial, with the metrics its trials did report."""
    run = f"{summary.name!r} run {summary.run_id}"
    keys = reported_metrics(summary.trials)
    if summary.metric is None:
        why = f"No metric is known for {run} (its scheduler, searcher and stop criteria name none)"
    else:
        why = f"No trial of {run} reported {summary.metric!r}"
    if not keys:
        return f"{why}, and its trials reported no numeric result yet."
    return f"{why}; pass --metric with one of the keys its trials reported: {', '.join(keys)}."
