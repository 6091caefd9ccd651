"""Named trainables: ``register_trainable(name, trainable)``."""

from __future__ import annotations

from typing import Any, Callable, Union

from tuneflows.trainable import Trainable

_TRAINABLES: dict[str, Any] = {}


def register_trainable(name: str, trainable: Union[Callable[..., Any], type[Trainable]]) -> None:
    """Registers a trainable function or class under ``name``.

    Args:
        name: Name to use as ``"run"`` in experiment specs.
        trainable: A function ``f(config, reporter)`` / ``f(config)``, or a
            :class:`~tuneflows.Trainable` subclass.

    Raises:
        TypeError: If ``name`` is not a string or ``trainable`` is not callable.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"Trainable name must be a non-empty string, got {name!r}.")
    if not callable(trainable):
        raise TypeError(
            f"register_trainable({name!r}, ...): trainable must be a function or a "
            f"Trainable subclass, got {trainable!r}."
        )
    _TRAINABLES[name] = trainable


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

