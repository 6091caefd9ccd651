"""Start-up benchmark: whole processes of small experiments, tuneflows against Ray Tune.

    python -m benchmarks.startup [--workloads 5,6] [--later 2] [--repeat 2]
        [--sides tuneflows,tuneflows-ephemeral,raytune] [--tag NAME] [--no-save]
    python -m benchmarks.startup --show benchmarks/results/<file>.json

For every workload and repeat, each side first runs on "a new machine": a new
``PREFECT_HOME`` (Prefect's database is created) and a new results directory (MLflow's
store is created); then ``--later`` runs reuse both, as a user's next runs do. Every run
is its own process (``benchmarks/startup_child.py``), timed from spawn to exit by this
one; the child adds when its imports were done, when the engines were up (Ray Tune:
``ray.init`` returned; tuneflows: its timeline's "Prefect API ready"), when the last
result was reported and when its call returned. Sides: ``tuneflows`` (the local Prefect
server with its UI, started by the first run and reused; stopped at the end of the
repeat), ``tuneflows-ephemeral`` (``TUNEFLOWS_PREFECT_SERVER=ephemeral``),
``tuneflows-no-pictures`` (``TUNEFLOWS_PICTURES=0``: what the run's pictures cost) and
``raytune``.
Results are merged into ``benchmarks/results/<date>-startup[-<tag>].json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Optional

from benchmarks.common import WORKLOADS, Workload
from benchmarks.run_all import HERE, REPO, machine

BASE_ENV = dict(os.environ)  # before tuneflows' process defaults can touch this process's
SIDES = ("tuneflows", "tuneflows-ephemeral", "tuneflows-no-pictures", "raytune")
SIDE_ENV = {"tuneflows": {"TUNEFLOWS_PREFECT_SERVER": "local", "TUNEFLOWS_TIMING": "1"},
            "tuneflows-no-pictures": {"TUNEFLOWS_PREFECT_SERVER": "local", "TUNEFLOWS_TIMING": "1",
                                      "TUNEFLOWS_PICTURES": "0"},
            "tuneflows-ephemeral": {"TUNEFLOWS_PREFECT_SERVER": "ephemeral", "TUNEFLOWS_TIMING": "1"},
            "raytune": {}}
SEGMENTS = [  # key, header
    ("whole_s", "whole s"),
    ("imports_s", "imports s"),
    ("engines_s", "engines up s"),
    ("trials_s", "trials s"),
    ("close_s", "last result to return s"),
    ("exit_s", "return to exit s"),
]
TIMELINE = re.compile(r"\[tuneflows timing\]\s+([\d.]+) s\s+(.+)")


def child_env(side: str, prefect_home: str, extra: dict[str, str]) -> dict[str, str]:
    """The environment of one run: this process's as it started, one Prefect home, no
    configured servers, the side's settings (and ``extra`` on tuneflows' sides) and the
    telemetry defaults of both sides."""
    env = dict(BASE_ENV)
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    for key in ("PREFECT_API_URL", "MLFLOW_TRACKING_URI", "RAY_ADDRESS", "TUNE_RESULT_DIR",
                "TUNEFLOWS_PREFECT_SERVER", "TUNEFLOWS_TIMING"):
        env.pop(key, None)
    env.update({"RAY_USAGE_STATS_ENABLED": "0", "DO_NOT_TRACK": "1",
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "MLFLOW_DISABLE_TELEMETRY": "true",
                "PREFECT_HOME": prefect_home, **SIDE_ENV[side]})
    if side != "raytune":
        env.update(extra)
    return env


def parse_timeline(text: str) -> dict[str, float]:
    """The ``TUNEFLOWS_TIMING`` milestones of a log (seconds since the process started)."""
    return {m.group(2).strip(): float(m.group(1)) for m in TIMELINE.finditer(text)}


def run_process(side: str, w: Workload, local_dir: str, name: str, prefect_home: str,
                scratch: str, timeout: float, extra: dict[str, str]) -> Optional[dict[str, Any]]:
    """One run of one side in a new process; its whole-process time and segments."""
    out_path = os.path.join(scratch, f"{name}-{side}.json")
    log_path = os.path.join(scratch, "logs", f"{name}-{side}.log")
    cmd = [sys.executable, "-m", "benchmarks.startup_child", side, json.dumps(w.__dict__),
           local_dir, name, out_path]
    with open(log_path, "w") as log:
        spawn = time.time()
        proc = subprocess.Popen(cmd, cwd=REPO, env=child_env(side, prefect_home, extra), stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 15)
            proc.wait(30)
            print(f"  {name} {side}: timed out after {timeout:.0f} s (log {log_path})")
            return None
        gone = time.time()
    if rc != 0 or not os.path.exists(out_path):
        print(f"  {name} {side}: exit code {rc} (log {log_path})")
        return None
    with open(out_path) as f:
        child = json.load(f)
    with open(log_path, errors="replace") as f:
        timeline = parse_timeline(f.read())
    m = {k: v - spawn for k, v in child["moments"].items()}
    ready = timeline.get("Prefect API ready") if side != "raytune" else m.get("ray_ready")
    last = m.get("last_result", m["returned"])
    record = {"side": side, "name": name, "log": log_path, "statuses": child["statuses"],
              "results": child["results"], "timeline": timeline, "loadavg_1m": os.getloadavg()[0],
              "whole_s": gone - spawn, "imports_s": m["imported"],
              "engines_s": (ready - m["imported"]) if ready is not None else None,
              "trials_s": (last - ready) if ready is not None else None,
              "close_s": m["returned"] - last, "exit_s": gone - spawn - m["returned"],
              "call_s": m["returned"] - m["imported"]}
    return record


def stop_local_server(prefect_home: str) -> None:
    """Ends the local Prefect server a tuneflows run left for this home (if any)."""
    from tuneflows.services.local_prefect_server import stop_server

    stop_server(prefect_home)


def run_workload(w: Workload, sides: list[str], later: int, repeat: int, scratch: str,
                 timeout: float, extra: dict[str, str]) -> list[dict[str, Any]]:
    """Every repeat: a first run of each side on new homes, then ``later`` runs."""
    runs = []
    for r in range(repeat):
        homes = {s: os.path.join(scratch, f"w{w.id}-r{r}-{s}") for s in sides}
        for home in homes.values():
            os.makedirs(os.path.join(home, "prefect"))
            os.makedirs(os.path.join(home, "results"))
        for index, kind in [(0, "first")] + [(i, "later") for i in range(1, later + 1)]:
            order = sides if (r + index) % 2 == 0 else list(reversed(sides))
            for side in order:
                home = homes[side]
                name = f"startup_w{w.id}_r{r}_{index}"
                out = run_process(side, w, os.path.join(home, "results"), name,
                                  os.path.join(home, "prefect"), scratch, timeout, extra)
                if out:
                    out.update(kind=kind, repeat=r)
                    runs.append(out)
                    print(f"  w{w.id} r{r} {kind:<5} {side:<19} whole {out['whole_s']:6.2f} s, "
                          f"call {out['call_s']:6.2f} s, exit {out['exit_s']:5.2f} s, "
                          f"load {out['loadavg_1m']:.1f}", flush=True)
        for side in sides:
            if SIDE_ENV[side].get("TUNEFLOWS_PREFECT_SERVER") == "local":
                stop_local_server(os.path.join(homes[side], "prefect"))
            shutil.rmtree(homes[side], ignore_errors=True)
    return runs


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians per (run kind, side), and each tuneflows side over Ray Tune."""
    out: dict[str, Any] = {}
    for kind in ("first", "later"):
        sides: dict[str, Any] = {}
        for side in SIDES:
            mine = [r for r in runs if r["kind"] == kind and r["side"] == side]
            if not mine:
                continue
            med = {k: _median([r.get(k) for r in mine]) for k, _ in SEGMENTS + [("call_s", "")]}
            wholes = [r["whole_s"] for r in mine]
            loads = [r["loadavg_1m"] for r in mine]
            med.update(n=len(mine), whole_min_s=min(wholes), whole_max_s=max(wholes),
                       load_min=min(loads), load_max=max(loads))
            milestones = sorted({k for r in mine for k in r.get("timeline", {})})
            med["timeline"] = {k: _median([r["timeline"].get(k) for r in mine]) for k in milestones}
            sides[side] = med
        if "raytune" in sides:
            for side, med in sides.items():
                if side != "raytune":
                    med["whole_ratio"] = med["whole_s"] / sides["raytune"]["whole_s"]
        if sides:
            out[kind] = sides
    return out


