"""A re-run under ASHA (``resume="ERRORED_ONLY"``) on the real stack: the re-run trials
are judged at ASHA's rungs against what ASHA recorded in the first run, and their
records (``events.json``, the MLflow ``stop_reason`` tag) say at which rung and cutoff.

The first run errors two trials before their first result (a marker file is the bug);
the marker is removed (the bug fixed) and the errored trials run again: the worse one,
below every score ASHA recorded at rung 1, is stopped there; the better one goes on to
``max_t``.
"""

from __future__ import annotations

import json
import os
import re
import time

import numpy as np

import tuneflows
from tuneflows.schedulers import AsyncHyperBandScheduler

FIRST_RUN = [0.5, 0.6, 0.7, 0.55]  # flat scores of the trials that never error
WORSE, BETTER = 0.05, 0.99  # the trials that error while the marker exists


def flat_score(config, reporter):
    for _ in range(9):
        if config["q"] in config["fragile"] and os.path.exists(config["marker"]):
            raise RuntimeError("bug: the marker file exists")
        time.sleep(0.02)
        reporter(score=config["q"])


def _events(trial):
    with open(os.path.join(trial.logdir, "events.json")) as f:
        return [json.loads(line) for line in f if line.strip()]


def _stop_reasons(mlflow_uri, name):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_uri)
    experiment = client.get_experiment_by_name(name)
    runs = client.search_runs([experiment.experiment_id], max_results=100)
    return {r.data.tags["trial_id"]: r.data.tags.get("stop_reason") for r in runs
            if "mlflow.parentRunId" in r.data.tags}


def test_errored_only_rerun_is_judged_at_asha_rungs(tune_env, mlflow_uri, tmp_path):
    marker = tmp_path / "bug"
    marker.touch()
    spec = {"asha_rerun": {
        "run": flat_score, "stop": {"training_iteration": 9}, "max_failures": 0,
        "config": {"q": tuneflows.grid_search(FIRST_RUN + [WORSE, BETTER]),
                   "fragile": [WORSE, BETTER], "marker": str(marker)},
    }}

    def asha():
        return AsyncHyperBandScheduler(metric="score", mode="max", max_t=9, grace_period=1,
                                       reduction_factor=3, brackets=1, seed=0)

    first = tuneflows.run_experiments(spec, scheduler=asha(), verbose=0,
                                      raise_on_failed_trial=False, round_seconds=0.05)
    assert [t.status for t in first] == ["TERMINATED"] * 4 + ["ERROR"] * 2
    marker.unlink()
    second = tuneflows.run_experiments(spec, scheduler=asha(), verbose=0,
                                       resume="ERRORED_ONLY", round_seconds=0.05)
    by_q = {t.config["q"]: t for t in second}
    assert [t.trial_id for t in second] == [t.trial_id for t in first]

    # The worse trial is stopped at rung 1, against the cutoff of what rung 1 held: the
    # first run's four scores (and the better re-run trial's, had it got there first).
    worse = by_q[WORSE]
    assert worse.status == "TERMINATED" and worse.iteration == 1
    [error, stop] = _events(worse)
    assert error["event"] == "error" and stop["event"] == "terminated"
    match = re.fullmatch(r"stopped at rung 1: 0\.05 < cutoff (\S+)", stop["reason"])
    assert match, stop["reason"]
    cutoffs = [np.percentile(scores, 100 * (1 - 1 / 3))
               for scores in (FIRST_RUN, FIRST_RUN + [BETTER])]
    assert any(abs(float(match.group(1)) - c) < 5e-4 for c in cutoffs), (match.group(1), cutoffs)
    assert stop["iteration"] == 1

    # The better one passes every rung and runs to the end.
    better = by_q[BETTER]
    assert better.status == "TERMINATED" and better.iteration == 9
    assert not better.last_result.get("early_stopped")
    assert [e["event"] for e in _events(better)] == ["error", "terminated"]  # first, then re-run

    reasons = _stop_reasons(mlflow_uri, "asha_rerun")
    assert reasons[worse.trial_id] == f"stopped by ASHA {stop['reason'][len('stopped '):]}"
    assert reasons[better.trial_id] == "completed (training_iteration reached)"
