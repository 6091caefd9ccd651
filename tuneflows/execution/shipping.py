"""Getting a user's trainable to Ray workers.

Workers import modules by name, but a trainable defined in a script's sibling module or
a test file is not importable there (pytest and scripts extend only the driver's
``sys.path``). Such modules are pickled by value, as ``__main__`` already is; installed
packages stay pickled by reference.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from typing import Any

_INSTALLED_ROOTS = tuple(
    os.path.realpath(p) for p in {sysconfig.get_paths()[k] for k in ("purelib", "platlib", "stdlib")}
)


def _is_installed(module: Any) -> bool:
    path = getattr(module, "__file__", None)
    if not path:
        return True
    real = os.path.realpath(path)
    return real.startswith(_INSTALLED_ROOTS) or module.__name__.split(".")[0] == "tuneflows"


def ship_by_value_if_local(trainable: Any) -> None:
    """Registers the trainable's module for pickling by value unless it is installed."""
    from ray import cloudpickle

    func = getattr(trainable, "_function", trainable)
    module = sys.modules.get(getattr(func, "__module__", "") or "")
    if module is None or module.__name__ == "__main__" or _is_installed(module):
        return
    cloudpickle.register_pickle_by_value(module)
