"""How a scheduler reads its metric: the result key, ``"max"`` or ``"min"``, signed scores."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from tuneflows.model.metric_mode import validate_mode
from tuneflows.search.argument_checks import warn_if_mode_missing


@dataclass
class MetricSpec:
    """Resolves the seed's ``reward_attr`` and the modern ``metric``/``mode`` spellings.

    Scores are signed so that larger is always better, whatever the mode.

    Attributes:
        metric: The result key.
        mode: ``"max"`` or ``"min"``.
        sign: ``1.0`` for ``"max"``, ``-1.0`` for ``"min"``.
        given: Whether the scheduler's caller named the metric (``metric=`` or a
            ``reward_attr`` other than the default); one not given takes the
            experiment's (Ray Tune's ``tune.run(metric=..., mode=...)``).

    Example:
        >>> from tuneflows.schedulers import MetricSpec
        >>> spec = MetricSpec.resolve("loss", "min", None, "episode_reward_mean")
        >>> spec.score({"loss": 0.25}), spec.show(-0.25)
        (-0.25, '0.25')
        >>> MetricSpec.resolve(None, None, "episode_reward_mean", "episode_reward_mean").mode
        'max'
    """

    metric: str
    mode: str = "max"
    given: bool = True
    sign: float = field(init=False)

    def __post_init__(self) -> None:
        validate_mode(self.mode)
        self.sign = 1.0 if self.mode == "max" else -1.0

    @classmethod
    def resolve(
        cls, metric: Optional[str], mode: Optional[str], reward_attr: Optional[str], default: str,
        owner: str = "scheduler",
    ) -> "MetricSpec":
        """Picks ``metric``/``mode`` when given, else ``reward_attr`` (maximised).

        ``reward_attr`` equal to ``default`` counts as not given, so that
        ``Scheduler(metric="loss", mode="min")`` works with the seed's default
        ``reward_attr="episode_reward_mean"``. ``metric`` without ``mode`` is maximised,
        with a warning naming ``owner`` (the scheduler's class).
        """
        if metric is not None and reward_attr not in (None, default, metric):
            raise ValueError(
                f"Give either metric={metric!r} or reward_attr={reward_attr!r}, not both."
            )
        if mode is not None:
            validate_mode(mode)
        warn_if_mode_missing(metric, mode, owner, stacklevel=4)
        name = metric or reward_attr or default
        given = metric is not None or reward_attr not in (None, default)
        return cls(name, mode or "max", given=given)

    def score(self, result: Mapping[str, Any]) -> float:
        """The result's value, signed so that larger is always better (NaN is worst)."""
        if self.metric not in result:
            raise KeyError(
                f"Scheduler metric {self.metric!r} is not in the result; reported keys: "
                f"{sorted(result)}"
            )
        value = self.sign * float(result[self.metric])
        return -math.inf if math.isnan(value) else value

    def show(self, score: float) -> str:
        """A signed score back in the metric's own units, formatted."""
        return f"{self.sign * score:.4g}"
