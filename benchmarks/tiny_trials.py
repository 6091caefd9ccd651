"""1,000 tiny trials (1 no-op result each): tuneflows, Ray Tune and Optuna logging
each trial to MLflow itself, side by side in one invocation.

    python -m benchmarks.tiny_trials --trials 1000 [--repeat 3] [--sides tuneflows,optuna]

Each (side, repeat) runs in its own child process, sides alternating within a repeat:

- ``tuneflows``: ``run_experiments`` (:func:`benchmarks.common.child_main`: the Prefect
  server and the MLflow writers started before the timed call, as ``run_all`` does);
  MLflow CPU is the writer processes' CPU during the call.
- ``raytune``: ``Tuner(...).fit()`` with ``reuse_actors=True`` (as ``run_all``); it
  writes no MLflow records.
- ``optuna``: ``study.optimize`` in-process over the same grid, each trial logging itself
  to a fresh MLflow SQLite store in WAL mode (``create_run`` + ``log_batch`` +
  ``set_terminated``); MLflow CPU is ``time.thread_time`` around those calls.

Printed (medians over repeats): the trial phase's wall (the call only), the whole child
process's wall, MLflow CPU and driver CPU per trial, and the ratios tuneflows/Ray Tune
and tuneflows/Optuna+MLflow. Load (1-minute average) is printed with each run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from typing import Any, Optional

from benchmarks.common import Workload, child_main, xs
from benchmarks.run_all import spawn_child

SIDES = ("tuneflows", "raytune", "optuna")


def workload(trials: int) -> Workload:
    """The workload: ``trials`` trials × 1 no-op result (id 8 in experiment names)."""
    return Workload(8, f"{trials:,} trials x 1 it, no-op", trials, 1)


def optuna_child(w: Workload, out_path: str, tmp_root: str) -> dict[str, Any]:
    """Optuna in this process, each trial logging itself to MLflow."""
    import resource

    t_start = time.perf_counter()
    import optuna
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    from tuneflows.recording.mlflow.store import use_write_ahead_log

    local_dir = tempfile.mkdtemp(prefix="optuna-w8-", dir=tmp_root)
    uri = "sqlite:///" + os.path.join(local_dir, "mlflow.db")
    client = MlflowClient(tracking_uri=uri)  # creates and migrates the store
    use_write_ahead_log(uri)
    experiment_id = client.create_experiment("bench_w8")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    grid = xs(w)
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.GridSampler({"x": grid}, seed=0))
    startup_s = time.perf_counter() - t_start
    mlflow_cpu = [0.0]

    def objective(trial: Any) -> float:
        x = trial.suggest_categorical("x", grid)
        started = int(time.time() * 1000)
        score = float(x)  # the no-op trainable's one result
        c0 = time.thread_time()
        run = client.create_run(experiment_id, start_time=started, run_name=f"trial_{trial.number}")
        client.log_batch(run.info.run_id, metrics=[Metric("score", score, started, 1)],
                         params=[Param("x", str(x))])
        client.set_terminated(run.info.run_id, "FINISHED")
        mlflow_cpu[0] += time.thread_time() - c0
        return score

    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    cpu0, t0 = cpu(), time.perf_counter()
    study.optimize(objective, n_trials=w.trials)
    wall, driver_cpu = time.perf_counter() - t0, cpu() - cpu0
    out = {"side": "optuna", "startup_s": startup_s, "wall_s": wall,
           "trials": len(study.trials), "driver_cpu_s": driver_cpu,
           "mlflow_cpu_s": mlflow_cpu[0], "loadavg_1m_end": os.getloadavg()[0]}
    with open(out_path, "w") as f:
        json.dump(out, f)
    return out


def child(side: str, w: Workload, out_path: str, tmp_root: str) -> None:
    if side == "optuna":
        optuna_child(w, out_path, tmp_root)
        return
    out = child_main(side, w, out_path, tmp_root)
    out["mlflow_cpu_s"] = out.get("mlflow_writer_cpu_s")
    with open(out_path, "w") as f:
        json.dump(out, f)


def run_side(side: str, w: Workload, tmp_root: str, index: int,
             timeout: float) -> Optional[dict[str, Any]]:
    """One side in a child process; its measures plus the whole process's wall."""
    out_path = os.path.join(tmp_root, f"{side}-{index}.json")
    log_path = os.path.join(tmp_root, f"{side}-{index}.log")
    cmd = [sys.executable, "-m", "benchmarks.tiny_trials", "--child", side,
           "--trials", str(w.trials), "--child-out", out_path, "--tmp-root", tmp_root]
    out, total = spawn_child(cmd, tmp_root, {}, side, log_path, out_path, timeout)
    if out is None:
        return None
    out["process_wall_s"] = total
    trials = max(out.get("trials") or w.trials, 1)
    out["mlflow_cpu_ms_per_trial"] = (None if out.get("mlflow_cpu_s") is None
                                      else out["mlflow_cpu_s"] / trials * 1000)
    out["driver_cpu_ms_per_trial"] = out["driver_cpu_s"] / trials * 1000
    print(f"  {side} #{index}: trial phase {out['wall_s']:.1f} s, process {total:.1f} s, "
          f"MLflow {_fmt(out['mlflow_cpu_ms_per_trial'])} ms/trial, driver "
          f"{out['driver_cpu_ms_per_trial']:.1f} ms/trial, load {out['loadavg_1m_end']:.1f}",
          flush=True)
    return out


