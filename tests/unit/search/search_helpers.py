"""Shared test helpers: every searcher the registry offers, built the same way each call."""

import numpy as np
from tuneflows.hpo_scheduler import HyperOptScheduler
from tuneflows.search import (
    BasicVariantGenerator,
    ConcurrencyLimiter,
    HyperOptSearch,
    TrialLimiter,
    choice,
    create_searcher,
    grid_search,
    loguniform,
    randint,
)


def double_lr(spec):  # module level, so searchers holding it pickle
    return spec.config.lr * 2


SPACE = {"lr": loguniform(1e-3, 1), "layers": randint(1, 4), "act": choice(["relu", "tanh"]),
         "lr2": double_lr, "const": 7}


def objective(config):
    return (np.log10(config["lr"]) + 2) ** 2 + config["layers"] + (config["act"] == "tanh")


def _hp_seed_space():
    from hyperopt import hp

    return {"space": {"lr": hp.loguniform("lr", np.log(1e-3), 0), "layers": hp.randint("layers", 1, 4),
                      "act": hp.choice("act", ["relu", "tanh"])}, "lr2": double_lr, "const": 7}


FACTORIES = {
    "variant": lambda: BasicVariantGenerator(
        {"lr": grid_search([0.01, 0.1]), "layers": randint(1, 4), "act": choice(["relu", "tanh"]),
         "lr2": double_lr}, num_samples=3, seed=0),
    "random": lambda: create_searcher("random", config=SPACE, num_samples=8, seed=1),
    "hyperopt": lambda: HyperOptSearch(SPACE, metric="loss", mode="min", random_state_seed=0,
                                       n_initial_points=3),
    "hyperopt_max_concurrent": lambda: HyperOptSearch(
        SPACE, metric="neg_loss", mode="max", random_state_seed=0, n_initial_points=3,
        max_concurrent=2),
    "concurrency_limiter": lambda: ConcurrencyLimiter(
        HyperOptSearch(SPACE, metric="loss", mode="min", random_state_seed=2, n_initial_points=3), 2),
    "trial_limiter": lambda: TrialLimiter(
        HyperOptSearch(SPACE, metric="loss", mode="min", random_state_seed=3, n_initial_points=3), 7),
    "hpo_scheduler": lambda: HyperOptScheduler(max_concurrent=3, reward_attr="neg_loss").make_searcher(
        _hp_seed_space(), num_samples=9, seed=4),
}


def make_result(config, iteration=1, **extra):
    loss = float(objective(config))
    return dict({"loss": loss, "neg_loss": -loss, "training_iteration": iteration}, **extra)
