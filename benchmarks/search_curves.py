"""Best value found versus number of trials: random search, TPE and TPE + ASHA on digits.

    python -m benchmarks.search_curves [--trials 30] [--seeds 0,1] [--quick] [--no-flow]

Part 1 (through tuneflows on real Ray + Prefect, ``run_experiments(..., verbose=False)``):
an ``SGDClassifier`` on scikit-learn's bundled 8x8 digits (1,797 images; fixed 80/20
split, standardised), one ``partial_fit`` epoch per iteration, ``EPOCHS`` epochs, metric
``val_acc`` (maximised). Space: ``alpha`` loguniform(1e-6, 1), ``eta0`` loguniform(1e-4, 10),
``learning_rate`` choice(constant, invscaling, adaptive), ``l1_ratio`` uniform(0, 1)
(elastic net), ``average`` choice(False, True). Three methods, each for every seed:

- ``random``: ``BasicVariantGenerator(space, num_samples=N, seed=s)``, FIFO;
- ``tpe``: ``HyperOptSearch(space, metric, mode, n_initial_points=10, random_state_seed=s)``;
- ``tpe+asha``: the same searcher with ``AsyncHyperBandScheduler(max_t=EPOCHS,
  grace_period=1, reduction_factor=3, brackets=1)``.

Trials are ordered by suggestion (trial index); "best after n" is the best ``val_acc`` among
the first n trials' last results (for early-stopped trials, the accuracy where ASHA cut
them, which is all one knows of them). Also reported: epochs trained in all (the compute
ASHA saves) and wall time. Two trials run at once (2 CPUs, 1 CPU per trial).

Part 2 (pure, no Ray): the searcher's own time per ``suggest`` after 100 and 1,000
completed trials of synthetic results on the same space (history filled with random
suggestions, then TPE timed), and per ``on_trial_complete``; also with half of the history
early-stopped (the ASHA case, where the searcher re-ranks pseudo-losses).

Results: a rich table per part; JSON in ``benchmarks/results/<date>-search-curves.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from typing import Any, Optional

HERE = os.path.dirname(os.path.abspath(__file__))

EPOCHS = 12
METRIC, MODE = "val_acc", "max"
METHODS = ("random", "tpe", "tpe+asha")


# ---------------------------------------------------------------------------- the model
def space() -> dict[str, Any]:
    from tuneflows.search import choice, loguniform, uniform

    return {
        "alpha": loguniform(1e-6, 1.0),
        "eta0": loguniform(1e-4, 10.0),
        "learning_rate": choice(["constant", "invscaling", "adaptive"]),
        "l1_ratio": uniform(0.0, 1.0),
        "average": choice([False, True]),
    }


def digits_split() -> tuple:
    """The fixed split: standardised 8x8 digits, 80 % train / 20 % validation."""
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)
    mean, std = x_tr.mean(0), x_tr.std(0) + 1e-6
    return ((x_tr - mean) / std).astype(np.float32), y_tr, ((x_va - mean) / std).astype(
        np.float32), y_va


def digits_sgd(config: dict, reporter: Any) -> None:
    """One epoch of ``SGDClassifier.partial_fit`` per iteration; reports ``val_acc``."""
    import warnings

    import numpy as np
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import SGDClassifier

    x_tr, y_tr, x_va, y_va = digits_split()
    model = SGDClassifier(loss="log_loss", penalty="elasticnet", alpha=config["alpha"],
                          l1_ratio=config["l1_ratio"], eta0=config["eta0"],
                          learning_rate=config["learning_rate"], average=config["average"],
                          random_state=0)
    classes = np.arange(10)
    rng = np.random.default_rng(0)
    for _ in range(EPOCHS):
        order = rng.permutation(len(y_tr))
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            model.partial_fit(x_tr[order], y_tr[order], classes=classes)
            acc = float(model.score(x_va, y_va)) if np.all(np.isfinite(model.coef_)) else 0.0
        reporter(val_acc=acc)


# ---------------------------------------------------------------------------- part 1
def run_method(method: str, seed: int, n_trials: int, local_dir: str) -> dict[str, Any]:
    import tuneflows
    from tuneflows.schedulers import AsyncHyperBandScheduler
    from tuneflows.search import BasicVariantGenerator, HyperOptSearch

    scheduler = None
    if method == "random":
        searcher = BasicVariantGenerator(space(), num_samples=n_trials, seed=seed)
    else:
        searcher = HyperOptSearch(space(), metric=METRIC, mode=MODE, n_initial_points=10,
                                  random_state_seed=seed)
    if method == "tpe+asha":
        scheduler = AsyncHyperBandScheduler(metric=METRIC, mode=MODE, max_t=EPOCHS,
                                            grace_period=1, reduction_factor=3, brackets=1,
                                            seed=seed)
    name = f"search_{method.replace('+', '_')}_s{seed}"
    t0 = time.perf_counter()
    trials = tuneflows.run_experiments(
        {name: {"run": digits_sgd, "num_samples": n_trials, "local_dir": local_dir,
                "stop": {"training_iteration": EPOCHS},
                "resources_per_trial": {"cpu": 1, "gpu": 0}}},
        scheduler=scheduler, search_alg=searcher, verbose=False,
    )
    wall = time.perf_counter() - t0
    trials = sorted(trials, key=lambda t: t.trial_id)
    values = [float((t.last_result or {}).get(METRIC, 0.0)) for t in trials]
    best_so_far, best = [], 0.0
    for v in values:
        best = max(best, v)
        best_so_far.append(best)
    return {
        "method": method, "seed": seed, "trials": len(trials), "wall_s": wall,
        "epochs": sum(t.iteration for t in trials),
        "stopped_early": sum(1 for t in trials if t.iteration < EPOCHS),
        "statuses": sorted({t.status for t in trials}),
        "values": values, "best_so_far": best_so_far,
        "best_config": trials[values.index(max(values))].config,
    }


def checkpoints(n: int) -> list[int]:
    return sorted({k for k in (1, 5, 10, 15, 20, 30, 40, 50, 75, 100) if k <= n} | {n})


# ---------------------------------------------------------------------------- part 2
def time_suggestions(history: int, partial_share: float = 0.0, repeats: int = 20,
                     seed: int = 0) -> dict[str, Any]:
    """Median seconds per TPE ``suggest`` (and per ``on_trial_complete``) with ``history``
    completed trials of synthetic results (``partial_share`` of them early-stopped)."""
    import numpy as np

    from tuneflows.search import EARLY_STOPPED, HyperOptSearch

    rng = np.random.default_rng(seed)
    # Fill the history with hyperopt's random suggestions (cheap), then time TPE.
    searcher = HyperOptSearch(space(), metric=METRIC, mode=MODE,
                              n_initial_points=history + 1, random_state_seed=seed)
    searcher.set_search_properties(None, None, {})
    for i in range(history):
        cfg = searcher.suggest(f"h{i}")
        value = 1 - abs(np.log10(cfg["eta0"]) + 1) / 5 + rng.normal(0, 0.02)
        result = {METRIC: value, "training_iteration": EPOCHS}
        if rng.random() < partial_share:
            result.update({EARLY_STOPPED: True, "training_iteration": int(rng.integers(1, 4))})
        searcher.on_trial_complete(f"h{i}", result)
    searcher.n_initial_points = 10
    suggest_s, complete_s = [], []
    for r in range(repeats):
        t0 = time.perf_counter()
        searcher.suggest(f"t{r}")
        suggest_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        searcher.on_trial_complete(f"t{r}", {METRIC: float(rng.random()),
                                             "training_iteration": EPOCHS})
        complete_s.append(time.perf_counter() - t0)
    return {"searcher": "HyperOptSearch (TPE)", "history": history,
            "early_stopped_share": partial_share, "repeats": repeats,
            "suggest_ms": 1e3 * statistics.median(suggest_s),
            "suggest_ms_max": 1e3 * max(suggest_s),
            "complete_ms": 1e3 * statistics.median(complete_s)}


def time_random(history: int, repeats: int = 200) -> dict[str, Any]:
    from tuneflows.search import BasicVariantGenerator

    gen = BasicVariantGenerator(space(), num_samples=history + repeats, seed=0)
    for i in range(history):
        gen.suggest(f"h{i}")
        gen.on_trial_complete(f"h{i}", {METRIC: 0.5})
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        gen.suggest(f"t{r}")
        times.append(time.perf_counter() - t0)
    return {"searcher": "BasicVariantGenerator (random)", "history": history,
            "early_stopped_share": 0.0, "repeats": repeats,
            "suggest_ms": 1e3 * statistics.median(times), "suggest_ms_max": 1e3 * max(times),
            "complete_ms": None}


# ---------------------------------------------------------------------------- main
def main(argv: Optional[list[str]] = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=30, help="trials per method and seed")
    parser.add_argument("--seeds", default="0,1", help="comma-separated seeds")
    parser.add_argument("--quick", action="store_true", help="12 trials, seed 0")
    parser.add_argument("--no-flow", action="store_true", help="only the pure timings")
    parser.add_argument("--out", default=None, help="JSON path")
    args = parser.parse_args(argv)
    if args.quick:
        args.trials, args.seeds = 12, "0"
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]

    sys.path.insert(0, os.path.dirname(HERE))
    from tuneflows.services.process_defaults import apply_defaults

    apply_defaults()
    from rich.console import Console
    from rich.table import Table

    console = Console(width=160)
    out: dict[str, Any] = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "settings": {"epochs": EPOCHS, "trials": args.trials, "seeds": seeds,
                     "metric": METRIC, "mode": MODE, "concurrent_trials": 2},
    }

    # Part 2 first: it needs nothing but the searcher.
    timings = [time_random(100), time_random(1000)]
    for history in (100, 1000):
        timings.append(time_suggestions(history))
        timings.append(time_suggestions(history, partial_share=0.5))
    out["suggestion_timing"] = timings
    table = Table(title="Searcher time per suggestion (pure, synthetic results)")
    for col in ("searcher", "completed trials", "early-stopped share", "suggest ms (median)",
                "suggest ms (max)", "on_trial_complete ms"):
        table.add_column(col, justify="right")
    for t in timings:
        table.add_row(t["searcher"], f"{t['history']:,}", f"{t['early_stopped_share']:.0%}",
                      f"{t['suggest_ms']:.2f}", f"{t['suggest_ms_max']:.2f}",
                      "-" if t["complete_ms"] is None else f"{t['complete_ms']:.2f}")
    console.print(table)

    if not args.no_flow:
        from benchmarks.common import start_tuneflows
        from tuneflows.execution.ray_session import ensure_ray

        local_dir = tempfile.mkdtemp(prefix="search_curves_")
        t0 = time.perf_counter()
        out["startup"] = start_tuneflows(local_dir)
        ensure_ray(num_cpus=2)
        out["startup"]["startup_s"] = time.perf_counter() - t0
        runs = []
        for seed in seeds:
            for method in METHODS:
                console.print(f"[dim]{method}, seed {seed}: {args.trials} trials…[/dim]")
                runs.append(run_method(method, seed, args.trials, local_dir))
                r = runs[-1]
                console.print(f"[dim]  best {r['best_so_far'][-1]:.4f}, {r['epochs']} epochs, "
                              f"{r['wall_s']:.1f} s[/dim]")
        out["runs"] = runs
        cps = checkpoints(args.trials)
        summary = {}
        table = Table(title=f"Best val_acc after n trials (digits SGD, {EPOCHS} epochs max; "
                            f"median over seeds {seeds})")
        table.add_column("method")
        for k in cps:
            table.add_column(f"n={k}", justify="right")
        for col in (f"n={args.trials} mean ± sd", "epochs", "stopped early", "wall s"):
            table.add_column(col, justify="right")
        for method in METHODS:
            mine = [r for r in runs if r["method"] == method]
            curve = {k: statistics.median(r["best_so_far"][k - 1] for r in mine) for k in cps}
            summary[method] = {
                "best_after": curve,
                "epochs": statistics.median(r["epochs"] for r in mine),
                "stopped_early": statistics.median(r["stopped_early"] for r in mine),
                "wall_s": statistics.median(r["wall_s"] for r in mine),
                "final_best_per_seed": [r["best_so_far"][-1] for r in mine],
                "final_best_mean": statistics.mean(r["best_so_far"][-1] for r in mine),
                "final_best_sd": (statistics.stdev(r["best_so_far"][-1] for r in mine)
                                  if len(mine) > 1 else 0.0),
            }
            s = summary[method]
            table.add_row(method, *[f"{curve[k]:.4f}" for k in cps],
                          f"{s['final_best_mean']:.4f} ± {s['final_best_sd']:.4f}",
                          f"{s['epochs']:g}",
                          f"{s['stopped_early']:g}", f"{s['wall_s']:.1f}")
        out["summary"] = summary
        console.print(table)

    path = args.out or os.path.join(
        HERE, "results", f"{datetime.date.today().isoformat()}-search-curves.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(out, f, indent=2, default=str)
    console.print(f"Wrote {path}")
    return out


if __name__ == "__main__":
    main()
