"""Runs the benchmark workloads through tuneflows and Ray Tune 2.x and prints a table.

    python -m benchmarks.run_all [--quick] [--workloads 1,2] [--repeat 3]
                                 [--env PREFECT_LOGGING_TO_API_ENABLED=false ...]

Every (workload, side, repeat) runs in its own child process of this one (one process
tree), so each side gets a clean Ray session; sides alternate within a repeat.
Results (every run plus medians) are merged into ``benchmarks/results/<date>.json``
(``<date>-quick.json`` with ``--quick``; ``--tag`` adds a suffix).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Optional

from benchmarks.common import SIDES, WORKLOADS, Workload, child_main, quick, size_label

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

COLUMNS = [  # key, header, format
    ("wall_s", "wall s", "{:.2f}"),
    ("results_per_s", "results/s", "{:.0f}"),
    ("driver_cpu_s", "driver CPU s", "{:.2f}"),
    ("prefect_server_cpu_s", "Prefect srv CPU s", "{:.2f}"),
    ("mlflow_writer_cpu_s", "MLflow writers CPU s", "{:.2f}"),
    ("tree_cpu_s", "all CPU s", "{:.2f}"),
    ("peak_driver_rss_mb", "peak driver RSS MB", "{:.0f}"),
    ("startup_s", "start-up s", "{:.1f}"),
]


def machine() -> dict[str, Any]:
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import importlib.metadata as md

    versions = {}
    for pkg in ("ray", "prefect", "prefect-ray", "mlflow"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"nproc": os.cpu_count(), "cpu_model": model, "mem_gib": round(mem, 1),
            "python": platform.python_version(), "versions": versions}


def child_env(tmp_root: str, extra: dict[str, str], side: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    env.setdefault("DO_NOT_TRACK", "1")
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    env.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    env["PREFECT_HOME"] = os.path.join(tmp_root, "prefect-home")  # one DB per invocation
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("RAY_ADDRESS", None)
    env.pop("TUNE_RESULT_DIR", None)  # Ray Tune 2.x refuses it; tuneflows gets local_dir
    if side == "tuneflows":
        env.update(extra)
    return env


def spawn_child(cmd: list[str], tmp_root: str, extra: dict[str, str], side: str,
                log_path: str, out_path: str, timeout: float) -> tuple[Any, float]:
    """Runs one benchmark child (``cmd``) in its own session with the side's environment,
    its output to ``log_path``, killed after ``timeout`` s; returns what it wrote to
    ``out_path`` (None: it failed or timed out, said on stdout) and its wall seconds."""
    t0 = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=child_env(tmp_root, extra, side),
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            rc: Any = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 15)
            proc.wait()
            rc = f"timed out after {timeout:.0f} s"
    total = time.perf_counter() - t0
    if rc != 0 or not os.path.exists(out_path):
        print(f"  {side} ({os.path.basename(out_path)}): exit {rc} (log {log_path})")
        return None, total
    with open(out_path) as f:
        return json.load(f), total


def run_child(side: str, w: Workload, tmp_root: str, extra: dict[str, str],
              timeout: float, log_dir: str, index: int) -> Optional[dict[str, Any]]:
    out_path = os.path.join(tmp_root, f"w{w.id}-{side}-{index}.json")
    log_path = os.path.join(log_dir, f"w{w.id}-{side}-{index}.log")
    cmd = [sys.executable, "-m", "benchmarks.run_all", "--child", side,
           "--child-workload", json.dumps(w.__dict__), "--child-out", out_path,
           "--tmp-root", tmp_root]
    out, total = spawn_child(cmd, tmp_root, extra, side, log_path, out_path, timeout)
    for name in os.listdir(tmp_root):  # the trial directories of this run
        if name.startswith(f"{side}-w{w.id}-"):
            shutil.rmtree(os.path.join(tmp_root, name), ignore_errors=True)
    if out is None:
        return None
    out["process_wall_s"] = total
    out["log"] = log_path
    return out


def _median(runs: list[dict], key: str) -> Optional[float]:
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else None


def summarize(runs: list[dict]) -> dict[str, Any]:
    keys = [c[0] for c in COLUMNS] + ["results", "trainable_cpu_s", "trainable_share_of_machine",
                                      "trainable_share_of_tree_cpu", "driver_rss_end_mb",
                                      "process_wall_s", "loadavg_1m_end", "prefect_task_runs"]
    med = {k: _median(runs, k) for k in keys}
    walls = [r["wall_s"] for r in runs]
    med["wall_min_s"], med["wall_max_s"] = min(walls), max(walls)
    med["n"] = len(runs)
    mem = [r["memory"] for r in runs if "memory" in r]
    if mem:
        med["memory"] = {k: _median(mem, k) for k in mem[0] if k != "rss_samples"}
    return med


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    if a is None or b is None or b == 0:
        return None
    return a / b


def _fmt(fmt_s: str, v: Optional[float]) -> str:
    return "-" if v is None else fmt_s.format(v)


def _notes(workload: dict[str, Any], med: dict[str, Any]) -> list[str]:
    """The notes column of one side's medians."""
    notes = [f"n={med['n']}, wall {med['wall_min_s']:.1f}-{med['wall_max_s']:.1f} s"]
    if med.get("prefect_task_runs") and med.get("prefect_server_cpu_s") is not None:
        notes.append(f"{med['prefect_task_runs']:.0f} round task runs, Prefect srv "
                     f"{1000 * med['prefect_server_cpu_s'] / med['prefect_task_runs']:.0f} ms CPU each")
    if workload["kind"] == "burn" and med.get("trainable_share_of_machine") is not None:
        notes.append(f"in trainables: {100 * med['trainable_share_of_machine']:.0f}% of "
                     f"2 cores, {100 * med['trainable_share_of_tree_cpu']:.0f}% of all CPU used")
    if "memory" in med:
        m = med["memory"]
        growth = _fmt("{:+.1f}", m.get("rss_growth_mb_per_1000_trials"))
        notes.append(f"RSS end {med['driver_rss_end_mb']:.0f} MB, {growth} MB/1k trials")
        if m.get("trials_per_s_first_quarter"):
            notes.append(f"trials/s first/last quarter {m['trials_per_s_first_quarter']:.1f}"
                         f"/{m['trials_per_s_last_quarter']:.1f}")
        if m.get("driver_cpu_ms_per_trial_first_quarter") is not None:
            notes.append("driver CPU ms/trial first/last quarter "
                         f"{m['driver_cpu_ms_per_trial_first_quarter']:.1f}"
                         f"/{m['driver_cpu_ms_per_trial_last_quarter']:.1f}")
    return notes


