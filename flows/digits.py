"""The tune-then-train example's model: a linear classifier (scikit-learn's
``SGDClassifier``, logistic loss) of the 8 × 8 handwritten digits scikit-learn ships
(``load_digits``: nothing is downloaded).

The digits are split once, with a fixed seed, into training, validation and held-out
test data. Tuning trains on the training data and reports validation accuracy
(``mean_accuracy``) after every epoch; the final model trains on training and validation
data with the best config and is judged on the held-out data, which tuning never sees.

Needs scikit-learn: ``pip install -e '.[examples]'``.

Example:
    >>> model = fit_final_model({"alpha": 1e-3}, epochs=2)
    >>> 0.8 < held_out_accuracy(model) <= 1.0
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Mapping

import numpy as np

import tuneflows

#: The tuning metric (validation accuracy) and the held-out one (test accuracy).
METRIC, MODE = "mean_accuracy", "max"
HELD_OUT_METRIC = "test_accuracy"
CLASSES = np.arange(10)
#: The search space: regularisation strength and the step size schedule.
SEARCH_SPACE = {
    "alpha": tuneflows.loguniform(1e-5, 1e-1),
    "learning_rate": tuneflows.choice(["optimal", "adaptive"]),
    "eta0": 0.05,
}


@dataclass(frozen=True)
class DigitsSplit:
    """The digits (pixels scaled to [0, 1]) split into training, validation and test data."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


@lru_cache(maxsize=1)
def digits_split(seed: int = 0) -> DigitsSplit:
    """The split: a quarter held out for the test, a quarter of the rest for validation,
    each stratified by digit."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=0.25, stratify=y,
                                                      random_state=seed)
    x_train, x_val, y_train, y_val = train_test_split(x_rest, y_rest, test_size=0.25,
                                                      stratify=y_rest, random_state=seed)
    return DigitsSplit(x_train, y_train, x_val, y_val, x_test, y_test)


def new_model(config: Mapping[str, Any]) -> Any:
    """An untrained classifier with ``config``'s settings (``alpha``, ``learning_rate``,
    ``eta0``, ``seed``)."""
    from sklearn.linear_model import SGDClassifier

    return SGDClassifier(loss="log_loss", alpha=float(config["alpha"]),
                         learning_rate=config.get("learning_rate", "optimal"),
                         eta0=float(config.get("eta0", 0.05)),
                         random_state=int(config.get("seed", 0)))


def train_digits(config: dict, reporter: Callable[..., None]) -> None:
    """The tuning trainable: an epoch over the training data per result, reporting
    validation accuracy as ``mean_accuracy`` (stop it with ``training_iteration``)."""
    data = digits_split()
    model = new_model(config)
    while True:
        model.partial_fit(data.x_train, data.y_train, classes=CLASSES)
        reporter(mean_accuracy=float(model.score(data.x_val, data.y_val)))


def fit_final_model(config: Mapping[str, Any], epochs: int) -> Any:
    """The final model: ``config``'s classifier trained on training and validation data
    for ``epochs`` epochs."""
    data = digits_split()
    x = np.concatenate([data.x_train, data.x_val])
    y = np.concatenate([data.y_train, data.y_val])
    model = new_model(config)
    for _ in range(max(1, int(epochs))):
        model.partial_fit(x, y, classes=CLASSES)
    return model


def held_out_accuracy(model: Any) -> float:
    """The model's accuracy on the held-out test data."""
    data = digits_split()
    return float(model.score(data.x_test, data.y_test))


def digits_experiment(num_samples: int, max_iterations: int) -> dict[str, Any]:
    """The tuning experiment's spec: ``num_samples`` configs from :data:`SEARCH_SPACE`,
    each trained for at most ``max_iterations`` epochs on one CPU."""
    return {
        "run": train_digits,
        "stop": {"training_iteration": max_iterations},
        "config": dict(SEARCH_SPACE),
        "num_samples": num_samples,
        "resources_per_trial": {"cpu": 1, "gpu": 0},
    }
