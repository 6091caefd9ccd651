"""PBT's explore step: perturbing a config by its ``hyperparam_mutations``.

Example:
    >>> import numpy as np
    >>> explore({"lr": 0.1, "bs": 32}, {"lr": [0.01, 0.1, 1.0], "bs": lambda: 64},
    ...         resample_probability=0.0, custom_explore_fn=None,
    ...         rng=np.random.default_rng(0))["lr"] in (0.01, 1.0)
    True
"""

from __future__ import annotations

import copy
import inspect
from typing import Any, Callable, Mapping, Optional

import numpy as np

from tuneflows.model.plain_json import plain_data


def check_mutations(mutations: Mapping[str, Any], path: str = "hyperparam_mutations") -> None:
    """Checks ``hyperparam_mutations``: each value a non-empty list, a callable, a
    search-space domain or a nested dict of them.

    Raises:
        ValueError: Naming the key of the first bad value.
    """
    for key, value in mutations.items():
        where = f"{path}[{key!r}]"
        if isinstance(value, Mapping):
            check_mutations(value, where)
        elif isinstance(value, (list, tuple)):
            if not value:
                raise ValueError(f"{where} is an empty list; give at least one value.")
        elif not (hasattr(value, "sample") or callable(value)):
            raise ValueError(
                f"{where} must be a list, a callable or a search-space domain, got {value!r}."
            )


def explore(config: Mapping[str, Any], mutations: Mapping[str, Any], resample_probability: float,
            custom_explore_fn: Optional[Callable[[dict], dict]],
            rng: np.random.Generator) -> dict[str, Any]:
    """A perturbed copy of ``config``.

    For each key of ``mutations``, with probability ``resample_probability`` (or when the
    current value cannot be perturbed) a new value is drawn (a list: uniformly; a
    callable: ``fn()``, or ``fn(None)`` for the seed's ``lambda config: ...``; a domain:
    ``domain.sample(rng)``); otherwise a number is multiplied by 0.8 or 1.2 (ints
    truncated with ``int()``) and a list value moves to a neighbouring entry.
    ``custom_explore_fn(config)`` is applied last.

    Raises:
        ValueError: ``custom_explore_fn`` did not return a dict.
    """
    new = copy.deepcopy(plain_data(config))
    _mutate(new, mutations, resample_probability, rng)
    if custom_explore_fn is not None:
        new = custom_explore_fn(new)
        if not isinstance(new, Mapping):
            raise ValueError(f"custom_explore_fn must return a config dict, got {new!r}.")
    return plain_data(new)


def _sample(spec: Any, rng: np.random.Generator) -> Any:
    if hasattr(spec, "sample"):
        return plain_data(spec.sample(rng))
    try:
        required = [p for p in inspect.signature(spec).parameters.values()
                    if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY,
                                                           p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):  # a builtin without a signature
        required = []
    # The seed's mutations were written ``lambda config: ...`` and called with None.
    return plain_data(spec(None) if required else spec())


def _mutate(config: dict[str, Any], mutations: Mapping[str, Any], resample_probability: float,
            rng: np.random.Generator) -> None:
    for key, spec in mutations.items():
        if isinstance(spec, Mapping):
            if not isinstance(config.get(key), dict):
                config[key] = {}
            _mutate(config[key], spec, resample_probability, rng)
            continue
        resample = rng.random() < resample_probability
        current = config.get(key)
        if isinstance(spec, (list, tuple)):
            values = plain_data(list(spec))
            if resample or current not in values:
                config[key] = values[int(rng.integers(len(values)))]
            else:
                step = int(rng.choice([-1, 1]))
                index = min(max(values.index(current) + step, 0), len(values) - 1)
                config[key] = values[index]
        elif resample or isinstance(current, bool) or not isinstance(current, (int, float)):
            config[key] = _sample(spec, rng)
        else:
            factor = float(rng.choice([0.8, 1.2]))
            new = current * factor
            config[key] = int(new) if isinstance(current, int) else new
