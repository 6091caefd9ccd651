"""Named trainables (``register_trainable``) and environment creators (``register_env``)."""

from __future__ import annotations

import types
from typing import Any, Callable, Union

from tuneflows.trainable import Trainable

_TRAINABLES: dict[str, Any] = {}
_ENV_CREATORS: dict[str, Callable[..., Any]] = {}


def register_trainable(name: str, trainable: Union[Callable[..., Any], type[Trainable]]) -> None:
    """Registers a trainable function or class under ``name`` (a later registration
    under the same name replaces it).

    Example:
        >>> def train(config, reporter):
        ...     reporter(mean_accuracy=0.9)
        >>> register_trainable("train", train)
        >>> register_trainable("train", object)
        Traceback (most recent call last):
        ...
        TypeError: register_trainable('train', ...): trainable must be a function or a Trainable subclass, got <class 'object'>.

    Args:
        name: Name to use as ``"run"`` in experiment specs.
        trainable: A function ``f(config, reporter)`` / ``f(config)``, or a
            :class:`~tuneflows.Trainable` subclass.

    Raises:
        TypeError: If ``name`` is not a string, or ``trainable`` is a class that is not
            a Trainable subclass, or neither a class nor callable (a Trainable instance).
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"Trainable name must be a non-empty string, got {name!r}.")
    check_trainable(trainable, f"register_trainable({name!r}, ...)", TypeError)
    _TRAINABLES[name] = trainable


def check_trainable(trainable: Any, where: str, error: type[Exception]) -> None:
    """Raises ``error`` naming ``where`` unless ``trainable`` is a function (any
    non-class callable) or a :class:`~tuneflows.Trainable` subclass."""
    if isinstance(trainable, type):
        ok = issubclass(trainable, Trainable)
    else:
        ok = callable(trainable)
    if not ok:
        raise error(f"{where}: trainable must be a function or a Trainable subclass, "
                    f"got {trainable!r}.")


def get_trainable(name: str) -> Any:
    """Looks up a registered trainable, naming the registered ones when missing."""
    try:
        return _TRAINABLES[name]
    except KeyError:
        registered = ", ".join(sorted(_TRAINABLES)) or "none"
        raise ValueError(
            f"Unknown trainable {name!r}; registered trainables: {registered}. "
            f"Call tuneflows.register_trainable({name!r}, fn) first, or pass the "
            f"function or class itself as 'run'."
        ) from None


def register_env(name: str, env_creator: Callable[..., Any]) -> None:
    """Registers a function creating an environment (the seed's, for RLlib's agents);
    a trainable builds it with :func:`get_env_creator`.

    Example:
        >>> register_env("corridor", lambda env_config: ["start", "goal"])
        >>> get_env_creator("corridor")({})
        ['start', 'goal']

    Raises:
        TypeError: ``env_creator`` is not a function.
    """
    if not isinstance(env_creator, types.FunctionType):
        raise TypeError(f"register_env({name!r}, ...): the environment creator must be a "
                        f"function, got {env_creator!r}.")
    _ENV_CREATORS[name] = env_creator


def get_env_creator(name: str) -> Callable[..., Any]:
    """The function registered with :func:`register_env` under ``name``.

    Raises:
        ValueError: Nothing is registered under ``name`` (the message lists what is).
    """
    try:
        return _ENV_CREATORS[name]
    except KeyError:
        raise ValueError(f"No environment {name!r} is registered; registered: "
                         f"{', '.join(sorted(_ENV_CREATORS)) or 'none'}.") from None
