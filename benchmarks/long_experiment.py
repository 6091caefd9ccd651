"""A long experiment: does the cost per trial stay flat as trials finish?

    python -m benchmarks.long_experiment --trials 10000 [--asha | --tpe]
                                         [--sides tuneflows,raytune] [--profile DIR]

Runs ``--trials`` no-op trials of one result each (``--asha``: three results each under
ASHA, grace period 1, η 3, one bracket, so every trial meets a decision at its first
result; ``--tpe``: one result each, configurations from HyperOpt's TPE, one suggestion
per trial, the searcher's own CPU per suggestion timed apart) through tuneflows and then Ray Tune 2.x (``reuse_actors=True``), each side in its
own child process of this invocation with the same local 2-CPU Ray (the harness of
:mod:`benchmarks.common`). For each side it prints, per fifth of the trials in the order
they finished: trials finished per second and the driver's CPU milliseconds per trial
(``time.process_time`` of the driver, all its threads, sampled every 0.25 s and
interpolated at the fifth's first and last finish), with TPE also the searcher's CPU per
suggestion in the fifth and the driver's CPU per trial without it; then the driver's RSS
growth per 1,000 trials (least squares over the second half of the run). A cost that
grows with the trials already finished shows as a last fifth dearer than the first; the
last line gives the ratio of last to first and tuneflows over Ray Tune.

``--profile DIR`` samples tuneflows' driver with py-spy (``pip install py-spy``) in its
first and its last fifth (``DIR/first.txt``, ``DIR/last.txt``, collapsed stacks; the
fifths found by counting the records of finished trials), and prints the functions
whose share of the samples grew most.
"""

from __future__ import annotations

import argparse
import collections
import glob
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Optional

from benchmarks import common
from benchmarks.collector_timer import CollectorTimer
from benchmarks.thread_cpu import ThreadCpuSampler
from benchmarks.run_all import child_env

FIFTHS = 5


def workload(trials: int, asha: bool, tpe: bool = False,
             stand_in: str = "") -> common.Workload:
    """The long workload: ``trials`` × 1 result, × 3 under ASHA, or × 1 from TPE."""
    if asha:
        return common.Workload(7, f"{trials} trials x 3 it, no-op, ASHA", trials, 3,
                               asha=True, grace=1, memory=True)
    if tpe or stand_in:
        name = f"TPE stand-in ({stand_in})" if stand_in else "HyperOpt TPE"
        return common.Workload(7, f"{trials} trials x 1 it, no-op, {name}", trials, 1,
                               memory=True, tpe=True, stand_in=stand_in)
    return common.Workload(7, f"{trials} trials x 1 it, no-op", trials, 1, memory=True)


def per_fifth(ends: list[float], samples: list[tuple[float, float, float]],
              suggests: Optional[list[tuple[float, float]]] = None,
              collector: Optional[CollectorTimer] = None,
              threads: Optional[ThreadCpuSampler] = None) -> list[dict]:
    """Trials per second and driver CPU ms per trial in each fifth of ``ends`` (finish
    times), from ``samples`` of (time, RSS MB, CPU s); with ``suggests`` (time, CPU s of
    each suggestion) also the searcher's CPU per suggestion and the driver's without it;
    with ``collector`` the garbage collector's ms per trial (full collections begun
    inside and outside a suggestion, younger ones); with ``threads`` each thread
    group's CPU ms per trial."""
    ends = sorted(ends)
    size = len(ends) // FIFTHS
    out = []
    for k in range(FIFTHS):
        first, last = ends[k * size], ends[(k + 1) * size - 1]
        cpu = (common._value_at(samples, last, 2) - common._value_at(samples, first, 2))
        row = {"trials_per_s": (size - 1) / max(last - first, 1e-9),
               "driver_cpu_ms_per_trial": cpu / (size - 1) * 1000}
        if suggests:
            inside = [c for t, c in suggests if first <= t <= last]
            per = sum(inside) / max(len(inside), 1) * 1000
            row["suggest_cpu_ms"] = per
            row["driver_cpu_ms_per_trial_net"] = row["driver_cpu_ms_per_trial"] - (
                sum(inside) / (size - 1) * 1000)
        if collector:
            spent = collector.between(first, last)
            row["gc_full_count"] = spent.pop("full_count")
            row.update({f"gc_{k[:-2]}_ms_per_trial": v / (size - 1) * 1000
                        for k, v in spent.items()})
        if threads:
            row["thread_cpu_ms_per_trial"] = {
                name: seconds / (size - 1) * 1000
                for name, seconds in threads.between(first, last).items()}
        out.append(row)
    return out


