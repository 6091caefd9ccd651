"""The one check of a metric's mode: ``"max"`` (higher is better) or ``"min"``.

Example:
    >>> validate_mode("min"), validate_mode(None, allow_none=True)
    ('min', None)
    >>> validate_mode("up")
    Traceback (most recent call last):
    ...
    ValueError: mode must be 'max' or 'min', got mode='up'.
"""

from __future__ import annotations

from typing import Any, Optional

MODES = ("max", "min")


def validate_mode(mode: Any, allow_none: bool = False) -> Optional[str]:
    """Returns ``mode`` if it is ``"max"`` or ``"min"`` (or None when ``allow_none``).

    Raises:
        ValueError: naming the value otherwise.
    """
    if mode is None and allow_none:
        return None
    if mode not in MODES:
        raise ValueError(f"mode must be 'max' or 'min', got mode={mode!r}.")
    return mode
