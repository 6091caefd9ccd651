"""Workloads, trainables and the measuring harness shared by the benchmark suite.

One benchmark *run* is one workload on one side (``tuneflows`` or ``raytune``) in a
fresh Python process (see :func:`child_main`), so each side gets a clean Ray session:

1. start-up (reported separately, excluded from the wall time): imports, ``ray.init``
   (local, 2 CPUs, no dashboard) and, for tuneflows, the Prefect API that
   ``run_experiments`` would provide (``tuneflows.services.prefect_api.PrefectApiStart``: by
   default the local Prefect server, started by the first run of an invocation and
   reused by the others; Prefect's ephemeral server with
   ``TUNEFLOWS_PREFECT_SERVER=ephemeral``) and the MLflow SQLite store in the results
   directory (its schema migration: 5-15 s, once per results directory);
2. the timed section: one ``tuneflows.run_experiments(..., verbose=False)`` or one
   ``ray.tune.Tuner(...).fit()`` with ``reuse_actors=True``, every trial asking for 1 CPU;
3. measures: wall time, results per second, driver CPU (``getrusage(RUSAGE_SELF)``,
   children excluded), CPU of the Prefect server process (psutil ``cpu_times``), CPU of
   the whole process tree (driver, Prefect server, raylet, GCS, Ray workers), peak and
   final driver RSS, CPU spent inside trainables (``time.thread_time`` in the trainable).
"""

from __future__ import annotations

import json
import logging
import os
import random
import resource
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, replace
from typing import Any, Callable, Optional

NUM_CPUS = 2  # the Ray session of both sides: local, 2 CPUs, no dashboard
SIDES = ("tuneflows", "raytune")


@dataclass(frozen=True)
class Workload:
    """One benchmark workload.

    Attributes:
        id: Number used on the command line.
        name: Short description.
        trials: Number of trials (a grid over ``x``).
        iters: Iterations (results) per trial.
        kind: ``noop``, ``sleep`` (``seconds`` of ``time.sleep``) or ``burn`` (``seconds``
            of CPU, spun on ``time.thread_time``).
        seconds: Length of one iteration's work.
        asha: Run under ASHA (max_t = iters, grace period ``grace``, η 3, 1 bracket).
        grace: ASHA grace period.
        memory: Sample driver RSS and trial completion times (memory growth per 1,000
            trials, completion rate early vs late).
        tpe: Search ``x`` (uniform over ``[0, trials)``) with HyperOpt's TPE, one
            suggestion per trial, instead of the grid; the searcher's CPU per suggestion
            is timed (:class:`SuggestTimer`).
        stand_in: With ``tpe``, tuneflows' side searches with :class:`GrowingStandIn`
            instead of TPE (a suggestion as dear as TPE's, nothing else of TPE's):
            ``"walk"`` walks a record of every finished trial as TPE does, ``"spin"``
            spins as long and touches no memory; ``""``: TPE itself.
    """

    id: int
    name: str
    trials: int
    iters: int
    kind: str = "noop"
    seconds: float = 0.0
    asha: bool = False
    grace: int = 3
    memory: bool = False
    tpe: bool = False
    stand_in: str = ""


WORKLOADS: dict[int, Workload] = {
    0: Workload(0, "16 trials x 50 it, sleep 20 ms (issue 2)", 16, 50, "sleep", 0.02),
    1: Workload(1, "200 trials x 1 it, no-op", 200, 1),
    2: Workload(2, "8 trials x 2,000 it, no-op", 8, 2000),
    3: Workload(3, "32 trials x 30 it, 50 ms CPU, ASHA", 32, 30, "burn", 0.05, asha=True),
    4: Workload(4, "2,000 trials x 3 it, no-op", 2000, 3, memory=True),
    # start-up workloads (benchmarks/startup.py measures them as whole processes)
    5: Workload(5, "2 trials x 1 it, no-op (tiny)", 2, 1),
    6: Workload(6, "12 trials x 40 it, sleep 25 ms", 12, 40, "sleep", 0.025),
    # the cost of the run's pictures (TUNEFLOWS_PICTURES=0 against the default)
    7: Workload(7, "200 trials x 9 it, no-op, ASHA", 200, 9, asha=True, grace=1),
}


