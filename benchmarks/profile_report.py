"""Summarises a py-spy ``--format raw`` profile of a benchmark child.

    BENCH_PYSPY_OUT=/tmp/w1.txt is set on the tuneflows side with
    python -m benchmarks.run_all --workloads 1 --sides tuneflows \
        --env BENCH_PYSPY_OUT=/tmp/w1.txt --no-save
    python -m benchmarks.profile_report /tmp/w1.txt

py-spy samples the driver and its child processes (``--subprocesses``, idle frames
excluded) during the timed section only. Prints samples per process kind, then for the
driver: the share of samples whose stack contains each marker (inclusive, so rows
overlap) and the share by the package of the leaf frame (exclusive).
"""

from __future__ import annotations

import collections
import sys

# (label, substring of a frame) — inclusive shares of driver samples
MARKERS = [
    ("Prefect task engine (prefect/task_engine.py)", "prefect/task_engine.py"),
    ("Prefect flow engine", "prefect/flow_engine.py"),
    ("Prefect API client calls (prefect/client)", "prefect/client/"),
    ("Prefect events (prefect/events)", "prefect/events/"),
    ("Prefect logging (prefect/logging)", "prefect/logging/"),
    ("Prefect settings (prefect/settings)", "prefect/settings/"),
    ("Prefect context (prefect/context.py)", "prefect/context.py"),
    ("Prefect states/results", "prefect/states.py"),
    ("httpx/httpcore", "httpx/"),
    ("pydantic", "pydantic"),
    ("MLflow", "mlflow/"),
    ("SQLAlchemy (MLflow store)", "sqlalchemy/"),
    ("tuneflows result files (recording/trial_files.py)", "tuneflows/recording/trial_files.py"),
    ("tuneflows status text (recording/status_block.py)", "tuneflows/recording/status_block.py"),
    ("tuneflows experiment loop (experiment_loop.py)", "tuneflows/orchestration/experiment_loop.py"),
    ("tuneflows recorder thread", "tuneflows/recording/recording_thread.py"),
    ("Ray (ray/)", "ray/"),
    ("asyncio event loop", "asyncio/base_events.py"),
    ("Ray Tune (ray/tune)", "ray/tune/"),
]


def process_kind(frame: str) -> str:
    if "uvicorn" in frame:
        return "Prefect server"
    if "mlflow_process" in frame:
        return "MLflow writer"
    if "--child " in frame:
        return "driver"
    if "default_worker" in frame or "ray::" in frame:
        return "Ray worker"
    if "dashboard" in frame or "agent" in frame:
        return "Ray agents"
    return "other: " + frame[:60]


def leaf_package(frame: str) -> str:
    # "func (pkg/mod.py:12)" -> "pkg"
    if "(" not in frame:
        return frame
    path = frame.rsplit("(", 1)[1].split(":")[0]
    return path.split("/")[0] if "/" in path else path


def analyse(path: str) -> dict:
    by_proc: collections.Counter = collections.Counter()
    driver_total = 0
    inclusive: collections.Counter = collections.Counter()
    leaf: collections.Counter = collections.Counter()
    tf_func: collections.Counter = collections.Counter()
    with open(path) as f:
        for line in f:
            stack, _, n = line.rstrip("\n").rpartition(" ")
            if not n.isdigit():
                continue
            count = int(n)
            frames = stack.split(";")
            procs = [fr for fr in frames if fr.startswith("process ")]
            kind = process_kind(procs[-1]) if procs else "driver"
            by_proc[kind] += count
            if kind != "driver":
                continue
            code = [fr for fr in frames if not fr.startswith("process ")]
            driver_total += count
            for label, marker in MARKERS:
                if any(marker in fr for fr in code):
                    inclusive[label] += count
            if code:
                leaf[leaf_package(code[-1])] += count
            tf = [fr for fr in code if "(tuneflows/" in fr]
            if tf:
                tf_func[tf[-1].split(" (")[0]] += count
    return {"by_process": by_proc, "driver_total": driver_total,
            "inclusive": inclusive, "leaf": leaf, "tuneflows_innermost": tf_func}


def main(argv: list[str]) -> int:
    for path in argv:
        a = analyse(path)
        total = sum(a["by_process"].values())
        print(f"== {path}: {total} samples")
        for kind, n in a["by_process"].most_common():
            print(f"  {kind:40s} {n:7d}  {100 * n / total:5.1f}%")
        d = a["driver_total"] or 1
        print("  driver, inclusive (stack contains):")
        for label, n in sorted(a["inclusive"].items(), key=lambda kv: -kv[1]):
            print(f"    {label:50s} {100 * n / d:5.1f}%")
        print("  driver, exclusive by leaf package:")
        for pkg, n in a["leaf"].most_common(12):
            print(f"    {pkg:50s} {100 * n / d:5.1f}%")
        print("  driver, by innermost tuneflows function (inclusive of what it calls):")
        for fn, n in a["tuneflows_innermost"].most_common(12):
            print(f"    {fn:50s} {100 * n / d:5.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
