"""Why tuneflows runs two MLflow writer processes: the time to write the same metric
values into one SQLite store from one process and from two (each with half the runs).

    python -m benchmarks.mlflow_writers [--values 80000] [--repeat 2]

Writes ``--values`` values (8 runs × 5 keys per step, 1,000-value ``log_batch`` calls,
workload 2's shape) on a fresh store per measurement, alternating one and two processes
``--repeat`` times, and prints the writing time of the slowest process and the CPU
seconds of all of them (medians). Process start-up and imports are excluded.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import tempfile
import time
from typing import Any, Optional

from tuneflows.services import process_defaults

process_defaults.apply_defaults()

RUNS = 8
KEYS = ("a", "b", "c", "d", "e")


def _write(uri: str, run_ids: list[str], steps: int, start: Any, out: Any) -> None:
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    client.get_run(run_ids[0])  # connect before the clock starts
    start.wait()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    per_batch = 1000 // len(KEYS)
    for first in range(0, steps, per_batch):
        for run_id in run_ids:
            stamp = int(time.time() * 1000)
            client.log_batch(run_id, metrics=[Metric(k, float(s), stamp, s)
                                              for s in range(first, min(first + per_batch, steps))
                                              for k in KEYS])
    out.put((time.perf_counter() - wall0, time.process_time() - cpu0))


def measure(processes: int, values: int) -> dict[str, float]:
    """Seconds to write ``values`` values with ``processes`` writer processes."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tempfile.mkdtemp(prefix='mlflow-writers-')}/mlflow.db"
    client = MlflowClient(tracking_uri=uri)
    experiment_id = client.create_experiment("writers")
    run_ids = [client.create_run(experiment_id).info.run_id for _ in range(RUNS)]
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    steps = values // (RUNS * len(KEYS))
    workers = [ctx.Process(target=_write, args=(uri, run_ids[i::processes], steps, start, out))
               for i in range(processes)]
    for worker in workers:
        worker.start()
    time.sleep(10)  # every process imported MLflow and connected
    start.set()
    timings = [out.get() for _ in workers]
    for worker in workers:
        worker.join()
    return {"wall_s": max(w for w, _ in timings), "cpu_s": sum(c for _, c in timings)}


def main(argv: Optional[list[str]] = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--values", type=int, default=80_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    samples: dict[int, list[dict[str, float]]] = {1: [], 2: []}
    for _ in range(args.repeat):
        for processes in samples:
            samples[processes].append(measure(processes, args.values))
    out = {f"{p}_writers": {key: statistics.median(s[key] for s in runs) for key in runs[0]}
           for p, runs in samples.items()}
    out["speed_up"] = out["1_writers"]["wall_s"] / out["2_writers"]["wall_s"]
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
