"""Checks of searcher arguments, raising an error that names the argument and its value.

Example:
    >>> metric_and_mode(None, None, reward_attr="episode_reward_mean")
    ('episode_reward_mean', 'max')
    >>> validate_max_concurrent(4), validate_max_concurrent(None)
    (4, None)
    >>> validate_max_concurrent(0, allow_none=False)
    Traceback (most recent call last):
    ...
    ValueError: max_concurrent must be an int >= 1, got 0.
"""

from __future__ import annotations

import warnings
from typing import Any, Mapping, Optional

from tuneflows.model.metric_mode import validate_mode

__all__ = ["validate_positive_int", "validate_max_concurrent", "metric_and_mode",
           "result_metric"]


def validate_positive_int(name: str, value: Any, allow_none: bool = False) -> Optional[int]:
    """Returns ``value`` if it is an int >= 1 (not a bool), or None when ``allow_none``.

    Raises:
        ValueError: naming ``name`` and ``value`` otherwise.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        expected = "None or an int >= 1" if allow_none else "an int >= 1"
        raise ValueError(f"{name} must be {expected}, got {value!r}.")
    return value


def validate_max_concurrent(max_concurrent: Any, allow_none: bool = True) -> Optional[int]:
    """Returns ``max_concurrent`` if it is an int >= 1, or None (no limit) when ``allow_none``.

    The one check of ``max_concurrent`` for ConcurrencyLimiter, HyperOptSearch and
    HyperOptScheduler.

    Raises:
        ValueError: naming the value otherwise.
    """
    return validate_positive_int("max_concurrent", max_concurrent, allow_none)


def warn_if_mode_missing(metric: Optional[str], mode: Optional[str], owner: str,
                         stacklevel: int = 3) -> None:
    """Warns that ``metric`` given without ``mode`` is maximised (the seed's
    ``reward_attr`` rule): a metric such as ``"loss"`` would otherwise be maximised
    silently. Ray Tune refuses the pair; tuneflows keeps the seed's default and says so.
    ``stacklevel`` points the warning at the caller's line (as :func:`warnings.warn`).

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     warn_if_mode_missing("loss", None, "AsyncHyperBandScheduler")
        >>> print(caught[0].message)
        AsyncHyperBandScheduler(metric='loss') without mode: 'loss' is maximised (mode='max'). Pass mode='min' to minimise it, or mode='max' to say so.
    """
    if metric is not None and mode is None:
        warnings.warn(f"{owner}(metric={metric!r}) without mode: {metric!r} is maximised "
                      f"(mode='max'). Pass mode='min' to minimise it, or mode='max' to say so.",
                      UserWarning, stacklevel=stacklevel)


def metric_and_mode(metric: Optional[str], mode: Optional[str],
                    reward_attr: Optional[str]) -> tuple[Optional[str], Optional[str]]:
    """Resolves the seed's ``reward_attr`` (a key to maximise) into ``(metric, mode)``.

    Without ``reward_attr``, ``(metric, mode)`` as given (None where not given).

    Raises:
        ValueError: for an invalid ``mode``, ``reward_attr`` with a different ``metric``, or
            ``reward_attr`` with ``mode="min"``.
    """
    validate_mode(mode, allow_none=True)
    if reward_attr is None:
        return metric, mode
    if metric is not None and metric != reward_attr:
        raise ValueError(
            f"give metric or reward_attr, not both: metric={metric!r}, "
            f"reward_attr={reward_attr!r}."
        )
    if mode == "min":
        raise ValueError(f"reward_attr={reward_attr!r} is maximised; use metric= with mode='min'.")
    return reward_attr, "max"


def result_metric(metric: str, trial_id: str, result: Mapping[str, Any], searcher: str) -> float:
    """The number ``result`` reports for ``metric``.

    Example:
        >>> result_metric("loss", "t1", {"loss": 2}, "HyperOptSearch")
        2.0

    Raises:
        ValueError: ``result`` lacks ``metric`` (naming the keys it has and ``searcher``)
            or holds something other than a number for it.
    """
    if metric not in result:
        raise ValueError(
            f"{searcher} optimises metric {metric!r}, but trial {trial_id!r} "
            f"reported {sorted(map(str, result))}; report {metric!r} or pass "
            f"metric= (reward_attr=) naming one of these."
        )
    try:
        return float(result[metric])
    except (TypeError, ValueError):
        raise ValueError(
            f"metric {metric!r} of trial {trial_id!r} must be a number, got "
            f"{result[metric]!r}."
        ) from None
