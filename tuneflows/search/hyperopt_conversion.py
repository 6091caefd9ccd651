"""Converts tuneflows domains to hyperopt ``hp.*`` expressions, and recognises those.

hyperopt is imported only when a conversion runs, so recognising an expression costs nothing
for configs that hold none.
"""

from __future__ import annotations

from typing import Any

__all__ = ["is_hyperopt_expression"]


def is_hyperopt_expression(value: Any) -> bool:
    """True for a hyperopt ``hp.*`` expression (a ``pyll.Apply`` node)."""
    if not type(value).__module__.startswith("hyperopt"):
        return False
    from hyperopt import pyll

    return isinstance(value, pyll.Apply)
