"""``with_parameters`` and ``with_resources``: Ray Tune's wrappers of a trainable that
give it constant arguments (a dataset) or its resources per trial."""

from __future__ import annotations

import inspect
import math
import numbers
import types
from typing import Any, Callable, Mapping

from tuneflows.trainable import Trainable


def with_parameters(trainable: Any, **kwargs: Any) -> Any:
    """``trainable`` called with ``kwargs`` besides its config: ``f(config, **kwargs)``,
    or a Trainable class whose ``setup(config, **kwargs)`` gets them. The values travel
    to the trials' Ray workers with the trainable, once per experiment.

    Example:
        >>> def train(config, data):
        ...     return {"score": config["a"] * len(data)}
        >>> wrapped = with_parameters(train, data=[1, 2, 3])
        >>> wrapped({"a": 2}), wrapped.__name__
        ({'score': 6}, 'train')
    """
    if inspect.isclass(trainable) and issubclass(trainable, Trainable):
        def setup(self: Trainable, config: dict[str, Any]) -> None:
            trainable.setup(self, config, **kwargs)

        return type(trainable.__name__, (trainable,),
                    {"setup": setup, "__module__": trainable.__module__})
    if not callable(trainable):
        raise ValueError(f"with_parameters needs a function or a Trainable class, got "
                         f"{trainable!r}.")
    takes_checkpoint_dir = "checkpoint_dir" in inspect.signature(trainable).parameters
    if takes_checkpoint_dir:
        def wrapped(config, checkpoint_dir=None):  # Ray Tune 1.x's function checkpoints
            return trainable(config, checkpoint_dir=checkpoint_dir, **kwargs)
    else:
        def wrapped(config):
            return trainable(config, **kwargs)
    # Not functools.wraps: the engine reads the wrapper's own signature (f(config)).
    wrapped.__name__ = wrapped.__qualname__ = getattr(trainable, "__name__", "trainable")
    wrapped.__module__ = getattr(trainable, "__module__", __name__)  # shipped with the user's
    return wrapped


def with_resources(trainable: Any, resources: Mapping[str, float]) -> Any:
    """``trainable`` asking for ``resources`` per trial (``{"cpu": 2, "gpu": 0}``; Ray's
    ``"CPU"``/``"GPU"`` too), unless ``resources_per_trial`` says otherwise.

    Example:
        >>> def train(config):
        ...     return {"score": 1}
        >>> with_resources(train, {"CPU": 2}).tuneflows_resources
        {'cpu': 2.0}

    Raises:
        ValueError: ``resources`` is not a mapping of cpu/gpu to numbers (a function of
            the config or a placement group is refused).
    """
    if not isinstance(resources, Mapping):
        raise ValueError(f"with_resources: resources must be a dict like {{'cpu': 1, 'gpu': 0}}"
                         f" (functions of the config and placement groups are not supported), "
                         f"got {resources!r}.")
    amounts = {}
    for key, value in resources.items():
        name = str(key).lower()
        if name not in ("cpu", "gpu") or isinstance(value, bool) or not isinstance(
                value, numbers.Real) or not math.isfinite(value) or value < 0:
            raise ValueError(f"with_resources: {key!r}: {value!r} is not a CPU or GPU amount.")
        amounts[name] = float(value)
    if inspect.isclass(trainable):
        return type(trainable.__name__, (trainable,),
                    {"tuneflows_resources": amounts, "__module__": trainable.__module__})
    copy = _copy_function(trainable)
    copy.tuneflows_resources = amounts
    return copy


def _copy_function(function: Callable[..., Any]) -> Any:
    """A new function object with ``function``'s code, signature and closure (to carry
    attributes without changing the original)."""
    if not isinstance(function, types.FunctionType):
        raise ValueError(f"with_resources needs a function or a Trainable class, got "
                         f"{function!r}.")
    copy = types.FunctionType(function.__code__, function.__globals__, function.__name__,
                              function.__defaults__, function.__closure__)
    copy.__kwdefaults__ = function.__kwdefaults__
    copy.__dict__.update(function.__dict__)
    copy.__qualname__, copy.__module__ = function.__qualname__, function.__module__
    return copy
