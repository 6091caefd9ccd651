"""Experiment tags: a trial's varied values as a short ``"lr=0.2,momentum=0.1"`` string.

The keys are sorted, as the seed's variant generator sorted them.

Example:
    >>> format_vars({"lr": 0.123456, "net/act": "relu", "layers": [64, 64]})
    'layers=[64,64],lr=0.1235,net/act=relu'
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

__all__ = ["format_vars"]


def format_vars(resolved: Mapping[str, Any]) -> str:
    """``"lr=0.2,momentum=0.1"``: the keys sorted (the seed's order), short values
    (floats with 4 significant digits)."""
    return ",".join(f"{k}={_short(resolved[k])}" for k in sorted(resolved, key=str))


def _short(value: Any, limit: int = 24) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4g}"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, str):
        s = value
    elif callable(value):
        s = getattr(value, "__name__", type(value).__name__)
    else:
        s = str(value)
    s = "".join(s.split())
    return s if len(s) <= limit else s[: limit - 3] + "..."