class _FifthProfiler(threading.Thread):
    """py-spy over the driver while the first and the last fifth of the trials finish,
    the progress read from the experiment's ``finished_trials.jsonl``."""

    def __init__(self, local_dir: str, trials: int, out_dir: str) -> None:
        super().__init__(daemon=True)
        self._local_dir, self._trials, self._out_dir = local_dir, trials, out_dir
        self._done = threading.Event()
        self._spy: Optional[subprocess.Popen] = None
        self._record_file: Optional[str] = None

    def _finished(self) -> int:
        if self._record_file is None:  # found once: a glob over 10,000 trial folders is dear
            files = glob.glob(os.path.join(self._local_dir, "*", "*", "finished_trials.jsonl"))
            if not files:
                return 0
            self._record_file = files[0]
        with open(self._record_file, "rb") as f:
            return f.read().count(b"\n")

    def _record(self, name: str) -> None:
        exe = shutil.which("py-spy") or os.path.join(os.path.dirname(sys.executable), "py-spy")
        self._spy = subprocess.Popen(
            [exe, "record", "-p", str(os.getpid()), "--nonblocking", "--rate", "50",
             "--format", "raw", "-o", os.path.join(self._out_dir, f"{name}.txt")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _stop_recording(self) -> None:
        if self._spy is not None:
            self._spy.send_signal(signal.SIGINT)
            self._spy.wait(timeout=60)
            self._spy = None

    def run(self) -> None:
        self._record("first")
        marks = [(self._trials // FIFTHS, self._stop_recording),
                 (self._trials - self._trials // FIFTHS, lambda: self._record("last"))]
        while marks and not self._done.wait(0.5):
            if self._finished() >= marks[0][0]:
                marks.pop(0)[1]()
        self._done.wait()
        self._stop_recording()

    def stop(self) -> None:
        self._done.set()
        self.join()


def child(side: str, w: common.Workload, out_path: str, profile: Optional[str]) -> None:
    """Runs the workload on one side in this process and writes its measures."""
    tmp_root = os.path.dirname(out_path)
    local_dir = tempfile.mkdtemp(prefix=f"{side}-", dir=tmp_root)
    if side == "tuneflows":
        common.start_tuneflows(local_dir, f"bench_w{w.id}")
    else:
        common.start_raytune()
    import ray

    ray.init(address="local", num_cpus=common.NUM_CPUS, include_dashboard=False,
             logging_level=logging.WARNING)
    sampler = common.DriverSampler()
    profiler = (_FifthProfiler(local_dir, w.trials, profile)
                if profile and side == "tuneflows" else None)
    collector = CollectorTimer(lambda: common.SUGGEST_TIMER.inside)
    collector.start()
    threads = ThreadCpuSampler()
    threads.start()
    sampler.start()
    if profiler:
        profiler.start()
    cpu0, t0 = time.process_time(), time.perf_counter()
    results = (common.run_tuneflows if side == "tuneflows" else common.run_raytune)(w, local_dir)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    if profiler:
        profiler.stop()
    sampler.stop()
    collector.stop()
    threads.stop()
    ends = [float(r["t"]) for r in results if "t" in r]
    memory = common.memory_stats(ends, sampler.samples)
    out = {"side": side, "trials": len(results), "wall_s": wall, "driver_cpu_s": cpu,
           "fifths": per_fifth(ends, sampler.samples, common.SUGGEST_TIMER.calls,
                                 collector, threads),
           "rss_mb_start_end": [sampler.samples[0][1], sampler.samples[-1][1]],
           "rss_growth_mb_per_1000_trials": memory.get("rss_growth_mb_per_1000_trials"),
           "loadavg_1m_end": os.getloadavg()[0]}
    with open(out_path, "w") as f:
        json.dump(out, f)
    ray.shutdown()


def _leaves(path: str) -> collections.Counter:
    """Samples per function (inclusive: a function counts once per stack it is in)."""
    counts: collections.Counter = collections.Counter()
    total = 0
    with open(path) as f:
        for line in f:
            stack, _, n = line.rstrip().rpartition(" ")
            frames = {fr.split(" (")[0] + " " + fr.split("/")[-1].split(":")[0]
                      for fr in stack.split(";")[1:]}
            for fr in frames:
                counts[fr] += int(n)
            total += int(n)
    counts["<total>"] = total
    return counts


def grown_functions(first: str, last: str, top: int = 15) -> list[tuple[str, float, float]]:
    """Functions whose share of the driver's samples grew most from ``first`` to ``last``."""
    a, b = _leaves(first), _leaves(last)
    ta, tb = max(a.pop("<total>"), 1), max(b.pop("<total>"), 1)
    rows = [(fn, a[fn] / ta, b[fn] / tb) for fn in set(a) | set(b)]
    return sorted(rows, key=lambda r: r[2] - r[1], reverse=True)[:top]


def _print(runs: list[dict]) -> None:
    for run in runs:
        growth = run.get("rss_growth_mb_per_1000_trials")
        print(f"\n{run['side']}: {run['trials']} trials in {run['wall_s']:.1f} s, driver CPU "
              f"{run['driver_cpu_s']:.1f} s, RSS {run['rss_mb_start_end'][0]:.0f} -> "
              f"{run['rss_mb_start_end'][1]:.0f} MB ("
              f"{'?' if growth is None else f'{growth:+.1f}'} MB per 1,000 trials, second half), "
              f"load {run['loadavg_1m_end']:.1f}")
        tpe = "suggest_cpu_ms" in run["fifths"][0]
        print("fifth | trials/s | driver CPU ms/trial"
              + (" | TPE suggest CPU ms | driver CPU ms/trial without it" if tpe else ""))
        for k, f in enumerate(run["fifths"], start=1):
            print(f"{k}     | {f['trials_per_s']:8.1f} | {f['driver_cpu_ms_per_trial']:7.1f}"
                  + (f" | {f['suggest_cpu_ms']:7.1f} | {f['driver_cpu_ms_per_trial_net']:7.1f}"
                     if tpe else ""))
        print("fifth | GC ms/trial, full collections: begun in a suggestion, outside | "
              "younger ones: in, outside | full collections")
        for k, f in enumerate(run["fifths"], start=1):
            print(f"{k}     | {f['gc_full_inside_ms_per_trial']:6.2f} "
                  f"{f['gc_full_outside_ms_per_trial']:6.2f} | "
                  f"{f['gc_young_inside_ms_per_trial']:6.2f} "
                  f"{f['gc_young_outside_ms_per_trial']:6.2f} | {f['gc_full_count']}")
        _print_threads(run["fifths"])
        first, last = run["fifths"][0], run["fifths"][-1]
        print(f"last/first: rate {last['trials_per_s'] / first['trials_per_s']:.2f}x, "
              f"CPU/trial {last['driver_cpu_ms_per_trial'] / first['driver_cpu_ms_per_trial']:.2f}x")
    by_side = {r["side"]: r for r in runs}
    if len(by_side) == 2:
        tf, rt = by_side["tuneflows"], by_side["raytune"]
        print(f"\ntuneflows / Ray Tune: wall {tf['wall_s'] / rt['wall_s']:.2f}x, driver CPU "
              f"{tf['driver_cpu_s'] / rt['driver_cpu_s']:.2f}x")


def _print_threads(fifths: list[dict], top: int = 8) -> None:
    """Each thread group's CPU ms per trial by fifth, the groups spending most first."""
    first, last = fifths[0]["thread_cpu_ms_per_trial"], fifths[-1]["thread_cpu_ms_per_trial"]
    names = sorted(set(first) | set(last), key=lambda n: -last.get(n, 0.0))[:top]
    print("thread CPU ms/trial by fifth (the groups spending most in the last)")
    for name in names:
        print(f"  {name[:28]:28} " + " ".join(
            f"{f['thread_cpu_ms_per_trial'].get(name, 0.0):6.2f}" for f in fifths))


def main(argv: Optional[list[str]] = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--asha", action="store_true")
    parser.add_argument("--tpe", action="store_true")
    parser.add_argument("--tpe-stand-in", nargs="?", const="walk", default="",
                        choices=["walk", "spin"],
                        help="tuneflows only: a searcher as dear as TPE, nothing else of it "
                             "(walk: walks a record of every trial as TPE does; spin: as "
                             "long, touching no memory)")
    parser.add_argument("--sides", default=",".join(common.SIDES))
    parser.add_argument("--profile", help="directory for py-spy profiles of tuneflows' driver")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.asha and args.tpe:
        parser.error("--asha and --tpe are two workloads: give one")
    w = workload(max(args.trials, 10), args.asha, args.tpe, args.tpe_stand_in)
    if args.child:
        child(args.child, w, args.out, args.profile)
        return []
    tmp_root = tempfile.mkdtemp(prefix="long-experiment-")
    print(f"{w.name}; scratch {tmp_root}; load {os.getloadavg()[0]:.1f}", flush=True)
    runs = []
    for side in args.sides.split(","):
        out = os.path.join(tmp_root, f"{side}.json")
        cmd = [sys.executable, "-m", "benchmarks.long_experiment", "--trials", str(w.trials),
               "--child", side, "--out", out] + (["--asha"] if args.asha else []) + (
                   ["--tpe"] if args.tpe else []) + (
                   ["--tpe-stand-in", args.tpe_stand_in] if args.tpe_stand_in else [])
        if args.profile:
            os.makedirs(args.profile, exist_ok=True)
            cmd += ["--profile", os.path.abspath(args.profile)]
        with open(os.path.join(tmp_root, f"{side}.log"), "w") as log:
            subprocess.run(cmd, env=child_env(tmp_root, {}, side), stdout=log,
                           stderr=subprocess.STDOUT, check=True)
        with open(out) as f:
            runs.append(json.load(f))
    from tuneflows.services.local_prefect_server import stop_server  # after the children

    stop_server(os.path.join(tmp_root, "prefect-home"))  # the local server tuneflows' side started
    _print(runs)
    if args.profile and os.path.exists(os.path.join(args.profile, "last.txt")):
        print("\nfunctions whose share of tuneflows' driver samples grew (first -> last fifth):")
        for fn, a, b in grown_functions(os.path.join(args.profile, "first.txt"),
                                        os.path.join(args.profile, "last.txt")):
            print(f"{a:6.1%} -> {b:6.1%}  {fn}")
    return runs


if __name__ == "__main__":
    main()
