"""What a function trainable's thread hand-off costs per result: ``train()`` (the trial
thread hands every result to the actor's thread and waits) against ``train_round``
(the trial thread completes and checks the results of a whole round itself).

    python -m benchmarks.function_rounds [--results 20000] [--round 2000]

Runs a no-op function trainable in this process (no Ray: the actor's loop is the same
code) and prints microseconds of CPU and of wall time per result.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any, Optional

from tuneflows.execution.function_runner import wrap_function


def _noop(config: dict, reporter: Any) -> None:
    for i in range(1, config["results"] + 1):
        reporter(score=i, work_s=0.0, t=time.time())


def measure(results: int, round_length: int, per_result: bool) -> dict[str, float]:
    """Microseconds per result of ``results`` no-op results."""
    trainable = wrap_function(_noop)(config={"results": results})
    wall0, cpu0 = time.perf_counter(), time.process_time()
    if per_result:
        for _ in range(results):
            trainable.train()
    else:
        def accept(result: dict[str, Any]) -> bool:
            return result["training_iteration"] % round_length != 0

        for _ in range(results // round_length):
            trainable.train_round(accept)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    trainable.stop()
    return {"cpu_us_per_result": cpu / results * 1e6, "wall_us_per_result": wall / results * 1e6}


def main(argv: Optional[list[str]] = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=int, default=20_000)
    parser.add_argument("--round", type=int, default=2_000)
    args = parser.parse_args(argv)
    out = {"train_per_result": measure(args.results, args.round, per_result=True),
           "train_round": measure(args.results, args.round, per_result=False)}
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
