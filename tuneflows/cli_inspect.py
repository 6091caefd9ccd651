"""``tuneflows ls`` and ``tuneflows best``: what the experiments under a results
directory hold, read from their saved state (JSON: no code runs; no Ray, Prefect or
MLflow)."""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass
from typing import Optional

from tuneflows.best_trial import best_trial, metric_value
from tuneflows.error import TuneError
from tuneflows.experiment_state import ExperimentState, load_state, state_path
from tuneflows.spec import default_local_dir
from tuneflows.trial import Trial


@dataclass
class ExperimentSummary:
    """One experiment directory as ``tuneflows ls`` shows it."""

    name: str
    directory: str
    status: str
    counts: dict[str, int]
    metric: Optional[str]
    mode: str
    best: Optional[Trial]

    def line(self) -> str:
        """A row of ``tuneflows ls``."""
        counts = ", ".join(f"{n} {status}" for status, n in sorted(self.counts.items()))
        total = sum(self.counts.values())
        best = "-"
        if self.best is not None:
            best = f"{self.metric}={metric_value(self.best, self.metric):.6g} ({self.mode})"
        return f"{self.name:<28} {self.status:<10} {total:>5} trials ({counts})  best {best}"


def summarize(directory: str, metric: Optional[str] = None,
              mode: Optional[str] = None) -> Optional[ExperimentSummary]:
    """The summary of an experiment directory, or None when it holds no state.

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
    finished = state.searcher_done and all(t.is_finished() for t in trials)
    return ExperimentSummary(os.path.basename(directory), directory,
                             "finished" if finished else "unfinished", counts, metric, mode,
                             best_trial(trials, metric, mode))


def cmd_ls(args: argparse.Namespace) -> int:
    """``tuneflows ls [LOCAL_DIR]``: every experiment under the results directory."""
    local_dir = os.path.abspath(args.local_dir or default_local_dir())
    if not os.path.isdir(local_dir):
        raise ValueError(f"{local_dir!r} is not a directory.")
    shown = 0
    for name in sorted(os.listdir(local_dir)):
        directory = os.path.join(local_dir, name)
        if os.path.exists(state_path(directory)):
            summary = summarize(directory)
            print(summary.line())
            shown += 1
    if not shown:
        print(f"No tuneflows experiments under {local_dir}.")
    return 0


def cmd_best(args: argparse.Namespace) -> int:
    """``tuneflows best EXPERIMENT_DIR``: the best trial's config as JSON on stdout."""
    directory = os.path.abspath(args.experiment_dir)
    summary = summarize(directory, args.metric, args.mode)
    if summary is None:
        raise TuneError(f"{directory!r} holds no tuneflows experiment.")
    if summary.best is None:
        raise TuneError(f"No trial of {summary.name!r} reported "
                        f"{summary.metric or 'a metric'}; pass --metric.")
    print(json.dumps(summary.best.config, sort_keys=True, default=str))
    return 0