def _rows(summary: dict[str, Any]) -> list[tuple[str, str, list[Optional[float]], str, bool]]:
    """(label, side, column values, notes, is_ratio_row) for every table row."""
    rows = []
    for wid, entry in summary.items():
        w = entry["workload"]
        label = f"{wid}: {size_label(Workload(**w))}"
        for side in SIDES:
            med = entry["sides"].get(side)
            if not med:
                continue
            rows.append((label, side, [med.get(k) for k, _, _ in COLUMNS],
                         "; ".join(_notes(w, med)), False))
            label = ""
        if entry.get("ratios"):
            rows.append(("", "tuneflows / Ray Tune",
                         [entry["ratios"].get(k) for k, _, _ in COLUMNS], "", True))
    return rows


def print_table(summary: dict[str, Any], title: str) -> None:
    """Prints the summary as a rich table."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    table.add_column("workload")
    table.add_column("side")
    for _, header, _ in COLUMNS:
        table.add_column(header, justify="right")
    table.add_column("notes")
    for label, side, values, notes, is_ratio in _rows(summary):
        if is_ratio:
            table.add_row("", f"[bold]{side}[/bold]", *[_fmt("{:.2f}x", v) for v in values], "",
                          end_section=True)
        else:
            table.add_row(label, side, *[_fmt(f, v) for (_, _, f), v in zip(COLUMNS, values)], notes)
    Console(width=220).print(table)


def markdown_table(summary: dict[str, Any]) -> str:
    """The summary as a Markdown table (for README.md)."""
    heads = ["workload", "side"] + [h for _, h, _ in COLUMNS] + ["notes"]
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for label, side, values, notes, is_ratio in _rows(summary):
        if is_ratio:
            cells = [_fmt("**{:.2f}×**", v) for v in values]
            lines.append(f"| | **{side}** | " + " | ".join(cells) + " | |")
        else:
            cells = [_fmt(f, v) for (_, _, f), v in zip(COLUMNS, values)]
            lines.append(f"| {label} | {side} | " + " | ".join(cells) + f" | {notes} |")
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="shrink every workload (/4) for a smoke run")
    p.add_argument("--workloads", default="0,1,2,3,4", help="comma-separated workload ids")
    p.add_argument("--sides", default=",".join(SIDES))
    p.add_argument("--repeat", type=int, default=1, help="runs per workload and side (medians reported)")
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                   help="extra environment for the tuneflows side (e.g. Prefect settings)")
    p.add_argument("--w4-trials", type=int, default=None, help="cap workload 4's trial count")
    p.add_argument("--timeout", type=float, default=1800, help="per child process, seconds")
    p.add_argument("--tag", default="", help="suffix of the results file")
    p.add_argument("--no-save", action="store_true")
    p.add_argument("--show", metavar="RESULTS_JSON", help="print the tables of a saved results file")
    p.add_argument("--child", choices=SIDES, help=argparse.SUPPRESS)
    p.add_argument("--child-workload", help=argparse.SUPPRESS)
    p.add_argument("--child-out", help=argparse.SUPPRESS)
    p.add_argument("--tmp-root", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.child:
        w = Workload(**json.loads(args.child_workload))
        child_main(args.child, w, args.child_out, args.tmp_root)
        return 0

    if args.show:
        with open(args.show) as f:
            doc = json.load(f)
        print_table(doc["summary"], f"tuneflows vs Ray Tune (medians): {args.show}")
        print(markdown_table(doc["summary"]))
        return 0

    extra = dict(kv.split("=", 1) for kv in args.env)
    ids = [int(x) for x in args.workloads.split(",") if x.strip()]
    sides = [s for s in args.sides.split(",") if s]
    tmp_root = tempfile.mkdtemp(prefix="tuneflows-bench-")
    log_dir = os.path.join(tmp_root, "logs")
    os.makedirs(log_dir)
    print(f"machine: {machine()}\nscratch and logs: {tmp_root}\nload average: {os.getloadavg()}")
    summary: dict[str, Any] = {}
    all_runs: dict[str, list] = {}
    for wid in ids:
        w = WORKLOADS[wid]
        if args.quick:
            w = quick(w)
        if wid == 4 and args.w4_trials:
            w = Workload(**{**w.__dict__, "trials": args.w4_trials,
                            "name": f"{args.w4_trials:,} trials x 3 it, no-op (--w4-trials)"})
        runs: dict[str, list] = {s: [] for s in sides}
        for i in range(args.repeat):
            order = sides if i % 2 == 0 else list(reversed(sides))
            for side in order:
                out = run_child(side, w, tmp_root, extra, args.timeout, log_dir, i)
                if out:
                    runs[side].append(out)
                    print(f"  w{wid} {side} #{i}: wall {out['wall_s']:.2f} s, "
                          f"{out['results']} results, start-up {out['startup_s']:.1f} s, "
                          f"load {out['loadavg_1m_end']:.1f}")
        entry: dict[str, Any] = {"workload": w.__dict__, "sides": {}}
        for side in sides:
            if runs[side]:
                entry["sides"][side] = summarize(runs[side])
        tf, rt = entry["sides"].get("tuneflows"), entry["sides"].get("raytune")
        if tf and rt:
            entry["ratios"] = {k: ratio(tf.get(k), rt.get(k)) for k, _, _ in COLUMNS}
        summary[str(wid)] = entry
        all_runs[str(wid)] = [r for s in sides for r in runs[s]]
    title = "tuneflows vs Ray Tune (medians)" + (" --quick" if args.quick else "")
    if extra:
        title += f" tuneflows env {extra}"
    print_table(summary, title)

    if not args.no_save:
        date = datetime.date.today().isoformat()
        name = date + ("-quick" if args.quick else "") + (f"-{args.tag}" if args.tag else "")
        path = os.path.join(HERE, "results", f"{name}.json")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        doc: dict[str, Any] = {}
        if os.path.exists(path):
            with open(path) as f:
                doc = json.load(f)
        doc.setdefault("summary", {}).update(summary)
        doc.setdefault("runs", {}).update(all_runs)
        doc["machine"] = machine()
        doc.setdefault("invocations", []).append(
            {"argv": sys.argv[1:], "time": datetime.datetime.now().isoformat(timespec="seconds"),
             "tuneflows_env": extra})
        with open(path, "w") as f:
            json.dump(doc, f, indent=1, default=str)
        print(f"results: {path}")
    from tuneflows.services.local_prefect_server import stop_server  # after the children: its defaults

    stop_server(os.path.join(tmp_root, "prefect-home"))  # the local server the runs shared
    shutil.rmtree(os.path.join(tmp_root, "prefect-home"), ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