def size_label(w: Workload) -> str:
    """The workload as it ran: its sizes, what an iteration does, its scheduler or searcher.

    Example:
        >>> size_label(quick(WORKLOADS[1]))
        '50 trials x 1 it, no-op'
        >>> size_label(WORKLOADS[3])
        '32 trials x 30 it, 50 ms CPU, ASHA'
    """
    work = {"noop": "no-op", "sleep": f"sleep {w.seconds * 1000:g} ms",
            "burn": f"{w.seconds * 1000:g} ms CPU"}[w.kind]
    return (f"{w.trials:,} trials x {w.iters:,} it, {work}" + (", ASHA" if w.asha else "")
            + (f", TPE stand-in ({w.stand_in})" if w.stand_in else ", HyperOpt TPE" if w.tpe else ""))


def quick(w: Workload) -> Workload:
    """The ``--quick`` version of a workload: its larger dimension divided by 4."""
    if w.asha:
        return replace(w, trials=max(w.trials // 4, 4))
    if w.trials >= w.iters:
        return replace(w, trials=max(w.trials // 4, 2))
    return replace(w, iters=max(w.iters // 4, 1))


def xs(w: Workload) -> list[int]:
    """The grid values: a fixed permutation, so ASHA sees good and bad trials mixed."""
    values = list(range(w.trials))
    random.Random(0).shuffle(values)
    return values


# ---------------------------------------------------------------------------- trainables
def _iterate(config: dict, report: Callable[[dict], None]) -> None:
    """The body shared by both sides' trainables."""
    kind, seconds, iters = config["kind"], config["seconds"], config["iters"]
    x = config["x"]
    work = 0.0  # CPU seconds spent in the iteration's work, cumulative
    for i in range(1, iters + 1):
        if kind == "sleep":
            time.sleep(seconds)
        elif kind == "burn":
            c0 = time.thread_time()
            end = c0 + seconds
            while time.thread_time() < end:
                pass
            work += time.thread_time() - c0
        report({"score": x * i, "work_s": work, "t": time.time()})


def tuneflows_trainable(config: dict, reporter: Any) -> None:
    """tuneflows function API: ``f(config, reporter)``."""
    _iterate(config, lambda m: reporter(**m))


def raytune_trainable(config: dict) -> None:
    """Ray Tune 2.x function API: ``ray.tune.report(metrics)``."""
    from ray import tune

    _iterate(config, tune.report)


# ---------------------------------------------------------------------------- searchers
class SuggestTimer:
    """CPU seconds spent in a searcher's ``suggest``, with the time of each call, so a
    searcher's own cost per suggestion can be told from the runner's.

    Example:
        >>> timer = SuggestTimer()
        >>> timer.timed(lambda trial_id: {"x": 1})("t1")
        {'x': 1}
        >>> len(timer.calls)
        1
    """

    def __init__(self) -> None:
        self.calls: list[tuple[float, float]] = []  # (time.time() at return, CPU s)
        self.inside = False  # a call is running now

    def timed(self, suggest: Callable[..., Any]) -> Callable[..., Any]:
        """``suggest`` wrapped so each call's thread CPU time is recorded."""
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            c0 = time.thread_time()
            self.inside = True
            try:
                out = suggest(*args, **kwargs)
            finally:
                self.inside = False
            self.calls.append((time.time(), time.thread_time() - c0))
            return out

        return wrapper


SUGGEST_TIMER = SuggestTimer()  # the timer of the searcher of this process's run


def tpe_space_tuneflows(w: Workload) -> Any:
    """tuneflows' HyperOpt TPE searcher over ``x`` (or its stand-in), its suggestions timed."""
    from tuneflows.search import uniform
    from tuneflows.search.hyperopt import HyperOptSearch

    search = GrowingStandIn(w.trials, w.stand_in == "spin") if w.stand_in else HyperOptSearch(
        {"x": uniform(0, w.trials)}, metric="score", mode="max", random_state_seed=0)
    search.suggest = SUGGEST_TIMER.timed(search.suggest)
    return search


def _growing_stand_in_class() -> type:
    from tuneflows.search.searcher import Searcher

    class GrowingStandIn(Searcher):
        """A searcher whose suggestion costs what TPE's costs as trials finish, and does
        nothing else TPE does: it keeps a record as large as a hyperopt document for
        every finished trial and, to suggest, walks them all in Python and weighs 24
        random candidates against every one in NumPy (as TPE's model does). The runner's
        cost per trial beside it, compared with beside TPE, tells what a dear, growing
        suggestion does to the rest of the driver (its caches, its heap) from what the
        runner itself adds per trial.
        """

        metric = "score"

        def __init__(self, trials: int, spin: bool) -> None:
            self._high = trials
            self._spin = spin
            self._records: list[dict] = []
            self._rng = random.Random(0)
            self._base: dict = {}

        def set_search_properties(self, metric: Any, mode: Any, config: Any,
                                  **spec: Any) -> bool:
            self._base = dict(config or {})  # the workload's constants
            return True

        def suggest(self, trial_id: str) -> dict:
            import numpy as np

            if self._spin:  # TPE's CPU per suggestion here: 4 ms + 3.7 ms per 1,000 trials
                end = time.thread_time() + 0.004 + 3.7e-6 * len(self._records)
                while time.thread_time() < end:
                    pass
                return {**self._base, "x": self._rng.uniform(0, self._high)}

            seen = [(r["misc"]["vals"]["x"][0], r["result"]["loss"], r["misc"]["tid"])
                    for r in self._records if r["state"] == 2 and r["result"]["status"] == "ok"]
            for _ in range(12):  # as long as TPE: its walks over idxs/vals, losses, docs
                seen = sorted(seen, key=lambda s: (s[1], s[2]))
            candidates = np.array([self._rng.uniform(0, self._high) for _ in range(24)])
            if seen:
                xs = np.array([s[0] for s in seen])
                np.exp(-((candidates[:, None] - xs[None, :]) / self._high) ** 2).sum(axis=1)
            return {**self._base, "x": float(candidates[0])}

        def on_trial_complete(self, trial_id: str, result: Optional[dict] = None,
                              error: bool = False) -> None:
            tid = len(self._records)
            value = (result or {}).get("score", 0.0)
            self._records.append({
                "state": 2, "tid": tid, "spec": None, "exp_key": None, "owner": None,
                "version": 0, "book_time": None, "refresh_time": None,
                "misc": {"tid": tid, "cmd": ("domain_attachment", "FMinIter_Domain"),
                         "workdir": None, "idxs": {"x": [tid]}, "vals": {"x": [value]}},
                "result": {"status": "ok", "loss": -value, "metric_value": value,
                           "early_stopped": False, "budget": 1}})

        def get_state(self) -> dict:
            return {}

        def set_state(self, state: Any) -> None:
            pass

    return GrowingStandIn


def GrowingStandIn(trials: int, spin: bool = False) -> Any:  # noqa: N802 (made on use)
    """A :class:`GrowingStandIn` searcher for ``trials`` trials, spinning instead of
    walking with ``spin`` (tuneflows imported here, not when this module loads)."""
    return _growing_stand_in_class()(trials, spin)


def tpe_space_raytune(w: Workload) -> Any:
    """Ray Tune's HyperOpt TPE searcher over ``x``, its suggestions timed."""
    from ray import tune
    from ray.tune.search.hyperopt import HyperOptSearch

    search = HyperOptSearch({"x": tune.uniform(0, w.trials)}, metric="score", mode="max",
                            random_state_seed=0)
    search.suggest = SUGGEST_TIMER.timed(search.suggest)
    return search


# ---------------------------------------------------------------------------- helpers
def _rusage_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _proc_cpu(proc: Any) -> float:
    try:
        t = proc.cpu_times()
        return t.user + t.system
    except Exception:  # noqa: BLE001 - gone
        return 0.0


class TreeCpu(threading.Thread):
    """CPU seconds of this process and all its descendants, polled every ``period``
    seconds and kept by pid, so a process that exits during the window (trial actors
    are killed at the end of a run) counts up to its last poll."""

    def __init__(self, period: float = 0.5) -> None:
        super().__init__(daemon=True)
        import psutil

        self._me = psutil.Process()
        self._period = period
        self._stop_event = threading.Event()
        self.last: dict[int, float] = {}

    def sample(self) -> dict[int, float]:
        for p in [self._me] + self._me.children(recursive=True):
            cpu = _proc_cpu(p)
            if cpu:
                self.last[p.pid] = max(cpu, self.last.get(p.pid, 0.0))
        return dict(self.last)

    def run(self) -> None:
        while not self._stop_event.wait(self._period):
            self.sample()

    def stop(self) -> dict[int, float]:
        self._stop_event.set()
        self.join()
        return self.sample()


class DriverSampler(threading.Thread):
    """Samples the driver's RSS (MB) and CPU seconds every ``period`` seconds."""

    def __init__(self, period: float = 0.25) -> None:
        super().__init__(daemon=True)
        import psutil

        self._proc = psutil.Process()
        self._period = period
        self._stop_event = threading.Event()
        self.samples: list[tuple[float, float, float]] = []

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.samples.append((time.time(), self._proc.memory_info().rss / 2**20,
                                 time.process_time()))
            self._stop_event.wait(self._period)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def _fit_slope(points: list[tuple[float, float]]) -> Optional[float]:
    if len(points) < 3:
        return None
    n = len(points)
    mx = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    sxx = sum((p[0] - mx) ** 2 for p in points)
    if sxx == 0:
        return None
    return sum((p[0] - mx) * (p[1] - my) for p in points) / sxx


def _value_at(samples: list[tuple[float, float, float]], t: float, index: int) -> float:
    """Sample column ``index`` linearly interpolated at time ``t``."""
    import bisect

    i = min(max(bisect.bisect_left([s[0] for s in samples], t), 1), len(samples) - 1)
    (t0, *a), (t1, *b) = samples[i - 1], samples[i]
    share = (t - t0) / (t1 - t0) if t1 > t0 else 0.0
    return a[index - 1] + share * (b[index - 1] - a[index - 1])


def memory_stats(ends: list[float], samples: list[tuple[float, float, float]]) -> dict[str, Any]:
    """Driver RSS growth per 1,000 finished trials (least squares over the second half
    of the run, so start-up allocations do not count), and the trial completion rate and
    the driver's CPU milliseconds per finished trial in the first and last quarter of
    the trials (a decision cost growing with finished trials shows in the second)."""
    ends = sorted(ends)
    out: dict[str, Any] = {}
    if len(ends) >= 8:
        n = len(ends)
        q = n // 4
        first = (q - 1) / max(ends[q - 1] - ends[0], 1e-9)
        last = (q - 1) / max(ends[-1] - ends[-q], 1e-9)
        out["trials_per_s_first_quarter"] = first
        out["trials_per_s_last_quarter"] = last
        if len(samples) >= 2:
            def cpu_ms_per_trial(a: float, b: float) -> float:
                return (_value_at(samples, b, 2) - _value_at(samples, a, 2)) / (q - 1) * 1000

            out["driver_cpu_ms_per_trial_first_quarter"] = cpu_ms_per_trial(ends[0], ends[q - 1])
            out["driver_cpu_ms_per_trial_last_quarter"] = cpu_ms_per_trial(ends[-q], ends[-1])
    if ends and samples:
        import bisect

        half = ends[len(ends) // 2]
        points = [(bisect.bisect_right(ends, t), rss) for t, rss, _ in samples
                  if half <= t <= ends[-1]]
        slope = _fit_slope(points)
        out["rss_growth_mb_per_1000_trials"] = None if slope is None else slope * 1000
        out["rss_samples"] = len(points)
    return out


# ---------------------------------------------------------------------------- the sides
def _config(w: Workload) -> dict[str, Any]:
    return {"kind": w.kind, "seconds": w.seconds, "iters": w.iters}


def start_tuneflows(local_dir: str, experiment_name: str) -> dict[str, Any]:
    """Imports tuneflows and Prefect, provides the Prefect API the way
    ``run_experiments`` does (the local Prefect server, or the ephemeral one) and starts
    tuneflows' MLflow writer processes, which create the MLflow SQLite store of
    ``local_dir`` (a new store's schema migration takes 5-15 s here: a
    once-per-results-directory cost, like the Prefect database's). ``run_experiments``
    does both itself, side by side with Ray, and then finds them ready."""
    import tuneflows  # noqa: F401
    import tuneflows.orchestration.flow  # noqa: F401  (prefect, prefect-ray)
    from prefect.settings import PREFECT_API_URL

    from tuneflows.services.prefect_api import PrefectApiStart

    info: dict[str, Any] = {}
    t0 = time.perf_counter()
    from tuneflows.recording.mlflow.writer_pool import MlflowWriterPool

    writers = MlflowWriterPool.shared()
    writers.prepare(experiment_name, local_dir)
    writers.sync()
    info["mlflow_store_init_s"] = time.perf_counter() - t0
    info["mlflow_writer_pids"] = writers.pids
    api = PrefectApiStart()
    api.wait()
    if api.server is not None:
        info["prefect_server_pid"] = api.server.pid
        info["prefect_server"] = f"local {api.server.ui_url}"
    elif not PREFECT_API_URL.value():
        from prefect.server.api.server import SubprocessASGIServer

        server = SubprocessASGIServer()  # the one PrefectApiStart started
        info["prefect_server_pid"] = server.server_process.pid
        info["prefect_server"] = "ephemeral"
    else:
        info["prefect_server"] = PREFECT_API_URL.value()
    return info


def run_tuneflows(w: Workload, local_dir: str) -> list[dict]:
    """Runs the workload through ``tuneflows.run_experiments``; returns last results."""
    import tuneflows

    scheduler = None
    if w.asha:
        from tuneflows.schedulers import AsyncHyperBandScheduler

        scheduler = AsyncHyperBandScheduler(metric="score", mode="max", max_t=w.iters,
                                            grace_period=w.grace, reduction_factor=3,
                                            brackets=1)
    spec = {
        "run": tuneflows_trainable,
        "config": {**_config(w), "x": tuneflows.grid_search(xs(w))},
        "resources_per_trial": {"cpu": 1, "gpu": 0},
        "local_dir": local_dir,
    }
    search_alg = None
    if w.tpe:
        spec.update(config=_config(w), num_samples=w.trials)
        search_alg = tpe_space_tuneflows(w)
    trials = tuneflows.run_experiments({f"bench_w{w.id}": spec}, scheduler=scheduler,
                                       search_alg=search_alg, verbose=False)
    return [dict(t.last_result or {}, status=t.status) for t in trials]


def start_raytune() -> dict[str, Any]:
    import ray.tune  # noqa: F401
    from ray.tune.schedulers import ASHAScheduler  # noqa: F401

    return {}


def run_raytune(w: Workload, local_dir: str) -> list[dict]:
    """Runs the workload through ``ray.tune.Tuner(...).fit()``; returns last results."""
    from ray import tune

    scheduler = None
    if w.asha:
        from ray.tune.schedulers import ASHAScheduler

        scheduler = ASHAScheduler(metric="score", mode="max", max_t=w.iters,
                                  grace_period=w.grace, reduction_factor=3, brackets=1)
    param_space = {**_config(w), "x": tune.grid_search(xs(w))}
    search: dict[str, Any] = {}
    if w.tpe:
        param_space = _config(w)
        search = {"search_alg": tpe_space_raytune(w), "num_samples": w.trials}
    tuner = tune.Tuner(
        tune.with_resources(raytune_trainable, {"cpu": 1}),
        param_space=param_space,
        tune_config=tune.TuneConfig(reuse_actors=True, scheduler=scheduler, **search),
        run_config=tune.RunConfig(name=f"bench_w{w.id}", storage_path=local_dir, verbose=0),
    )
    grid = tuner.fit()
    out = []
    for r in grid:
        m = dict(r.metrics or {})
        m["status"] = "ERROR" if r.error else "TERMINATED"
        out.append(m)
    return out


def _start_pyspy(out: Optional[str]) -> Any:
    """py-spy sampling this process and its children (Prefect server, Ray) during the
    timed section only, as collapsed stacks (``--format raw``)."""
    if not out:
        return None
    import shutil
    import subprocess

    exe = shutil.which("py-spy") or os.path.join(os.path.dirname(sys.executable), "py-spy")
    proc = subprocess.Popen([exe, "record", "-p", str(os.getpid()), "--subprocesses",
                             "--nonblocking", "--rate", os.environ.get("BENCH_PYSPY_RATE", "100"),
                             "--format", "raw", "-o", out],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.5)  # let it attach
    return proc


def _stop_pyspy(proc: Any) -> None:
    if proc is not None:
        import signal

        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)


def child_main(side: str, w: Workload, out_path: str, tmp_root: str) -> dict[str, Any]:
    """Runs one workload on one side in this (fresh) process and writes its measures."""
    import psutil

    t_start = time.perf_counter()
    os.makedirs(tmp_root, exist_ok=True)
    local_dir = tempfile.mkdtemp(prefix=f"{side}-w{w.id}-", dir=tmp_root)
    info = start_tuneflows(local_dir, f"bench_w{w.id}") if side == "tuneflows" else start_raytune()
    import ray

    # address="local": always a new local session, even when another test on this
    # machine has a `ray start --head` cluster running.
    ray.init(address="local", num_cpus=NUM_CPUS, include_dashboard=False,
             logging_level=logging.WARNING)
    startup_s = time.perf_counter() - t_start

    server = psutil.Process(info["prefect_server_pid"]) if "prefect_server_pid" in info else None
    writers = [psutil.Process(pid) for pid in info.get("mlflow_writer_pids", [])]
    tree = TreeCpu()
    tree0 = tree.sample()
    tree.start()
    server0 = _proc_cpu(server) if server else 0.0
    writers0 = sum(_proc_cpu(w) for w in writers)
    cpu0 = _rusage_cpu()
    rss_start = psutil.Process().memory_info().rss / 2**20
    spy = _start_pyspy(os.environ.get("BENCH_PYSPY_OUT"))
    sampler = DriverSampler() if w.memory else None
    if sampler:
        sampler.start()
    t0 = time.perf_counter()
    results = (run_tuneflows if side == "tuneflows" else run_raytune)(w, local_dir)
    wall = time.perf_counter() - t0
    cpu1 = _rusage_cpu()
    _stop_pyspy(spy)
    server1 = _proc_cpu(server) if server else 0.0
    writers1 = sum(_proc_cpu(w) for w in writers)
    tree1 = tree.stop()
    if sampler:
        sampler.stop()
    rss_end = psutil.Process().memory_info().rss / 2**20

    tree_cpu = sum(v - tree0.get(pid, 0.0) for pid, v in tree1.items())
    n_results = sum(int(r.get("training_iteration", 0)) for r in results)
    trainable_cpu = sum(float(r.get("work_s", 0.0)) for r in results)
    statuses: dict[str, int] = {}
    for r in results:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    out: dict[str, Any] = {
        "side": side,
        "workload": asdict(w),
        "startup_s": startup_s,
        "wall_s": wall,
        "results": n_results,
        "results_per_s": n_results / wall if wall else None,
        "trials": len(results),
        "statuses": statuses,
        "driver_cpu_s": cpu1 - cpu0,
        "prefect_server_cpu_s": (server1 - server0) if server else None,
        "mlflow_writer_cpu_s": (writers1 - writers0) if writers else None,
        "tree_cpu_s": tree_cpu,
        "trainable_cpu_s": trainable_cpu,
        "trainable_share_of_machine": trainable_cpu / (NUM_CPUS * wall) if wall else None,
        "trainable_share_of_tree_cpu": trainable_cpu / tree_cpu if tree_cpu else None,
        "peak_driver_rss_mb": _peak_rss_mb(),
        "driver_rss_start_mb": rss_start,
        "driver_rss_end_mb": rss_end,
        "loadavg_1m_end": os.getloadavg()[0],
        "env": {k: v for k, v in os.environ.items() if k.startswith(("PREFECT_", "TUNEFLOWS_"))
                and k not in ("PREFECT_HOME",)},
        **info,
    }
    if side == "tuneflows":
        from tuneflows.runs.state import load_state

        state = load_state(os.path.join(local_dir, f"bench_w{w.id}"))
        out["prefect_task_runs"] = sum(state.rounds.values()) if state else None
    if w.memory:
        ends = [float(r["t"]) for r in results if "t" in r]
        out["memory"] = memory_stats(ends, sampler.samples if sampler else [])
        out["memory"]["rss_growth_mb_per_1000_trials_start_to_end"] = (
            (rss_end - rss_start) / max(len(results), 1) * 1000)
    with open(out_path, "w") as f:
        json.dump(out, f, indent=1)
    ray.shutdown()
    return out
