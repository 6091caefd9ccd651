"""Issue 4's measurements: the cost of a checkpoint round trip (trial actor → driver →
disk → MLflow artifact) for a 1 MB and a 100 MB state, and the time from SIGKILL of a
driver to the resumed experiment producing its next result.

Run: ``python -m benchmarks.checkpoint_costs`` (about two minutes on 2 cores).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

from tuneflows.recording.trial_files import count_results


def checkpoint_round_trip(size_mb: int, repeats: int = 3) -> dict[str, float]:
    """Median seconds of each leg for a state of ``size_mb`` megabytes."""
    import ray

    import tuneflows
    from tuneflows.runs.checkpoint_store import CheckpointStore
    from tuneflows.execution.ray_session import ensure_ray
    from tuneflows.execution.trial_actor import TrialActor
    from tuneflows.recording.mlflow.store import MlflowStore
    from tuneflows.trainable import TrialIdentity

    class Big(tuneflows.Trainable):
        def _setup(self, config):
            self.state = np.random.default_rng(0).random(config["mb"] * 131072)

        def _train(self):
            return {}

        def _save(self, checkpoint_dir):
            path = os.path.join(checkpoint_dir, "state.npy")
            np.save(path, self.state)
            return path

        def _restore(self, path):
            self.state = np.load(path)

    ensure_ray()
    actor = ray.remote(TrialActor).options(num_cpus=1).remote()
    ray.get(actor.start_trial.remote(Big, {"mb": size_mb}, TrialIdentity()))
    root = tempfile.mkdtemp(prefix="ckpt_bench_")
    recorder = MlflowStore(f"ckpt_bench_{size_mb}", root)
    recorder.open_experiment("bench", "bench", {})
    recorder.create_trial_run("t", "t", {})
    store = CheckpointStore(keep_num=1)
    legs: dict[str, list[float]] = {"actor_to_driver": [], "to_disk": [], "to_mlflow": []}
    for i in range(repeats):
        t0 = time.perf_counter()
        blob = ray.get(actor.save.remote())
        t1 = time.perf_counter()
        record = store.save("t", root, blob, i + 1)
        t2 = time.perf_counter()
        recorder.log_artifacts("t", record.path, f"checkpoints/{os.path.basename(record.path)}")
        t3 = time.perf_counter()
        legs["actor_to_driver"].append(t1 - t0)
        legs["to_disk"].append(t2 - t1)
        legs["to_mlflow"].append(t3 - t2)
    ray.kill(actor)
    out = {k: float(np.median(v)) for k, v in legs.items()}
    out["total"] = sum(out.values())
    return out


DRIVER = os.path.join(os.path.dirname(__file__), "..", "examples", "slow_checkpointed.py")


def kill_to_next_result() -> dict[str, float]:
    """Seconds from SIGKILL of a driver to the resumed experiment's next new result."""
    root = tempfile.mkdtemp(prefix="kill_bench_")
    env = dict(os.environ, TUNE_RESULT_DIR=root)
    exp_dir = os.path.join(root, "killed")
    proc = subprocess.Popen([sys.executable, os.path.abspath(DRIVER), "killed", "--rates", "4",
                             "--iterations", "100", "--checkpoint-freq", "5"], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while count_results(exp_dir) < 40:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    killed_at = time.perf_counter()
    proc.wait()
    before = count_results(exp_dir)
    resumed = subprocess.Popen([sys.executable, "-m", "tuneflows.cli", "resume", exp_dir],
                               env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while count_results(exp_dir) <= before:
        time.sleep(0.05)
    next_result = time.perf_counter() - killed_at
    resumed.wait(timeout=600)
    return {"kill_to_next_result_s": next_result, "rows_at_kill": before}


def main() -> None:
    from rich.console import Console
    from rich.table import Table

    figures = {f"{mb}MB": checkpoint_round_trip(mb) for mb in (1, 100)}
    figures["resume"] = kill_to_next_result()
    table = Table(title="Checkpoint round trip (median of 3) and resume")
    table.add_column("what")
    table.add_column("seconds", justify="right")
    for size in ("1MB", "100MB"):
        for leg, value in figures[size].items():
            table.add_row(f"{size} {leg}", f"{value:.3f}")
    table.add_row("SIGKILL → resumed next result", f"{figures['resume']['kill_to_next_result_s']:.1f}")
    Console().print(table)
    os.makedirs("benchmarks/results", exist_ok=True)
    with open(f"benchmarks/results/{time.strftime('%Y-%m-%d')}-checkpoints.json", "w") as f:
        json.dump(figures, f, indent=2)


if __name__ == "__main__":
    main()
