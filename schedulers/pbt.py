"""Population Based Training, as pure exploit/explore decisions."""

from __future__ import annotations

import copy
import math
from typing import Any, Callable, Mapping, Optional, Sequence

from tuneflows.schedulers.metric_spec import MetricSpec
from tuneflows.schedulers.trial_scheduler import Decision, TrialScheduler, make_rng
from tuneflows.search.plain_data import plain_data
from tuneflows.trial import PAUSED, PENDING, TrialSnapshot


def _check_mutations(mutations: Mapping[str, Any], path: str = "hyperparam_mutations") -> None:
    for key, value in mutations.items():
        where = f"{path}[{key!r}]"
        if isinstance(value, Mapping):
            _check_mutations(value, where)
        elif isinstance(value, (list, tuple)):
            if not value:
                raise ValueError(f"{where} is an empty list; give at least one value.")
        elif not (hasattr(value, "sample") or callable(value)):
            raise ValueError(
                f"{where} must be a list, a callable or a search-space domain, got {value!r}."
            )


class PopulationBasedTraining(TrialScheduler):
    """PBT: bad trials continue from a good trial's checkpoint with a perturbed config.

    Every ``perturbation_interval`` of a trial's ``time_attr``, the live trials with a
    score are ranked by their last score. A trial in the bottom ``quantile_fraction``
    *exploits*: it gets ``Decision(CONTINUE, clone_from=donor, new_config=...)``, the
    donor drawn uniformly from the top ``quantile_fraction`` trials that have a
    checkpoint. The flow restores the donor's latest checkpoint into the trial and
    continues it with ``new_config``. *Explore* perturbs the donor's config: for each
    key of ``hyperparam_mutations``, with probability ``resample_probability`` (or when
    the current value cannot be perturbed) a new value is drawn (a list: uniformly; a
    callable: ``fn()``; a search-space domain: ``domain.sample(rng)``); otherwise a
    number is multiplied by 0.8 or 1.2 (ints are truncated with ``int()``) and a list
    value moves to a neighbouring entry. ``custom_explore_fn(config)`` is then applied.
    A top-quantile trial gets ``save_checkpoint=True`` so it can serve as a donor.

    Decision points: ``next_decision_point`` is the trial's last perturbation time plus
    ``perturbation_interval`` (after a clone, the donor's last perturbation time is
    inherited, as restoring its checkpoint restores its ``time_attr``).
    ``choose_trial_to_run`` picks the PENDING/PAUSED trial that is furthest behind in
    ``time_attr``. Every perturbation is kept in :attr:`perturbations` and its reason
    names the trial, the donor, and the old and new config.

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
        >>> pbt = PopulationBasedTraining(time_attr="training_iteration", metric="acc",
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
        _check_mutations(hyperparam_mutations)
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
        self._spec = MetricSpec.resolve(metric, mode, reward_attr, "episode_reward_mean")
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
        })
        info["config"] = plain_data(trial.config)
        info["has_checkpoint"] = bool(trial.has_checkpoint)
        return info

    def on_trial_add(self, trial: TrialSnapshot) -> None:
        self._info(trial)

    def quantiles(self) -> tuple[list[str], list[str]]:
        """Trial ids in the bottom and the top quantile of last scores (live trials)."""
        scored = [(info["last_score"], i, tid) for i, (tid, info) in enumerate(self._trials.items())
                  if info["status"] == "live" and info["last_score"] is not None]
        if len(scored) <= 1:
            return [], []
        scored.sort()
        num = min(math.ceil(len(scored) * self._quantile), len(scored) // 2)
        return [x[2] for x in scored[:num]], [x[2] for x in scored[-num:]]

    def on_trial_result(self, trial: TrialSnapshot, result: Mapping[str, Any]) -> Decision:
        info = self._info(trial)
        t = self._time_of(result)
        if self._spec.metric in result:
            info["last_score"] = self._spec.score(result)
        if info["status"] != "live" or t - info["last_perturbation_time"] < self._interval:
            return Decision(self.CONTINUE)
        info["last_perturbation_time"] = t
        self._spec.score(result)  # a decision point needs the metric: fail clearly if absent
        lower, upper = self.quantiles()
        if trial.trial_id in upper:
            return Decision(self.CONTINUE, save_checkpoint=True)
        donors = [u for u in upper if self._trials[u]["has_checkpoint"]]
        if trial.trial_id not in lower or not donors:
            return Decision(self.CONTINUE)
        donor = donors[int(self._rng.integers(len(donors)))]
        dinfo = self._trials[donor]
        old_config, new_config = info["config"], self.explore(dinfo["config"])
        reason = (
            f"perturbed at {self._time_attr}={t:g}: {trial.trial_id} ({self.metric} "
            f"{self._spec.show(info['last_score'])}, bottom {self._quantile:.0%}) cloned "
            f"{donor} ({self.metric} {self._spec.show(dinfo['last_score'])}, top "
            f"{self._quantile:.0%}); config {old_config} -> {new_config}"
        )
        self._perturbations.append({
            "time": t, "trial_id": trial.trial_id, "donor": donor,
            "old_config": old_config, "new_config": copy.deepcopy(new_config),
        })
        # Until its next result the clone is neither ranked nor a donor: the flow has yet
        # to restore the donor's checkpoint into it.
        info.update(config=copy.deepcopy(new_config), last_score=None, has_checkpoint=False,
                    last_perturbation_time=dinfo["last_perturbation_time"])
        return Decision(self.CONTINUE, reason, clone_from=donor, new_config=new_config)

    # Explore ----------------------------------------------------------------------

    def explore(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """A perturbed copy of ``config`` (mutations, then ``custom_explore_fn``)."""
        new = copy.deepcopy(plain_data(config))
        self._mutate(new, self._mutations)
        if self._explore_fn is not None:
            new = self._explore_fn(new)
            if not isinstance(new, Mapping):
                raise ValueError(f"custom_explore_fn must return a config dict, got {new!r}.")
        return plain_data(new)

    def _sample(self, spec: Any) -> Any:
        return plain_data(spec.sample(self._rng) if hasattr(spec, "sample") else spec())

    def _mutate(self, config: dict[str, Any], mutations: Mapping[str, Any]) -> None:
        for key, spec in mutations.items():
            if isinstance(spec, Mapping):
                if not isinstance(config.get(key), dict):
                    config[key] = {}
                self._mutate(config[key], spec)
                continue
            resample = self._rng.random() < self._resample_p
            current = config.get(key)
            if isinstance(spec, (list, tuple)):
                values = plain_data(list(spec))
                if resample or current not in values:
                    config[key] = values[int(self._rng.integers(len(values)))]
                else:
                    step = int(self._rng.choice([-1, 1]))
                    index = min(max(values.index(current) + step, 0), len(values) - 1)
                    config[key] = values[index]
            elif resample or isinstance(current, bool) or not isinstance(current, (int, float)):
                config[key] = self._sample(spec)
            else:
                factor = float(self._rng.choice([0.8, 1.2]))
                new = current * factor
                config[key] = int(new) if isinstance(current, int) else new

    # Lifecycle and flow queries ---------------------------------------------------

    def _end(self, trial: TrialSnapshot) -> None:
        self._info(trial)["status"] = "ended"

    def on_trial_error(self, trial: TrialSnapshot) -> None:
        self._end(trial)

    def on_trial_complete(self, trial: TrialSnapshot, result: Optional[Mapping[str, Any]]) -> None:
        self._end(trial)

    def on_trial_remove(self, trial: TrialSnapshot) -> None:
        self._end(trial)

    def next_decision_point(self, trial: TrialSnapshot) -> Optional[float]:
        """The trial's last perturbation time plus ``perturbation_interval``."""
        info = self._trials.get(trial.trial_id)
        if info is None:
            return self._interval
        return None if info["status"] != "live" else info["last_perturbation_time"] + self._interval

    def choose_trial_to_run(self, trials: Sequence[TrialSnapshot]) -> Optional[str]:
        """The PENDING or PAUSED trial furthest behind in ``time_attr``."""
        candidates = [t for t in trials if t.status in (PENDING, PAUSED)]
        if not candidates:
            return None
        return min(candidates, key=self._snapshot_time).trial_id

    def debug_string(self) -> str:
        return (f"Using PopulationBasedTraining: {len(self._perturbations)} perturbations, "
                f"interval {self._interval:g} {self._time_attr}.")
