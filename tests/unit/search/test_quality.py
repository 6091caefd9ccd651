"""Search quality: HyperOptSearch through tuneflows vs hyperopt.fmin and random search.

Branin (2-d, min 0.397887) and Hartmann-6 (min -3.32237), 10 seeds each, the same budget and
``n_startup_jobs`` for every method. Seeded, so the medians are deterministic (not flaky).
"""

import functools

import numpy as np
import pytest
from hyperopt import Trials, fmin, hp, tpe

from tuneflows.search import BasicVariantGenerator, HyperOptSearch, uniform

SEEDS = range(10)
N_INITIAL = 10


def branin(c):
    x1, x2 = c["x1"], c["x2"]
    b, cc, t = 5.1 / (4 * np.pi**2), 5 / np.pi, 1 / (8 * np.pi)
    return float((x2 - b * x1**2 + cc * x1 - 6) ** 2 + 10 * (1 - t) * np.cos(x1) + 10)


_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
               [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                      [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])
_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def hartmann6(c):
    x = np.array([c[f"x{i}"] for i in range(6)])
    return -float(np.sum(_ALPHA * np.exp(-np.sum(_A * (x - _P) ** 2, axis=1))))


PROBLEMS = {
    "branin": (branin, {"x1": uniform(-5, 10), "x2": uniform(0, 15)}, 40),
    "hartmann6": (hartmann6, {f"x{i}": uniform(0, 1) for i in range(6)}, 60),
}


def best_tuneflows(f, space, budget, seed):
    s = HyperOptSearch(space, metric="value", mode="min", random_state_seed=seed,
                       n_initial_points=N_INITIAL)
    best = np.inf
    for i in range(budget):
        c = s.suggest(f"t{i}")
        y = f(c)
        best = min(best, y)
        s.on_trial_result(f"t{i}", {"value": y, "training_iteration": 1})
        s.on_trial_complete(f"t{i}", {"value": y, "training_iteration": 1, "done": True})
    return best


def best_fmin(f, space, budget, seed):
    hspace = {k: hp.uniform(k, d.low, d.high) for k, d in space.items()}
    trials = Trials()
    fmin(f, hspace, algo=functools.partial(tpe.suggest, n_startup_jobs=N_INITIAL),
         max_evals=budget, trials=trials, rstate=np.random.default_rng(1000 + seed),
         show_progressbar=False)
    return min(trials.losses())


def best_random(f, space, budget, seed):
    g = BasicVariantGenerator(space, num_samples=budget, seed=seed)
    return min(f(g.suggest(f"t{i}")) for i in range(budget))


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
def test_tpe_matches_fmin_and_beats_random(problem):
    f, space, budget = PROBLEMS[problem]
    ours = np.array([best_tuneflows(f, space, budget, s) for s in SEEDS])
    ref = np.array([best_fmin(f, space, budget, s) for s in SEEDS])  # other seeds: independent
    rnd = np.array([best_random(f, space, budget, s) for s in SEEDS])
    # "within noise": the medians differ by less than the spread (IQR) of the reference runs
    iqr = np.subtract(*np.percentile(ref, [75, 25]))
    assert abs(np.median(ours) - np.median(ref)) <= iqr, (np.median(ours), np.median(ref), iqr)
    assert np.median(ours) < np.median(rnd), (np.median(ours), np.median(rnd))
