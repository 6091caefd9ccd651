"""A small checkpointed experiment for kill-and-resume checks (tests and benchmarks).

``python examples/slow_checkpointed.py NAME [--rates N] [--iterations N] [--checkpoint-freq N]``
runs N trials of a class Trainable that sleeps 0.1 s an iteration and accumulates
``total += rate * iteration``, checkpointing every ``--checkpoint-freq`` iterations.
Kill it (SIGKILL) and continue it with ``tuneflows resume <local_dir>/NAME``.
"""

from __future__ import annotations

import argparse
import time

import tuneflows


class Slow(tuneflows.Trainable):
    """Deterministic in (config, iteration), so a resumed run must equal a clean one."""

    def _setup(self, config):
        self.total = 0.0

    def _train(self):
        time.sleep(0.1)
        self.total += self.config["rate"] * (self.iteration + 1)
        return {"total": self.total}

    def _save(self, checkpoint_dir):
        return {"total": self.total}

    def _restore(self, state):
        self.total = state["total"]


def main() -> None:
    """Parses the arguments and runs the experiment."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name")
    parser.add_argument("--rates", type=int, default=6)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--checkpoint-freq", type=int, default=3)
    args = parser.parse_args()
    tuneflows.run_experiments({args.name: {
        "run": Slow,
        "config": {"rate": tuneflows.grid_search([float(r) for r in range(1, args.rates + 1)])},
        "stop": {"training_iteration": args.iterations},
        "checkpoint_freq": args.checkpoint_freq,
    }}, verbose=False, round_seconds=0.5)
    print("DRIVER DONE")


if __name__ == "__main__":
    main()
