"""The seed's quick start: a 2 × 3 grid over ``lr`` and ``momentum``, stopping on
``mean_accuracy``, run as a Prefect flow on a local Ray with MLflow records.

Run it with ``python flows/quickstart.py``; then open the Prefect UI
(``prefect server start``) or MLflow (``mlflow ui --backend-store-uri
sqlite:///$HOME/ray_results/mlflow.db``) to see the runs.
"""

from __future__ import annotations

import math
import time

import tuneflows


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
    name = time.strftime("my_experiment_%Y%m%d_%H%M%S")  # a fresh experiment each run
    trials = tuneflows.run_experiments({
        name: {
            "run": "train_func",
            "stop": {"mean_accuracy": 99},
            "config": {
                "lr": tuneflows.grid_search([0.2, 0.4, 0.6]),
                "momentum": tuneflows.grid_search([0.1, 0.2]),
            },
        }
    })
    best = min(trials, key=lambda t: t.last_result["training_iteration"])
    print(f"\nBest trial: {best.name} reached mean_accuracy "
          f"{best.last_result['mean_accuracy']:.2f} in "
          f"{best.last_result['training_iteration']} iterations; logdir {best.logdir}")
    return trials


if __name__ == "__main__":
    main()
