"""One process of the start-up benchmark (``benchmarks/startup.py``): one workload
through one side, the way a user's script runs it, then a normal interpreter exit.

    python -m benchmarks.startup_child SIDE WORKLOAD_JSON LOCAL_DIR NAME OUT_JSON

- ``tuneflows`` / ``tuneflows-ephemeral``: ``import tuneflows`` and one
  ``tuneflows.run_experiments(..., verbose=False)``, which starts Ray, the Prefect API
  and the MLflow writers itself (the side's ``TUNEFLOWS_PREFECT_SERVER`` is set by the
  parent; ``TUNEFLOWS_TIMING=1`` prints the start-up timeline to the log).
- ``raytune``: ``ray.init(address="local", num_cpus=2, include_dashboard=False)``, then
  ``ray.tune.Tuner(...).fit()`` with ``reuse_actors=True``.

Nothing is shut down explicitly: Ray's own exit handler runs on both sides. The times
written are ``time.time()`` epochs, so the parent can place them against the moments
it started the process and saw it exit.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from benchmarks.common import NUM_CPUS, Workload, raytune_trainable, tuneflows_trainable, xs


def _config(w: Workload) -> dict[str, Any]:
    return {"kind": w.kind, "seconds": w.seconds, "iters": w.iters}


def run_tuneflows(w: Workload, local_dir: str, name: str) -> tuple[list[dict], dict[str, float]]:
    """The workload as one ``run_experiments`` call; its last results and moments."""
    import tuneflows

    moments = {"imported": time.time()}
    spec = {"run": tuneflows_trainable, "config": {**_config(w), "x": tuneflows.grid_search(xs(w))},
            "resources_per_trial": {"cpu": 1, "gpu": 0}, "local_dir": local_dir}
    scheduler = None
    if w.asha:
        from tuneflows.schedulers import AsyncHyperBandScheduler

        scheduler = AsyncHyperBandScheduler(metric="score", mode="max", max_t=w.iters,
                                            grace_period=w.grace, reduction_factor=3,
                                            brackets=1)
    trials = tuneflows.run_experiments({name: spec}, scheduler=scheduler, verbose=False)
    moments["returned"] = time.time()
    return [dict(t.last_result or {}, status=t.status) for t in trials], moments


def _ray_asha(w: Workload) -> Any:
    if not w.asha:
        return None
    from ray.tune.schedulers import ASHAScheduler

    return ASHAScheduler(metric="score", mode="max", max_t=w.iters, grace_period=w.grace,
                         reduction_factor=3, brackets=1)


def run_raytune(w: Workload, local_dir: str, name: str) -> tuple[list[dict], dict[str, float]]:
    """The workload as ``ray.init`` and one ``Tuner.fit()``; its last results and moments."""
    import ray
    from ray import tune

    moments = {"imported": time.time()}
    ray.init(address="local", num_cpus=NUM_CPUS, include_dashboard=False,
             logging_level=logging.WARNING)
    moments["ray_ready"] = time.time()
    tuner = tune.Tuner(
        tune.with_resources(raytune_trainable, {"cpu": 1}),
        param_space={**_config(w), "x": tune.grid_search(xs(w))},
        tune_config=tune.TuneConfig(reuse_actors=True, scheduler=_ray_asha(w)),
        run_config=tune.RunConfig(name=name, storage_path=local_dir, verbose=0),
    )
    grid = tuner.fit()
    moments["returned"] = time.time()
    out = []
    for result in grid:
        metrics = dict(result.metrics or {})
        metrics["status"] = "ERROR" if result.error else "TERMINATED"
        out.append(metrics)
    return out, moments


def main(argv: list[str]) -> int:
    side, workload_json, local_dir, name, out_path = argv
    w = Workload(**json.loads(workload_json))
    run = run_raytune if side == "raytune" else run_tuneflows
    results, moments = run(w, local_dir, name)
    statuses: dict[str, int] = {}
    for r in results:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    ends = [float(r["t"]) for r in results if "t" in r]
    if ends:
        moments["last_result"] = max(ends)
    with open(out_path, "w") as f:
        json.dump({"side": side, "moments": moments, "statuses": statuses,
                   "results": sum(int(r.get("training_iteration", 0)) for r in results)}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
