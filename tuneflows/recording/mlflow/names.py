"""MLflow's rules for metric, param and tag names and metric values, applied in the
driver before records reach the writer processes, so one bad name never costs the rest
of a batch.

The rules are those of ``mlflow/utils/validation.py`` (MLflow 3.17): a name holds only
alphanumerics, ``_ - . /``, spaces and (except on Windows) colons; it must not change
when read as a path (no leading ``/``, no ``//``, no ``.`` or ``..`` parts, no trailing
``/``) and is at most 250 characters long. A metric value is a finite float.
:class:`MlflowNames` replaces the characters MLflow refuses with ``_``, mends the path
forms, drops what it cannot mend, and warns once per name.

Example:
    >>> mlflow_key("acc@1"), mlflow_key("bad(key)"), mlflow_key("a//b/"), mlflow_key("x" * 300)
    ('acc_1', 'bad_key_', 'a/b', None)
    >>> names = MlflowNames()
    >>> names.metrics({"acc@1": 0.5, "loss": float("nan"), "big": 10 ** 400, "ok": 2})
    {'acc_1': 0.5, 'ok': 2.0}
"""

from __future__ import annotations

import logging
import math
import numbers
import os
import posixpath
import re
from typing import Any, Mapping, Optional

logger = logging.getLogger(__name__)

MAX_KEY_LENGTH = 250  # MLflow's MAX_ENTITY_KEY_LENGTH
MAX_PARAM_LENGTH = 6000  # MAX_PARAM_VAL_LENGTH
MAX_TAG_LENGTH = 8000  # MAX_TAG_VAL_LENGTH

_FORBIDDEN = re.compile(r"[^/\w.\- ]" if os.name == "nt" else r"[^/\w.\- :]")


def is_mlflow_key(name: str) -> bool:
    """Whether MLflow accepts ``name`` as a metric, param or tag name.

    Example:
        >>> is_mlflow_key("eval/acc_1"), is_mlflow_key("acc@1"), is_mlflow_key("/abs")
        (True, False, False)
    """
    if not name or len(name) > MAX_KEY_LENGTH or _FORBIDDEN.search(name):
        return False
    normal = posixpath.normpath(name)
    return normal == name and normal != "." and not normal.startswith(("..", "/"))


def mlflow_key(name: str) -> Optional[str]:
    """``name`` as MLflow accepts it: forbidden characters become ``_``, empty path
    parts are dropped, ``.``/``..`` parts become underscores; None when nothing valid
    remains or the name is longer than MLflow allows."""
    if is_mlflow_key(name):
        return name
    parts = [part for part in _FORBIDDEN.sub("_", str(name)).split("/") if part]
    parts = ["_" * len(part) if set(part) == {"."} else part for part in parts]
    key = "/".join(parts)
    if key.startswith(".."):
        key = "_" + key[1:]
    return key if is_mlflow_key(key) else None


def metric_number(value: Any) -> tuple[Optional[float], str]:
    """``(value as a float, "")`` for a number MLflow can store; ``(None, why)`` for a
    number it cannot (NaN, infinite, beyond float range); ``(None, "")`` for a value
    that is no metric at all (a bool, a string).

    Example:
        >>> metric_number(3), metric_number(True), metric_number(float("inf"))
        ((3.0, ''), (None, ''), (None, 'not finite'))
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None, ""
    try:
        number = float(value)
    except OverflowError:
        return None, "beyond the range of a float"
    if not math.isfinite(number):
        return None, "not finite"
    return number, ""


class MlflowNames:
    """Makes an experiment's names and metric values acceptable to MLflow, warning
    once per name it changes or drops (and once per metric whose value it skips)."""

    def __init__(self) -> None:
        self._keys: dict[str, Optional[str]] = {}
        self._warned: set[tuple[str, str]] = set()

    def key(self, name: str, kind: str) -> Optional[str]:
        """The name MLflow will take for ``name`` (a ``kind``: metric, param or tag),
        or None when it is dropped."""
        known = self._keys.get(name, "")
        if known != "":
            return known
        key = self._keys[name] = mlflow_key(name)
        if key != name:
            fate = f"logged as {key!r}" if key else "dropped"
            self._warn(kind, name, f"MLflow rejects {kind} name {name!r} (its names hold "
                                   f"letters, digits, _ - . / : and spaces, at most "
                                   f"{MAX_KEY_LENGTH} characters): {fate}.")
        return key

    def metrics(self, values: Mapping[str, Any]) -> dict[str, float]:
        """The values MLflow can store as metrics, under names it accepts."""
        metrics: dict[str, float] = {}
        for name, value in values.items():
            number, problem = metric_number(value)
            if problem:
                shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
                self._warn("value", name, f"Metric {name!r} = {shown} is {problem}; "
                                          f"MLflow cannot store it, so it is skipped.")
            if number is not None:
                self._put(metrics, name, number, "metric")
        return metrics

    def strings(self, values: Mapping[str, Any], kind: str) -> dict[str, str]:
        """Params or tags (``kind``) as strings MLflow accepts, values cut to its limit."""
        limit = MAX_PARAM_LENGTH if kind == "param" else MAX_TAG_LENGTH
        strings: dict[str, str] = {}
        for name, value in values.items():
            self._put(strings, name, str(value)[:limit], kind)
        return strings

    def _put(self, into: dict[str, Any], name: str, value: Any, kind: str) -> None:
        key = self.key(name, kind)
        if key is None:
            return
        if key in into and key != name:
            self._warn(kind, name, f"{kind.capitalize()} {name!r} would be logged as "
                                   f"{key!r}, which another {kind} has: dropped.")
            return
        into[key] = value

    def _warn(self, kind: str, name: str, message: str) -> None:
        if (kind, name) not in self._warned:
            self._warned.add((kind, name))
            logger.warning(message)
