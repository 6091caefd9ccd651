"""The pure trial-scheduler interface every scheduler implements.

A scheduler reads frozen :class:`~tuneflows.trial.TrialSnapshot` objects and results
and returns :class:`Decision` objects. It never calls Ray, Prefect, MLflow or the
filesystem: the experiment flow carries its decisions out.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Mapping, Optional, Sequence

import numpy as np

from tuneflows.model.settings import SETTINGS_ATTR, KeepsSettings
from tuneflows.trial import PAUSED, PENDING, TrialSnapshot

if TYPE_CHECKING:
    from tuneflows.search import Searcher

_ACTIONS = ("CONTINUE", "PAUSE", "STOP")


@dataclass(frozen=True)
class Decision:
    """What the flow does with a trial after a result.

    Attributes:
        action: ``TrialScheduler.CONTINUE``, ``PAUSE`` or ``STOP``.
        reason: Human-readable why, shown in the status table and the trial's record
            (e.g. ``"stopped at rung 9: 0.71 < cutoff 0.78"``). Empty for a plain CONTINUE.
        clone_from: For PBT exploit: the trial id whose latest checkpoint this trial
            continues from. The flow restores that checkpoint into this trial.
        new_config: For PBT explore: the configuration this trial continues with
            (required together with ``clone_from``).
        save_checkpoint: Ask the flow to checkpoint this trial at the end of the round
            (before continuing), so that others can clone it (PBT's upper quantile).
        budget_spent: With STOP: the trial spent the whole budget the scheduler gives a
            trial (ASHA's ``max_t``, the end of a HyperBand bracket), so it ends
            completed, not stopped early.

    Example:
        >>> from tuneflows.schedulers import Decision, TrialScheduler
        >>> Decision(TrialScheduler.STOP, reason="stopped at rung 9").action
        'STOP'
        >>> Decision("CONTINUE", clone_from="t1", new_config={"lr": 0.02}).clone_from
        't1'
        >>> Decision("KILL")
        Traceback (most recent call last):
        ...
        ValueError: Decision action must be one of ('CONTINUE', 'PAUSE', 'STOP'), got action='KILL'.
    """

    action: str
    reason: str = ""
    clone_from: Optional[str] = None
    new_config: Optional[Mapping[str, Any]] = None
    save_checkpoint: bool = False
    budget_spent: bool = False

    def __post_init__(self) -> None:
        if self.action not in _ACTIONS:
            raise ValueError(
                f"Decision action must be one of {_ACTIONS}, got action={self.action!r}."
            )
        if self.clone_from is not None and self.new_config is None:
            raise ValueError(f"A clone decision needs new_config (clone_from={self.clone_from!r}).")


class TrialScheduler(KeepsSettings):
    """Base class of trial schedulers: decides continue / pause / stop between rounds.

    Subclasses override the ``on_*`` hooks they need, :meth:`next_decision_point` so
    the flow can size rounds, :meth:`choose_trial_to_run` when they order trials, and
    :meth:`make_searcher` when they choose the trials' configs too.

    The flow calls, for each trial: :meth:`on_trial_add` once; :meth:`on_trial_result`
    for every result in order (the decision returned for the round's last result is
    applied); then exactly one of :meth:`on_trial_complete`, :meth:`on_trial_error` or
    :meth:`on_trial_remove`; a trial that ended in ERROR and runs again on a resume
    gets :meth:`on_trial_rerun`, and its results again. After applying decisions it calls
    :meth:`paused_trials_to_stop` and stops the trials it names (a synchronous
    scheduler decides the fate of PAUSED trials when another trial's result completes
    a rung).

    State: subclasses list their mutable attributes in ``_STATE_ATTRS``;
    :meth:`get_state` returns only those (plain, JSON-serialisable data, the RNG as its
    bit-generator state) and never the constructor's configuration, so a resumed
    experiment keeps the arguments it was constructed with (keras-tuner#803).

    Example:
        >>> from tuneflows.schedulers import Decision, TrialScheduler
        >>> from tuneflows.trial import TrialSnapshot
        >>> class StopAtThree(TrialScheduler):
        ...     def on_trial_result(self, trial, result):
        ...         if result["training_iteration"] >= 3:
        ...             return Decision(self.STOP, "reached 3 iterations")
        ...         return Decision(self.CONTINUE)
        >>> s = StopAtThree()
        >>> t = TrialSnapshot.make("t0", {})
        >>> [s.on_trial_result(t, {"training_iteration": i}).action for i in (1, 3)]
        ['CONTINUE', 'STOP']
        >>> s.choose_trial_to_run([t]), s.make_searcher({"lr": 0.1}, num_samples=4)
        ('t0', None)
    """

    CONTINUE: ClassVar[str] = "CONTINUE"
    PAUSE: ClassVar[str] = "PAUSE"
    STOP: ClassVar[str] = "STOP"

    #: Names of the attributes holding mutable state; None means "everything in
    #: ``__dict__`` except ``_cfg_*``" (for user subclasses that do not declare them).
    _STATE_ATTRS: ClassVar[Optional[tuple[str, ...]]] = None

    metric: Optional[str] = None
    mode: str = "max"

    def make_searcher(
        self, experiment_config: Optional[Mapping[str, Any]], num_samples: int
    ) -> Optional["Searcher"]:
        """The searcher this scheduler brings for an experiment, or None (the default).

        The flow calls it once per experiment when no ``search_alg`` was given. None
        means the experiment's trials come from its config's grid × samples variants;
        a scheduler that picks the trials itself (``HyperOptScheduler``) returns a
        searcher that ends after ``num_samples`` suggestions.

        Args:
            experiment_config: The experiment's ``config``, as in its spec.
            num_samples: The experiment's ``num_samples`` (the seed's ``repeat``).
        """
        return None

    def set_search_properties(self, metric: Optional[str], mode: Optional[str]) -> bool:
        """Gives a scheduler built without a metric the experiment's ``metric`` and
        ``mode`` (Ray Tune's ``tune.run(metric=..., mode=...)`` with
        ``ASHAScheduler(max_t=...)``). Schedulers that rank by a metric keep it as a
        :class:`~tuneflows.schedulers.MetricSpec` in ``_spec``.

        Returns:
            False when the scheduler has another metric (or mode) of its own; else True
            (it took ``metric``, had it already, or ranks by no metric).

        Example:
            >>> from tuneflows.schedulers import AsyncHyperBandScheduler
            >>> asha = AsyncHyperBandScheduler(max_t=9, grace_period=1)
            >>> asha.set_search_properties("loss", "min"), asha.metric, asha.mode
            (True, 'loss', 'min')
            >>> asha.set_search_properties("acc", "max")
            False
        """
        spec = getattr(self, "_spec", None)
        if spec is None or metric is None:
            return True
        if spec.given:
            return spec.metric == metric and (mode is None or spec.mode == mode)
        self._spec = type(spec)(metric, mode or "max")
        self.metric, self.mode = self._spec.metric, self._spec.mode
        return True

    def on_trial_add(self, trial: TrialSnapshot) -> None:
        """Called when a trial is added to the experiment."""

    def on_trial_result(self, trial: TrialSnapshot, result: Mapping[str, Any]) -> Decision:
        """Called for each result; returns the decision for the trial."""
        return Decision(self.CONTINUE)

    def on_trial_error(self, trial: TrialSnapshot) -> None:
        """Called when a trial ends in ERROR."""

    def on_trial_complete(self, trial: TrialSnapshot, result: Optional[Mapping[str, Any]]) -> None:
        """Called when a trial ends normally (returned, or reached its stop criterion)."""

    def on_trial_remove(self, trial: TrialSnapshot) -> None:
        """Called when the flow ends a trial because this scheduler said STOP."""

    def on_trial_rerun(self, trial: TrialSnapshot) -> None:
        """Called when a trial that ended in ERROR runs again (``resume="ERRORED_ONLY"``).

        The trial restarts from ``trial.last_result`` (the result of the checkpoint it
        restores; None: from its start). The scheduler forgets what it recorded of the
        trial after that point and judges the results that come next as a live trial's,
        at its decision points, against everything else it has recorded. The default
        does nothing.
        """

    def next_decision_point(self, trial: TrialSnapshot) -> Optional[float]:
        """The value of ``time_attr`` at which this scheduler next needs a result.

        The flow ends the trial's round at the first result whose ``time_attr`` reaches
        it, so no decision is made late and no round is shorter than it must be.

        Returns:
            A threshold, or None when any round length is fine.
        """
        return None

    @property
    def time_attr(self) -> str:
        """Result key that :meth:`next_decision_point` is measured in."""
        return getattr(self, "_time_attr", "training_iteration")

    def choose_trial_to_run(self, trials: Sequence[TrialSnapshot]) -> Optional[str]:
        """Picks which PENDING or PAUSED trial gets the next free slot.

        Args:
            trials: The experiment's unfinished trials (PENDING, RUNNING, PAUSED), in
                the order they were added; finished ones are not passed, so the cost
                of a choice does not grow as trials finish.

        Returns:
            A trial id, or None to start nothing now.
        """
        for status in (PENDING, PAUSED):
            for trial in trials:
                if trial.status == status:
                    return trial.trial_id
        return None

    def paused_trials_to_stop(self, trials: Sequence[TrialSnapshot]) -> dict[str, Decision]:
        """PAUSED trials this scheduler has decided to end, with a STOP decision each.

        The flow ends each one TERMINATED (recording the reason) and calls
        :meth:`on_trial_remove`. Schedulers that never stop a paused trial return ``{}``.

        Args:
            trials: The experiment's unfinished trials.
        """
        return {}

    def debug_string(self) -> str:
        """One line for the status table."""
        return f"Using {type(self).__name__}."

    def get_state(self) -> dict[str, Any]:
        """The scheduler's mutable state (not its constructor arguments), for resume."""
        if self._STATE_ATTRS is None:
            return copy.deepcopy(
                {k: v for k, v in self.__dict__.items()
                 if not k.startswith("_cfg_") and k != SETTINGS_ATTR}
            )
        state = {name: copy.deepcopy(getattr(self, name)) for name in self._STATE_ATTRS}
        if isinstance(state.get("_rng"), np.random.Generator):
            state["_rng"] = copy.deepcopy(state["_rng"].bit_generator.state)
        return state

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Restores state produced by :meth:`get_state` (of a scheduler of this class)."""
        state = copy.deepcopy(dict(state))
        if self._STATE_ATTRS is None:
            self.__dict__.update(state)
            return
        unknown = sorted(set(state) - set(self._STATE_ATTRS))
        if unknown:
            raise ValueError(
                f"{type(self).__name__}.set_state got unknown keys {unknown}; "
                f"expected {sorted(self._STATE_ATTRS)}."
            )
        for name, value in state.items():
            if name == "_rng" and isinstance(value, Mapping):
                rng = np.random.default_rng()
                rng.bit_generator.state = dict(value)
                value = rng
            setattr(self, name, value)

    # Helpers for subclasses -------------------------------------------------------

    def _time_of(self, result: Mapping[str, Any]) -> float:
        """The result's ``time_attr`` value; raises a KeyError naming the keys."""
        try:
            return float(result[self.time_attr])
        except KeyError:
            raise KeyError(
                f"{type(self).__name__} time_attr {self.time_attr!r} is not in the result; "
                f"reported keys: {sorted(result)}"
            ) from None

    def _snapshot_time(self, trial: TrialSnapshot) -> float:
        """``time_attr`` of the snapshot's last result, 0 before the first."""
        last = trial.last_result or {}
        return float(last.get(self.time_attr, 0.0))


def make_rng(seed: Optional[int]) -> np.random.Generator:
    """The scheduler's own RNG (never the global one)."""
    if seed is not None and (not isinstance(seed, (int, np.integer)) or isinstance(seed, bool)):
        raise ValueError(f"seed must be an int or None, got {seed=!r}.")
    return np.random.default_rng(seed)
