"""Population Based Training, as pure exploit/explore decisions."""

from __future__ import annotations

import copy
import math
from typing import Any, Callable, Mapping, Optional, Sequence

from tuneflows.schedulers.metric_spec import MetricSpec
from tuneflows.schedulers.pbt_explore import check_mutations, explore
from tuneflows.schedulers.trial_scheduler import Decision, TrialScheduler, make_rng
from tuneflows.model.plain_json import plain_data
from tuneflows.trial import PAUSED, PENDING, TrialSnapshot


class PopulationBasedTraining(TrialScheduler):
    """PBT: bad trials continue from a good trial's checkpoint with a perturbed config.

    Every ``perturbation_interval`` of a trial's ``time_attr``, the live trials are
    ranked by their scores at one time (:meth:`quantiles`). A trial in the bottom
    ``quantile_fraction`` *exploits*: it gets ``clone_from=donor, new_config=...``, the
    donor drawn uniformly from the top ``quantile_fraction``; the flow restores the
    donor's newest checkpoint into the trial and continues it with ``new_config``.
    *Explore* perturbs the donor's config by ``hyperparam_mutations`` (resample with
    ``resample_probability``, else multiply by 0.8 or 1.2 or move to a neighbouring
    list entry; see :func:`tuneflows.schedulers.pbt_explore.explore`), then applies
    ``custom_explore_fn``. A top-quantile trial gets ``save_checkpoint=True`` so it can
    serve as a donor.

    Donors: a trial is cloned only from a checkpoint taken at its latest perturbation
    check (saved because it was in the top quantile, or when it paused there), so the
    clone gets the state that earned the donor its rank, never an older one. A trial is
    exploited at most once per interval (``floor(time / perturbation_interval)``), also
    when restoring the donor's checkpoint takes its ``time_attr`` back.

    Time-multiplexing (the seed's "yield time to other trials"): after a perturbation
    check, a trial gets PAUSE (checkpointed, its slot freed) whenever other trials are
    PENDING or PAUSED, and ``choose_trial_to_run`` starts the PENDING/PAUSED trial
    furthest behind in ``time_attr``. A population larger than the free slots thus
    advances interval by interval, each trial ranked against the whole population.

    A trial that errored and runs again (``on_trial_rerun``) is live again from its
    restart point: its checks after it are forgotten.

    Decision points: ``next_decision_point`` is the trial's last perturbation time plus
    ``perturbation_interval`` (after a clone, the time of the donor's checkpoint, as
    restoring it restores its ``time_attr``). Every perturbation is kept in
    :attr:`perturbations` and its reason names the trial, the donor, and the old and new
    config.

    Args:
        time_attr: Result key measuring training progress.
        reward_attr: The seed's name for the metric to maximise.
        perturbation_interval: ``time_attr`` between two perturbations of a trial.
        hyperparam_mutations: ``{key: list | callable | domain | nested dict}``.
        resample_probability: Probability of resampling instead of perturbing.
        custom_explore_fn: ``fn(config) -> config`` applied after the mutations.
        metric: Modern spelling of ``reward_attr``.
        mode: ``"max"`` or ``"min"``.
        seed: Seed of the RNG used for donors and mutations.
        quantile_fraction: Size of the bottom/top quantiles (at most half the trials).

    Example:
        >>> from tuneflows.schedulers import PopulationBasedTraining
        >>> from tuneflows.trial import TrialSnapshot
        >>> pbt = PopulationBasedTraining(time_attr="training_iteration", metric="acc", mode="max",
        ...                               perturbation_interval=5,
        ...                               hyperparam_mutations={"lr": [0.001, 0.01, 0.1]},
        ...                               seed=0)
        >>> trials = [TrialSnapshot.make(f"t{i}", {"lr": 0.01}, has_checkpoint=True)
        ...           for i in range(4)]
        >>> for t in trials:
        ...     pbt.on_trial_add(t)
        >>> for t, acc in zip(trials, [0.9, 0.5, 0.7, 0.2]):
        ...     _ = pbt.on_trial_result(t, {"training_iteration": 4, "acc": acc})
        >>> d = pbt.on_trial_result(trials[3], {"training_iteration": 5, "acc": 0.2})
        >>> d.action, d.clone_from, d.new_config in ({"lr": 0.001}, {"lr": 0.01}, {"lr": 0.1})
        ('CONTINUE', 't0', True)

    Reference:
        Jaderberg et al., "Population Based Training of Neural Networks",
        arXiv:1711.09846, 2017.
    """

    _STATE_ATTRS = ("_trials", "_perturbations", "_rng")

    def __init__(
        self,
        time_attr: str = "time_total_s",
        reward_attr: str = "episode_reward_mean",
        perturbation_interval: float = 60.0,
        hyperparam_mutations: Optional[Mapping[str, Any]] = None,
        resample_probability: float = 0.25,
        custom_explore_fn: Optional[Callable[[dict], dict]] = None,
        metric: Optional[str] = None,
        mode: Optional[str] = None,
        seed: Optional[int] = None,
        quantile_fraction: float = 0.25,
    ) -> None:
        hyperparam_mutations = dict(hyperparam_mutations or {})
        if not hyperparam_mutations and custom_explore_fn is None:
            raise ValueError(
                "PopulationBasedTraining needs hyperparam_mutations or custom_explore_fn "
                f"(got {hyperparam_mutations=}, {custom_explore_fn=})."
            )
        check_mutations(hyperparam_mutations)
        if custom_explore_fn is not None and not callable(custom_explore_fn):
            raise ValueError(f"custom_explore_fn must be callable, got {custom_explore_fn=!r}.")
        if not perturbation_interval > 0:
            raise ValueError(f"perturbation_interval must be > 0, got {perturbation_interval=}.")
        if not 0 <= resample_probability <= 1:
            raise ValueError(
                f"resample_probability must be in [0, 1], got {resample_probability=}."
            )
        if not 0 < quantile_fraction <= 0.5:
            raise ValueError(f"quantile_fraction must be in (0, 0.5], got {quantile_fraction=}.")
        self._time_attr = time_attr
        self._spec = MetricSpec.resolve(metric, mode, reward_attr, "episode_reward_mean",
                                 type(self).__name__)
        self.metric, self.mode = self._spec.metric, self._spec.mode
        self._interval = float(perturbation_interval)
        self._mutations = hyperparam_mutations
        self._resample_p = float(resample_probability)
        self._explore_fn = custom_explore_fn
        self._quantile = float(quantile_fraction)
        # trial_id -> {"status", "config", "has_checkpoint", "last_score", "last_perturbation_time"}
        self._trials: dict[str, dict[str, Any]] = {}
        self._perturbations: list[dict[str, Any]] = []
        self._rng = make_rng(seed)

    @property
    def perturbations(self) -> list[dict[str, Any]]:
        """Every exploit so far: time, trial, donor, old_config, new_config."""
        return copy.deepcopy(self._perturbations)

    def _info(self, trial: TrialSnapshot) -> dict[str, Any]:
        info = self._trials.setdefault(trial.trial_id, {
            "status": "live", "config": {}, "has_checkpoint": False, "last_score": None,
            "last_perturbation_time": 0.0,
            "waiting": True,  # PENDING or PAUSED: it waits for a slot
            "checkpoint_time": None,  # time of the checkpoint asked at a check
            "exploited_interval": None,  # floor(time / interval) of its last exploit
            "check_scores": [],  # [time, score] at its checks that rankings may still use
        })
        info["config"] = plain_data(trial.config)
        info["has_checkpoint"] = bool(trial.has_checkpoint)
        return info

    def on_trial_add(self, trial: TrialSnapshot) -> None:
        self._info(trial)

    def _is_donor(self, trial_id: str) -> bool:
        """Whether the trial's newest checkpoint is from its latest check."""
        info = self._trials[trial_id]
        if not info["has_checkpoint"]:
            return False
        taken = info.get("checkpoint_time")
        return info["last_perturbation_time"] == 0 or (
            taken is not None and taken >= info["last_perturbation_time"])

    def _others_wait(self, trial_id: str) -> int:
        return sum(1 for tid, info in self._trials.items() if tid != trial_id
                   and info["status"] == "live" and info.get("waiting"))

    def _horizon(self) -> Optional[float]:
        """The time every checked live trial has reached: its earliest latest check."""
        latest = [info["check_scores"][-1][0] for info in self._trials.values()
                  if info["status"] == "live" and info.get("check_scores")]
        return min(latest) if latest else None

    def _ranking_score(self, info: Mapping[str, Any], horizon: Optional[float]) -> Optional[float]:
        history = info.get("check_scores")
        if not history or horizon is None:
            return info["last_score"]
        at = [score for time, score in history if time <= horizon]
        return at[-1] if at else None

    def quantiles(self) -> tuple[list[str], list[str]]:
        """Trial ids in the bottom and the top quantile of the live trials' scores.

        Trials are compared at one time, as a population advancing interval by interval
        is: each by its score at its latest check not after the earliest latest check of
        the population (a trial not yet checked: by its last score).
        """
        horizon = self._horizon()
        scored = [(score, i, tid) for i, (tid, info) in enumerate(self._trials.items())
                  if info["status"] == "live"
                  and (score := self._ranking_score(info, horizon)) is not None]
        if len(scored) <= 1:
            return [], []
        scored.sort()
        num = min(math.ceil(len(scored) * self._quantile), len(scored) // 2)
        return [x[2] for x in scored[:num]], [x[2] for x in scored[-num:]]

    def on_trial_result(self, trial: TrialSnapshot, result: Mapping[str, Any]) -> Decision:
        info = self._info(trial)
        info["waiting"] = False
        t = self._time_of(result)
        if self._spec.metric in result:
            info["last_score"] = self._spec.score(result)
        if info["status"] != "live" or t - info["last_perturbation_time"] < self._interval:
            return Decision(self.CONTINUE)
        info["last_perturbation_time"] = t
        score = self._spec.score(result)  # a decision point needs the metric
        info["check_scores"] = self._kept_checks(info.get("check_scores") or []) + [[t, score]]
        decision = self._exploit_or_continue(trial.trial_id, info, t)
        waiting = self._others_wait(trial.trial_id)
        if not waiting:
            return decision
        # Yield the slot: the loop checkpoints the trial (the clone, if exploited) and
        # starts the trial furthest behind.
        info.update(waiting=True, checkpoint_time=info["last_perturbation_time"])
        reason = decision.reason or (f"paused at {self._time_attr}={t:g}: yields its slot to "
                                     f"{waiting} waiting trial(s)")
        return Decision(self.PAUSE, reason, clone_from=decision.clone_from,
                        new_config=decision.new_config)

    def _kept_checks(self, history: list[list[float]]) -> list[list[float]]:
        """The checks a ranking can still use: from the last one not after the horizon."""
        horizon = self._horizon()
        if horizon is None:
            return list(history)
        older = [i for i, (time, _) in enumerate(history) if time <= horizon]
        return list(history[older[-1]:]) if older else list(history)

    def _exploit_or_continue(self, trial_id: str, info: dict[str, Any], t: float) -> Decision:
        """The decision at a perturbation check: clone a top trial (bottom quantile),
        checkpoint (top quantile), or continue."""
        lower, upper = self.quantiles()
        if trial_id in upper:
            info["checkpoint_time"] = t
            return Decision(self.CONTINUE, save_checkpoint=True)
        interval = math.floor(t / self._interval + 1e-9)
        exploited = info.get("exploited_interval")
        donors = [u for u in upper if self._is_donor(u)]
        if (trial_id not in lower or not donors
                or (exploited is not None and interval <= exploited)):
            return Decision(self.CONTINUE)
        info["exploited_interval"] = interval
        donor = donors[int(self._rng.integers(len(donors)))]
        dinfo = self._trials[donor]
        old_config, new_config = info["config"], self.explore(dinfo["config"])
        horizon = self._horizon()
        mine, theirs = (self._ranking_score(i, horizon) for i in (info, dinfo))
        reason = (
            f"perturbed at {self._time_attr}={t:g}: {trial_id} ({self.metric} "
            f"{self._spec.show(mine)}, bottom {self._quantile:.0%}) cloned "
            f"{donor} ({self.metric} {self._spec.show(theirs)}, top "
            f"{self._quantile:.0%}); config {old_config} -> {new_config}"
        )
        self._perturbations.append({
            "time": t, "trial_id": trial_id, "donor": donor,
            "old_config": old_config, "new_config": copy.deepcopy(new_config),
        })
        # Restoring the donor's checkpoint brings the trial's time (and score, for the
        # rankings) to the donor's check; until the flow has checkpointed the clone, it
        # is no donor.
        checked = dinfo["last_perturbation_time"]
        info.update(config=copy.deepcopy(new_config), last_score=None, has_checkpoint=False,
                    last_perturbation_time=checked,
                    check_scores=[c for c in dinfo.get("check_scores", []) if c[0] <= checked])
        return Decision(self.CONTINUE, reason, clone_from=donor, new_config=new_config)

    # Explore ----------------------------------------------------------------------

    def explore(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """A perturbed copy of ``config`` (mutations, then ``custom_explore_fn``)."""
        return explore(config, self._mutations, self._resample_p, self._explore_fn, self._rng)

    # Lifecycle and flow queries ---------------------------------------------------

    def _end(self, trial: TrialSnapshot) -> None:
        self._info(trial)["status"] = "ended"

    def on_trial_error(self, trial: TrialSnapshot) -> None:
        self._end(trial)

    def on_trial_complete(self, trial: TrialSnapshot, result: Optional[Mapping[str, Any]]) -> None:
        self._end(trial)

    def on_trial_remove(self, trial: TrialSnapshot) -> None:
        self._end(trial)

    def on_trial_rerun(self, trial: TrialSnapshot) -> None:
        """The trial is live again from its restart point: its checks after it are
        dropped, and its next check is ``perturbation_interval`` after its last one."""
        info = self._info(trial)
        start = self._snapshot_time(trial)
        checks = [c for c in info.get("check_scores") or [] if c[0] <= start]
        last = trial.last_result or {}
        info.update(status="live", waiting=True, check_scores=checks,
                    last_perturbation_time=checks[-1][0] if checks else 0.0,
                    last_score=(self._spec.score(last) if self._spec.metric in last else None))
        if (info.get("checkpoint_time") or 0.0) > start:
            info["checkpoint_time"] = None
        exploited = info.get("exploited_interval")
        if exploited is not None and exploited * self._interval > start:
            info["exploited_interval"] = None

    def next_decision_point(self, trial: TrialSnapshot) -> Optional[float]:
        """The trial's last perturbation time plus ``perturbation_interval``."""
        info = self._trials.get(trial.trial_id)
        if info is None:
            return self._interval
        return None if info["status"] != "live" else info["last_perturbation_time"] + self._interval

    def choose_trial_to_run(self, trials: Sequence[TrialSnapshot]) -> Optional[str]:
        """The PENDING or PAUSED trial furthest behind in ``time_attr`` (by its last
        check), so that the population advances together."""
        for t in trials:  # what the flow did since: paused (and checkpointed), started
            if t.trial_id in self._trials:
                self._info(t)["waiting"] = t.status in (PENDING, PAUSED)
        candidates = [t for t in trials if t.status in (PENDING, PAUSED)]
        if not candidates:
            return None
        chosen = min(candidates, key=self._progress).trial_id
        if chosen in self._trials:
            self._trials[chosen]["waiting"] = False
        return chosen

    def _progress(self, trial: TrialSnapshot) -> float:
        """How far the trial is in ``time_attr``: its last check (a clone's is the time
        its restored checkpoint is at, not its last result's)."""
        info = self._trials.get(trial.trial_id)
        return info["last_perturbation_time"] if info else self._snapshot_time(trial)

    def debug_string(self) -> str:
        return (f"Using PopulationBasedTraining: {len(self._perturbations)} perturbations, "
                f"interval {self._interval:g} {self._time_attr}.")