def _fmt(value: Optional[float], spec: str = "{:.1f}") -> str:
    return "-" if value is None else spec.format(value)


def median(runs: list[dict], key: str) -> Optional[float]:
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else None


def table(by_side: dict[str, list[dict]]) -> str:
    """The medians by side, and tuneflows' ratios to the others."""
    rows = [("trial phase wall s", "wall_s"), ("whole process wall s", "process_wall_s"),
            ("MLflow CPU ms/trial", "mlflow_cpu_ms_per_trial"),
            ("driver CPU ms/trial", "driver_cpu_ms_per_trial")]
    sides = [s for s in SIDES if by_side.get(s)]
    lines = [f"{'median':<24}" + "".join(f"{s:>14}" for s in sides)
             + "".join(f"{'tf/' + s:>14}" for s in sides if s != "tuneflows")]
    for label, key in rows:
        values = {s: median(by_side[s], key) for s in sides}
        line = f"{label:<24}" + "".join(f"{_fmt(values[s]):>14}" for s in sides)
        mine = values.get("tuneflows")
        for s in sides:
            if s != "tuneflows":
                ratio = mine / values[s] if mine is not None and values[s] else None
                line += f"{_fmt(ratio, '{:.2f}x'):>14}"
        lines.append(line)
    lines.append(f"{'runs':<24}" + "".join(f"{len(by_side[s]):>14}" for s in sides))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--sides", default=",".join(SIDES))
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", help=argparse.SUPPRESS)
    parser.add_argument("--tmp-root", help=argparse.SUPPRESS)
    args = parser.parse_args()
    w = workload(args.trials)
    if args.child:
        child(args.child, w, args.child_out, args.tmp_root)
        return 0
    tmp_root = tempfile.mkdtemp(prefix="tuneflows-tiny-")
    print(f"{w.name}; scratch and logs: {tmp_root}; load {os.getloadavg()}", flush=True)
    by_side: dict[str, list[dict]] = {s: [] for s in args.sides.split(",")}
    for index in range(args.repeat):
        order = list(by_side) if index % 2 == 0 else list(reversed(list(by_side)))
        for side in order:  # sides alternate from one repeat to the next
            out = run_side(side, w, tmp_root, index, args.timeout)
            if out is not None:
                by_side[side].append(out)
    from tuneflows.services.local_prefect_server import stop_server  # after the children

    stop_server(os.path.join(tmp_root, "prefect-home"))  # the local server tuneflows' runs shared
    print(table(by_side))
    print(f"load {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
