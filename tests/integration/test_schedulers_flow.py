"""Every trial scheduler, end to end on real Ray + Prefect (the ``tune_env`` fixture).

Each test runs a small experiment of a checkpointable class Trainable whose iterations
take a few ms, then reads the trials returned by ``run_experiments`` and the records
in each trial's logdir (``result.json``, ``events.json``, ``params.json``) to check
that the scheduler's decisions were carried out: early stops (ASHA, median), pauses
resumed from checkpoints (HyperBand) and clones of donors' checkpoints with perturbed
configs (PBT).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time

import pytest
import ray.cloudpickle

import tuneflows
from tuneflows.schedulers import (
    SCHEDULERS,
    AsyncHyperBandScheduler,
    HyperBandScheduler,
    MedianStoppingRule,
    PopulationBasedTraining,
    create_scheduler,
)
from tuneflows.trial import TERMINATED

MAX_T = 9

# pytest imports this file from a path Ray's workers do not have: ship the trainable
# class by value rather than as a reference to this module.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


class Curve(tuneflows.Trainable):
    """A learning curve ``acc = 1 - exp(-rate * step / 4)`` (and ``loss = 1 - acc``).

    Its state is ``step`` (advanced by the config's ``rate`` each iteration, so a
    perturbed rate changes the slope from where a clone resumed) and ``lineage`` (the
    trial ids whose checkpoints this state went through). ``restored_from`` reports the
    iteration of the checkpoint the trainable was last restored from (0: never).
    """

    def _setup(self, config):
        self.step = 0.0
        self.lineage = [self.trial_id]
        self.restored_from = 0

    def _train(self):
        time.sleep(0.003)
        self.step += self.config["rate"]
        acc = 1 - math.exp(-self.step / 4)
        return {"acc": acc, "loss": 1 - acc, "lineage": list(self.lineage),
                "restored_from": self.restored_from}

    def _save(self, checkpoint_dir):
        return {"step": self.step, "lineage": list(self.lineage), "iteration": self.iteration}

    def _restore(self, state):
        self.step = state["step"]
        self.lineage = list(state["lineage"])
        if self.lineage[-1] != self.trial_id:
            self.lineage.append(self.trial_id)
        self.restored_from = state["iteration"]


def _run(scheduler, rates, *, stop=MAX_T, **spec):
    """Runs ``Curve`` over a grid of ``rates`` (in order) under ``scheduler``."""
    experiment = {
        "run": Curve,
        "stop": {"training_iteration": stop},
        "config": {"rate": tuneflows.grid_search(list(rates))},
        "resources_per_trial": {"cpu": 1, "gpu": 0},
    }
    experiment.update(spec)
    trials = tuneflows.run_experiments({"sched": experiment}, scheduler=scheduler, verbose=False)
    assert len(trials) == len(rates)
    return sorted(trials, key=lambda t: t.trial_id)


def _results(trial):
    with open(os.path.join(trial.logdir, "result.json")) as f:
        return [json.loads(line) for line in f if line.strip()]


def _events(trial):
    path = os.path.join(trial.logdir, "events.json")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def _params(trial):
    with open(os.path.join(trial.logdir, "params.json")) as f:
        return json.load(f)


def _assert_all_ended(trials):
    for trial in trials:
        assert trial.status == TERMINATED, (trial.name, trial.status, trial.error_msg)
        assert trial.last_result is not None and trial.last_result["done"] is True


def _scheduler_for(name):
    """A small instance of each registered scheduler, built by name with kwargs."""
    kwargs = {
        "fifo": {},
        "median": dict(time_attr="training_iteration", metric="acc", mode="max",
                       grace_period=2, min_samples_required=1),
        "asha": dict(metric="acc", mode="max", max_t=MAX_T, grace_period=1, brackets=1),
        "async_hyperband": dict(metric="acc", mode="max", max_t=MAX_T, grace_period=1),
        "hyperband": dict(metric="acc", mode="max", max_t=MAX_T),
        "pbt": dict(time_attr="training_iteration", metric="acc", mode="max",
                    perturbation_interval=3, hyperparam_mutations={"rate": [0.5, 1.0, 2.0]}),
    }[name]
    return create_scheduler(name, seed=0, **kwargs)


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_each_registered_scheduler_runs_an_experiment_to_the_end(tune_env, name):
    trials = _run(_scheduler_for(name), [2.0, 1.0, 0.5, 0.25])
    _assert_all_ended(trials)
    for trial in trials:
        iters = [r["training_iteration"] for r in _results(trial)]
        assert iters and iters[-1] == trial.iteration <= MAX_T
        assert trial.last_result["trial_id"] == trial.trial_id
    # The best configuration always gets the full budget.
    assert max(t.iteration for t in trials) == MAX_T


def test_asha_stops_bad_trials_early_with_a_reason(tune_env):
    scheduler = AsyncHyperBandScheduler(metric="acc", mode="max", max_t=MAX_T, grace_period=1,
                                        reduction_factor=3, brackets=1, seed=0)
    # Good trials first, so the rungs are populated when the bad ones report.
    trials = _run(scheduler, [2.0, 1.5, 1.0, 0.2, 0.1, 0.05])
    _assert_all_ended(trials)
    early = [t for t in trials if t.iteration < MAX_T]
    assert early, [(t.name, t.iteration) for t in trials]
    for trial in early:
        assert trial.status_reason.startswith("stopped at rung"), trial.status_reason
        assert "cutoff" in trial.status_reason
        assert trial.last_result.get("early_stopped") is True
        assert _events(trial)[-1]["event"] == "terminated"
        assert _events(trial)[-1]["reason"] == trial.status_reason
    assert trials[0].iteration == MAX_T
    assert f"max_t={MAX_T}" in trials[0].status_reason
    assert sum(t.iteration for t in trials) < 0.75 * MAX_T * len(trials)


def test_asha_by_name_with_metric_and_mode_min_on_a_loss(tune_env):
    """``metric="loss", mode="min"`` ranks a loss as is (no negation needed)."""
    scheduler = create_scheduler("asha", metric="loss", mode="min", max_t=MAX_T,
                                 grace_period=1, brackets=1, seed=0)
    assert isinstance(scheduler, AsyncHyperBandScheduler)
    # Low losses first (high rates), then trials whose loss stays high.
    trials = _run(scheduler, [3.0, 2.0, 1.0, 0.1, 0.05])
    _assert_all_ended(trials)
    best = min(trials, key=lambda t: t.last_result["loss"])
    assert best.config["rate"] == 3.0 and best.iteration == MAX_T
    early = [t for t in trials if t.iteration < MAX_T]
    assert early and all(t.config["rate"] <= 0.1 for t in early), \
        [(t.config, t.iteration) for t in trials]
    for trial in early:
        assert " > cutoff " in trial.status_reason, trial.status_reason  # min mode: loss above


def test_scheduler_string_asha_runs_with_its_defaults(tune_env):
    trials = _run("asha", [1.0, 0.5], stop=3)
    _assert_all_ended(trials)
    assert [t.iteration for t in trials] == [3, 3]  # grace_period=10 > 3: nothing to cut


def test_median_stopping_stops_trials_below_the_median(tune_env):
    scheduler = MedianStoppingRule(time_attr="training_iteration", metric="acc", mode="max",
                                   grace_period=2, min_samples_required=2, seed=0)
    trials = _run(scheduler, [2.0, 1.5, 1.0, 0.1, 0.05])
    _assert_all_ended(trials)
    assert [t.iteration for t in trials[:3]] == [MAX_T] * 3
    early = [t for t in trials if t.iteration < MAX_T]
    assert {t.config["rate"] for t in early} == {0.1, 0.05}, [(t.config, t.iteration) for t in trials]
    for trial in early:
        assert trial.iteration >= 2  # not before the grace period
        assert trial.status_reason.startswith("stopped at training_iteration="), trial.status_reason
        assert "< median" in trial.status_reason
        assert trial.last_result.get("early_stopped") is True


def test_hyperband_pauses_and_resumes_trials_from_checkpoints(tune_env):
    scheduler = HyperBandScheduler(metric="acc", mode="max", max_t=MAX_T, reduction_factor=3,
                                   seed=0)
    # max_t=9, eta=3: the first bracket (s=2) takes 9 trials at r=1, 3 go on to r=3 and
    # 1 to r=9.
    rates = [0.1, 0.9, 0.3, 0.5, 0.7, 0.2, 0.8, 0.4, 0.6]
    trials = _run(scheduler, rates)
    _assert_all_ended(trials)
    iters = sorted((t.iteration for t in trials), reverse=True)
    assert iters == [9, 3, 3] + [1] * 6, iters
    survivors = {t.config["rate"] for t in trials if t.iteration == 3} | \
                {t.config["rate"] for t in trials if t.iteration == 9}
    assert survivors == {0.9, 0.8, 0.7}
    resumed = 0
    for trial in trials:
        events = [e["event"] for e in _events(trial)]
        results = _results(trial)
        seq = [r["training_iteration"] for r in results]
        # Continuous 1..n, no duplicates: restored from the checkpoint, not restarted.
        assert seq == list(range(1, trial.iteration + 1)), (trial.name, seq)
        assert "pause" in events, (trial.name, events)
        if trial.iteration > 1:
            resumed += 1
            # Every rung it passed it paused at, and resumed from the checkpoint taken there.
            assert events.count("pause") == {3: 1, 9: 2}[trial.iteration], events
            restores = sorted({r["restored_from"] for r in results} - {0})
            assert restores == {3: [1], 9: [1, 3]}[trial.iteration], (trial.name, restores)
            assert all(r["lineage"] == [trial.trial_id] for r in results)
        else:
            assert trial.status_reason.startswith("stopped at rung") or \
                "rung" in trial.status_reason, trial.status_reason
            assert trial.last_result.get("early_stopped") is True
    assert resumed == 3
    best = max(trials, key=lambda t: t.iteration)
    assert best.config["rate"] == 0.9 and "max_t" in best.status_reason


def test_pbt_clones_donor_checkpoints_with_perturbed_configs(tune_env):
    scheduler = PopulationBasedTraining(
        time_attr="training_iteration", metric="acc", mode="max", perturbation_interval=2,
        hyperparam_mutations={"rate": [0.05, 0.5, 1.0, 2.0, 4.0]}, resample_probability=0.0,
        seed=0,
    )
    rates = [2.0, 1.0, 0.05, 0.5]
    trials = _run(scheduler, rates, stop=8)
    _assert_all_ended(trials)
    assert [t.iteration for t in trials] == [8] * 4
    by_id = {t.trial_id: t for t in trials}
    perturbed = 0
    for trial in trials:
        perturbs = [e for e in _events(trial) if e["event"] == "perturb"]
        results = _results(trial)
        for event in perturbs:
            perturbed += 1
            donor = by_id[event["clone_from"]]
            assert donor.trial_id != trial.trial_id
            assert event["old_config"] != event["new_config"] or \
                event["new_config"]["rate"] == event["old_config"]["rate"]
            # Explore: a neighbour of the donor's rate in the list (resample_probability=0).
            choices = [0.05, 0.5, 1.0, 2.0, 4.0]
            assert event["new_config"]["rate"] in choices
            assert event["reason"]
        if not perturbs:
            continue
        last = perturbs[-1]
        assert _params(trial) == last["new_config"]
        assert trial.config == last["new_config"]
        # After the clone, results run the new config on state restored from the donor:
        # the iteration jumped to the donor's checkpoint (+1), the lineage passes
        # through the donor and restored_from names the checkpoint's iteration.
        cloned = [r for r in results if r["restored_from"] > 0 and r["lineage"][0] != trial.trial_id
                  or (r["restored_from"] > 0 and len(r["lineage"]) > 1)]
        assert cloned, (trial.name, results)
        first = cloned[0]
        assert first["training_iteration"] == first["restored_from"] + 1
        assert trial.trial_id == first["lineage"][-1] and len(first["lineage"]) >= 2
        assert results[-1]["config"] == last["new_config"]
    assert perturbed >= 1
    # The slowest trial (rate 0.05) was the first to exploit a better one.
    slow = next(t for t in trials if any(e["event"] == "perturb" for e in _events(t)))
    assert slow.status_reason
