"""What MLflow's SQLite store costs per call and per metric value, and what merging a
trial's writes into one ``log_batch`` saves (the MLflow writer process's batching).

    python -m benchmarks.mlflow_calls [--trials 100] [--repeat 3] [--values 50000]

Prints, on fresh stores in a temporary directory: milliseconds per one-result trial
written call by call (create, params, metrics, tags, terminate: what tuneflows did
before the writer process) and merged (create, one batch, terminate), in a store in
write-ahead-log mode (the embedded store tuneflows creates) and merged in a store in
SQLite's default rollback-journal mode, alternating the three ``--repeat`` times (a
store slows down as runs accumulate) and reporting medians; then microseconds of CPU
per metric value in 1,000-value batches.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from typing import Any, Optional

from tuneflows.services import process_defaults
from tuneflows.recording.mlflow.store import use_write_ahead_log

process_defaults.apply_defaults()


def _trial_costs(client: Any, experiment_id: str, parent: str, trials: int, merged: bool) -> dict[str, float]:
    from mlflow.entities import Metric, Param, RunTag

    wall0, cpu0 = time.perf_counter(), _cpu_seconds()
    for i in range(trials):
        tags = {"mlflow.parentRunId": parent, "trial_id": str(i), "logdir": "/x"}
        run_id = client.create_run(experiment_id, run_name=f"t{i}", tags=tags).info.run_id
        params = [Param("lr", str(i)), Param("momentum", "0.9")]
        metrics = [Metric(k, 1.0, int(time.time() * 1000), 1) for k in ("a", "b", "c", "d", "e")]
        status = [RunTag("status", "TERMINATED")]
        if merged:
            client.log_batch(run_id, metrics=metrics, params=params, tags=status)
        else:
            client.log_batch(run_id, params=params)
            client.log_batch(run_id, metrics=metrics)
            client.log_batch(run_id, tags=status)
        client.set_terminated(run_id, "FINISHED")
    return {"wall_ms_per_trial": (time.perf_counter() - wall0) / trials * 1000,
            "cpu_ms_per_trial": (_cpu_seconds() - cpu0) / trials * 1000}


def _cpu_seconds() -> float:
    """User and system CPU of this process (a commit's file work is system time)."""
    times = os.times()
    return times.user + times.system


def _store(root: str, name: str, wal: bool) -> tuple[Any, str, str]:
    """A fresh SQLite store with an experiment and a parent run."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{os.path.join(root, name + '.db')}"
    client = MlflowClient(tracking_uri=uri)
    experiment_id = client.create_experiment("calls")
    if wal:
        use_write_ahead_log(uri)
    parent = client.create_run(experiment_id, run_name="parent").info.run_id
    return client, experiment_id, parent


def _value_cost(client: Any, experiment_id: str, values: int) -> dict[str, float]:
    from mlflow.entities import Metric

    run_id = client.create_run(experiment_id, run_name="many-values").info.run_id
    keys = ("a", "b", "c", "d", "e")
    steps = values // len(keys)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for first in range(0, steps, 200):
        stamp = int(time.time() * 1000)
        client.log_batch(run_id, metrics=[Metric(k, float(s), stamp, s)
                                          for s in range(first, min(first + 200, steps))
                                          for k in keys])
    n = steps * len(keys)
    return {"wall_us_per_value": (time.perf_counter() - wall0) / n * 1e6,
            "cpu_us_per_value": (time.process_time() - cpu0) / n * 1e6}


def main(argv: Optional[list[str]] = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--values", type=int, default=50_000)
    args = parser.parse_args(argv)
    root = tempfile.mkdtemp(prefix="mlflow_calls_")
    wal_store = _store(root, "wal", wal=True)
    stores = {"separate_calls": (wal_store, False), "merged_batch": (wal_store, True),
              "merged_batch_rollback_journal": (_store(root, "journal", wal=False), True)}
    samples: dict[str, list[dict[str, float]]] = {mode: [] for mode in stores}
    for _ in range(args.repeat):
        for mode, ((client, experiment_id, parent), merged) in stores.items():
            samples[mode].append(_trial_costs(client, experiment_id, parent, args.trials, merged))
    out: dict[str, Any] = {
        mode: {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        for mode, runs in samples.items()
    }
    out["metric_values"] = _value_cost(wal_store[0], wal_store[1], args.values)
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
