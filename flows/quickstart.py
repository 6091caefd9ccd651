"""The seed's quick start: a 2 × 3 grid over ``lr`` and ``momentum``, stopping on
``mean_accuracy``, run as a Prefect flow on a local Ray with MLflow records.

Run it with ``python flows/quickstart.py``: it first prints the Prefect UI's address
(with no ``PREFECT_API_URL`` set, the local Prefect server the first run starts), and at
the end where to look: the logdir, the ``mlflow ui`` command with the experiment's page
and the flow run's page on the Prefect UI. Every run is a new run of ``my_experiment``
(``~/ray_results/my_experiment/<run id>/``), as re-running the seed's script was.
"""

from __future__ import annotations

import math
import time

import tuneflows
from tuneflows.model.best_trial import best_trial


def train_func(config: dict, reporter) -> None:
    """A toy learner: accuracy climbs faster with a larger lr and momentum."""
    rate = config["lr"] * (1 + config["momentum"])
    for step in range(1, 1000):
        accuracy = 100 * (1 - math.exp(-rate * step / 10))
        time.sleep(0.01)
        reporter(timesteps_total=step * 100, mean_accuracy=accuracy)


def main() -> list:
    """Runs the quick start and prints the best trial."""
    tuneflows.register_trainable("train_func", train_func)
    trials = tuneflows.run_experiments({
        "my_experiment": {
            "run": "train_func",
            "stop": {"mean_accuracy": 99},
            "config": {
                "lr": tuneflows.grid_search([0.2, 0.4, 0.6]),
                "momentum": tuneflows.grid_search([0.1, 0.2]),
            },
        }
    })
    # Every trial reaches the stop criterion, mean_accuracy 99: the best is the one that
    # got highest (ties: fewer iterations first), as in the status block and the
    # Prefect summary.
    best = best_trial(trials, "mean_accuracy", "max")
    print(f"\nBest trial: {best.name} reached mean_accuracy "
          f"{best.last_result['mean_accuracy']:.2f} in {best.iteration} iterations; "
          f"logdir {best.logdir}")
    return trials


if __name__ == "__main__":
    main()
