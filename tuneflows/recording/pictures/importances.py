"""Which parameters mattered: each config parameter's share of the variance of the
metric across trials, by Optuna's fANOVA evaluator (a random forest fit to the trials,
its variance split among the parameters; Hutter et al., "An Efficient Approach for
Assessing Hyperparameter Importance", ICML 2014).

The trials are handed to Optuna as a study built from finished trials (no Optuna
sampler runs): numbers become float distributions (log-scaled for the parameters named
in ``log_params``), anything else a categorical one. Parameters that never vary are left
out; nested config keys are joined with ``/``.

Example:
    >>> import random
    >>> rng = random.Random(0)
    >>> configs = [{"lr": rng.uniform(0, 1), "noise": rng.uniform(0, 1)} for _ in range(40)]
    >>> values = [c["lr"] ** 2 for c in configs]
    >>> list(parameter_importances(configs, values))
    ['lr', 'noise']
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Iterable, Mapping, Optional, Sequence

from tuneflows.recording.trial_files import flatten

#: The seed of the fANOVA forest: the same trials give the same importances.
SEED = 0
_NUMBER = (int, float)


def parameter_importances(configs: Sequence[Mapping[str, Any]],
                          values: Sequence[Optional[float]],
                          log_params: Iterable[str] = (), seed: int = SEED) -> dict[str, float]:
    """Each varying parameter's importance (they add up to 1), most important first.

    Args:
        configs: The trials' configs.
        values: Each trial's metric (None or NaN: the trial is left out).
        log_params: Parameters sampled log-uniformly (flat names, ``model/lr``).
        seed: Seeds the fANOVA forest.

    Returns:
        ``{parameter: importance}``; empty when fewer than two trials have a value, the
        values are all equal, or no parameter varies.
    """
    rows = [(flatten(config), float(value)) for config, value in zip(configs, values)
            if isinstance(value, _NUMBER) and math.isfinite(value)]
    if len(rows) < 2 or len({value for _, value in rows}) < 2:
        return {}  # nothing to compare, or a metric that never varied
    distributions = _distributions([config for config, _ in rows], set(log_params))
    if len(distributions) < 2:
        return {name: 1.0 for name in distributions}
    return _fanova(rows, distributions, seed)


def _distributions(configs: Sequence[Mapping[str, Any]], log_params: set[str]) -> dict[str, Any]:
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    names = sorted({name for config in configs for name in config})
    found: dict[str, Any] = {}
    for name in names:
        column = [config.get(name) for config in configs]
        if all(isinstance(v, _NUMBER) and not isinstance(v, bool) and math.isfinite(v)
               for v in column):
            low, high = float(min(column)), float(max(column))
            if low < high:
                found[name] = FloatDistribution(low, high, log=name in log_params and low > 0)
        else:
            choices = sorted({category(v) for v in column})
            if len(choices) > 1:
                found[name] = CategoricalDistribution(choices)
    return found


def category(value: Any) -> Any:
    """A config value as a category: strings, bools and None as they are, the rest as
    text.

    Example:
        >>> category("adam"), category(3), category([1, 2])
        ('adam', '3', '[1, 2]')
    """
    if isinstance(value, (str, bool)) or value is None:
        return value
    return repr(value)


def _fanova(rows: Sequence[tuple[Mapping[str, Any], float]], distributions: Mapping[str, Any],
            seed: int) -> dict[str, float]:
    import optuna
    from optuna.distributions import CategoricalDistribution
    from optuna.importance import FanovaImportanceEvaluator

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study()
    for config, value in rows:
        params = {name: (category(config.get(name)) if isinstance(dist, CategoricalDistribution)
                         else float(config[name]))
                  for name, dist in distributions.items()}
        study.add_trial(optuna.trial.create_trial(params=params, distributions=dict(distributions),
                                                  value=value))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna's ExperimentalWarning
        found = optuna.importance.get_param_importances(
            study, evaluator=FanovaImportanceEvaluator(seed=seed), normalize=True)
    return {name: float(share) for name, share in found.items()}
