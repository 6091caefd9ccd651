"""Deadlines read from the environment (``TUNEFLOWS_*_DEADLINE_S``): one rule for every
wait tuneflows bounds on another process.

Example:
    >>> import os
    >>> os.environ["DEMO_DEADLINE_S"] = "2.5"
    >>> deadline_from_env("DEMO_DEADLINE_S", 30.0)
    2.5
    >>> os.environ["DEMO_DEADLINE_S"] = "never"
    >>> deadline_from_env("DEMO_DEADLINE_S", 30.0)
    Traceback (most recent call last):
    ...
    ValueError: DEMO_DEADLINE_S must be a positive number of seconds, got 'never'.
    >>> del os.environ["DEMO_DEADLINE_S"]
"""

from __future__ import annotations

import math
import os


def deadline_from_env(name: str, default: float) -> float:
    """The seconds the environment variable ``name`` gives, else ``default``.

    Raises:
        ValueError: The variable is not a positive, finite number of seconds.
    """
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not seconds > 0 or math.isinf(seconds):
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}.")
    return seconds
