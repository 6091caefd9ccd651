"""A driver for the hardening tests, run as a subprocess:
``python recording_driver.py NAME PIDS_FILE [--trials N] [--iterations N] [--sleep S]``.

Before the experiment starts it writes ``PIDS_FILE`` (JSON: the driver's pid and its
MLflow writers' pids); when ``run_experiments`` returns it prints ``RETURNED`` and the
wall-clock time, then the trials' statuses as JSON."""

from __future__ import annotations

import argparse
import json
import os
import time

import tuneflows
from tuneflows.recording.mlflow.writer_pool import MlflowWriterPool


class Ticks(tuneflows.Trainable):
    """Counts, sleeping ``sleep`` s an iteration; checkpoints its count."""

    def _setup(self, config):
        self.count = 0

    def _train(self):
        time.sleep(self.config["sleep"])
        self.count += 1
        return {"count": self.count}

    def _save(self, checkpoint_dir):
        return {"count": self.count}

    def _restore(self, state):
        self.count = state["count"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("name")
    parser.add_argument("pids_file")
    parser.add_argument("--trials", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--sleep", type=float, default=0.2)
    args = parser.parse_args()
    writers = MlflowWriterPool.shared()
    with open(args.pids_file + ".tmp", "w") as f:
        json.dump({"driver": os.getpid(), "writers": writers.pids}, f)
    os.replace(args.pids_file + ".tmp", args.pids_file)
    trials = tuneflows.run_experiments({args.name: {
        "run": Ticks,
        "config": {"sleep": args.sleep, "index": tuneflows.grid_search(list(range(args.trials)))},
        "stop": {"training_iteration": args.iterations},
        "checkpoint_freq": 5,
    }}, verbose=False, round_seconds=0.5, raise_on_failed_trial=False)
    print(f"RETURNED {time.time()}", flush=True)
    print("STATUSES " + json.dumps({t.trial_id: t.status for t in trials}), flush=True)


if __name__ == "__main__":
    main()