def _median(values: list[Optional[float]]) -> Optional[float]:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _fmt(v: Optional[float], spec: str = "{:.2f}") -> str:
    return "-" if v is None else spec.format(v)


def markdown(summary: dict[str, Any]) -> str:
    """The summary as Markdown: segments per side and run, then tuneflows' timelines."""
    heads = ["workload", "run", "side"] + [h for _, h in SEGMENTS] + ["/ Ray Tune", "notes"]
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    steps: list[str] = []
    for wid, entry in summary.items():
        for kind, sides in entry["runs"].items():
            for side, med in sides.items():
                cells = [_fmt(med[k]) for k, _ in SEGMENTS]
                notes = (f"n={med['n']}, whole {med['whole_min_s']:.1f}-{med['whole_max_s']:.1f} s, "
                         f"load {med['load_min']:.1f}-{med['load_max']:.1f}")
                lines.append(f"| {wid}: {entry['workload']['name']} | {kind} | {side} | "
                             + " | ".join(cells) + f" | {_fmt(med.get('whole_ratio'), '**{:.2f}×**')}"
                             f" | {notes} |")
                if med.get("timeline"):
                    marks = ", ".join(f"{k} {v:.1f}" for k, v in
                                      sorted(med["timeline"].items(), key=lambda kv: kv[1]))
                    steps.append(f"- w{wid} {kind} {side}: {marks}")
    return "\n".join(lines + ["", "Timeline medians (s since the process started):"] + steps)


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workloads", default="5,6", help="comma-separated workload ids")
    p.add_argument("--sides", default=",".join(SIDES))
    p.add_argument("--later", type=int, default=2, help="later runs per repeat and side")
    p.add_argument("--repeat", type=int, default=2, help="first runs (new homes) per side")
    p.add_argument("--timeout", type=float, default=600, help="per process, seconds")
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                   help="extra environment for the tuneflows sides")
    p.add_argument("--tag", default="", help="suffix of the results file")
    p.add_argument("--no-save", action="store_true")
    p.add_argument("--show", metavar="RESULTS_JSON", help="print a saved results file's tables")
    args = p.parse_args(argv)
    if args.show:
        with open(args.show) as f:
            print(markdown(json.load(f)["summary"]))
        return 0
    sides = [s for s in args.sides.split(",") if s]
    unknown = set(sides) - set(SIDES)
    if unknown:
        p.error(f"unknown sides {sorted(unknown)}; choose from {', '.join(SIDES)}")
    extra = dict(kv.split("=", 1) for kv in args.env)
    scratch = tempfile.mkdtemp(prefix="tuneflows-startup-")
    os.makedirs(os.path.join(scratch, "logs"))
    print(f"machine: {machine()}\nscratch and logs: {scratch}\nload average: {os.getloadavg()}")
    summary, all_runs = {}, {}
    for wid in [int(x) for x in args.workloads.split(",") if x.strip()]:
        w = WORKLOADS[wid]
        runs = run_workload(w, sides, args.later, args.repeat, scratch, args.timeout, extra)
        all_runs[str(wid)] = runs
        summary[str(wid)] = {"workload": w.__dict__, "runs": summarize(runs)}
    print(markdown(summary))
    if not args.no_save:
        name = f"{datetime.date.today().isoformat()}-startup" + (f"-{args.tag}" if args.tag else "")
        path = os.path.join(HERE, "results", f"{name}.json")
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
