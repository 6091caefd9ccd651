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
import re
import sys
import time
import uuid

import pytest
import ray.cloudpickle

import tuneflows
from tuneflows.schedulers import (
    SCHEDULERS,
    AsyncHyperBandScheduler,
    FIFOScheduler,
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
    iteration of the checkpoint the trainable was last restored from (0: never) and
    ``instance`` changes each time the trial is (re)started on an actor. Config extras:
    ``sleep`` (seconds an iteration, default 3 ms) and ``barrier`` (``[dir, n]``: wait in
    ``_setup`` until ``n`` trials have started).
    """

    def _setup(self, config):
        self.step = 0.0
        self.lineage = [self.trial_id]
        self.restored_from = 0
        self.instance = uuid.uuid4().hex  # a new one each time the trial (re)starts
        if "barrier" in config:  # wait until the whole population has started
            directory, size = config["barrier"]
            open(os.path.join(directory, self.trial_id), "w").close()
            deadline = time.time() + 60
            while len(os.listdir(directory)) < size and time.time() < deadline:
                time.sleep(0.01)

    def _train(self):
        time.sleep(self.config.get("sleep", 0.003))
        self.step += self.config["rate"]
        acc = 1 - math.exp(-self.step / 4)
        return {"acc": acc, "loss": 1 - acc, "lineage": list(self.lineage),
                "restored_from": self.restored_from, "instance": self.instance}

    def _save(self, checkpoint_dir):
        return {"step": self.step, "lineage": list(self.lineage), "iteration": self.iteration}

    def _restore(self, state):
        self.step = state["step"]
        self.lineage = list(state["lineage"])
        if self.lineage[-1] != self.trial_id:
            self.lineage.append(self.trial_id)
        self.restored_from = state["iteration"]


def _run(scheduler, rates, *, stop=MAX_T, config=None, **spec):
    """Runs ``Curve`` over a grid of ``rates`` (in order) under ``scheduler``."""
    experiment = {
        "run": Curve,
        "stop": {"training_iteration": stop},
        "config": {"rate": tuneflows.grid_search(list(rates)), **(config or {})},
        "resources_per_trial": {"cpu": 1, "gpu": 0},
    }
    experiment.update(spec)
    by_name = {"metric": "acc", "mode": "max"} if isinstance(scheduler, str) else {}
    trials = tuneflows.run_experiments({"sched": experiment}, scheduler=scheduler, verbose=False,
                                       **by_name)
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
    """A small instance of each registered scheduler, built by name with kwargs
    (``"asha"`` as a plain string: the registry's lookup with the seed's defaults and
    the experiment's metric and mode)."""
    if name == "asha":
        return "asha"
    kwargs = {
        "fifo": {},
        "median": dict(time_attr="training_iteration", metric="acc", mode="max",
                       grace_period=2, min_samples_required=1),
        "hyperband": dict(metric="acc", mode="max", max_t=MAX_T),
        "pbt": dict(time_attr="training_iteration", metric="acc", mode="max",
                    perturbation_interval=3, hyperparam_mutations={"rate": [0.5, 1.0, 2.0]}),
    }[name]
    return create_scheduler(name, seed=0, **kwargs)


# One experiment per scheduler class: "async_hyperband" is another name of "asha".
_ALL_NAMES = sorted({cls: name for name, cls in sorted(SCHEDULERS.items(), reverse=True)}.values())
# "hyperopt" draws its trials from config["space"]; test_search_flow.py runs it end to end.
_NAMES = [name for name in _ALL_NAMES if name != "hyperopt"]


def test_registry_names_cover_every_scheduler():
    assert _ALL_NAMES == ["asha", "fifo", "hyperband", "hyperopt", "median", "pbt"]
    assert SCHEDULERS["async_hyperband"] is SCHEDULERS["asha"] is AsyncHyperBandScheduler


@pytest.mark.parametrize("name", _NAMES)
def test_each_registered_scheduler_runs_an_experiment_to_the_end(tune_env, name):
    trials = _run(_scheduler_for(name), [2.0, 1.0, 0.5, 0.25])
    _assert_all_ended(trials)
    for trial in trials:
        iters = [r["training_iteration"] for r in _results(trial)]
        assert iters and iters[-1] == trial.iteration <= MAX_T
        assert trial.last_result["trial_id"] == trial.trial_id
    # The best configuration always gets the full budget.
    assert max(t.iteration for t in trials) == MAX_T
    if name == "asha":
        # By name with the seed's defaults (grace_period=10 > MAX_T): nothing is cut.
        assert [t.iteration for t in trials] == [MAX_T] * 4


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
    # The stop condition and max_t coincide; either may be named.
    assert trials[0].status_reason in (f"reached max_t={MAX_T} training_iteration",
                                       "training_iteration reached")
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
    assert {0.1, 0.05} <= {t.config["rate"] for t in early}, \
        [(t.config, t.iteration) for t in trials]
    for trial in early:
        # min mode: stopped because its loss is above the rung's cutoff.
        assert " > cutoff " in trial.status_reason, trial.status_reason
        loss, cutoff = re.search(r": ([\d.e-]+) > cutoff ([\d.e-]+)", trial.status_reason).groups()
        assert float(loss) > float(cutoff)
        assert trial.last_result["loss"] > best.last_result["loss"]


def test_median_stopping_stops_trials_below_the_median(tune_env):
    scheduler = MedianStoppingRule(time_attr="training_iteration", metric="acc", mode="max",
                                   grace_period=2, min_samples_required=2, seed=0)
    # Running averages lag the current accuracy: trials of similar rates all continue.
    trials = _run(scheduler, [2.0, 1.5, 1.8, 0.1, 0.05])
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
    resumed = pauses = restored = 0
    for trial in trials:
        records = _events(trial)
        events = [e["event"] for e in records]
        results = _results(trial)
        seq = [r["training_iteration"] for r in results]
        # Continuous 1..n, no duplicates: restored from the checkpoint, not restarted.
        assert seq == list(range(1, trial.iteration + 1)), (trial.name, seq)
        assert events[-1] == "terminated", events
        pauses += events.count("pause")
        restores = sorted({r["restored_from"] for r in results} - {0})
        if trial.iteration > 1:
            resumed += 1
            # It was resumed from the checkpoint taken at each rung below its last where it
            # paused (the last trial to reach a rung may go on without pausing; a trial
            # paused at its last rung was stopped there), in the same trainable lineage:
            # its own.
            paused_at = sorted({e["iteration"] for e in records if e["event"] == "pause"})
            assert set(paused_at) <= {1, 3}, (trial.name, paused_at)
            assert restores == [it for it in paused_at if it < trial.iteration], \
                (trial.name, restores, paused_at)
            restored += len(restores)
            assert all(r["lineage"] == [trial.trial_id] for r in results)
            first_after = {r["restored_from"]: r["training_iteration"] for r in reversed(results)
                           if r["restored_from"]}
            assert all(it == ckpt + 1 for ckpt, it in first_after.items()), first_after
        else:
            assert restores == []
            assert re.fullmatch(r"stopped at rung 1 of bracket s=2: [\d.]+ < cutoff [\d.]+ "
                                r"\(best 3 of 9 continue\)", trial.status_reason), trial.status_reason
            assert trial.last_result.get("early_stopped") is True
    # Only the last trial to reach a rung need not pause there.
    assert pauses >= 8 + 2, pauses
    assert resumed == 3
    # At least two of the three promoted at rung 1 paused there and were restored.
    assert restored >= 2, restored
    best = max(trials, key=lambda t: t.iteration)
    assert best.config["rate"] == 0.9
    assert best.status_reason in ("training_iteration reached",
                                  f"finished bracket s=2 at training_iteration={MAX_T} (max_t)")


def test_pbt_clones_donor_checkpoints_with_perturbed_configs(tune_env, tmp_path):
    choices = [0.05, 0.5, 1.0, 2.0, 4.0]
    scheduler = PopulationBasedTraining(
        time_attr="training_iteration", metric="acc", mode="max", perturbation_interval=2,
        hyperparam_mutations={"rate": choices}, resample_probability=0.0, seed=0,
    )
    # Half a CPU each and a start barrier: the whole population trains at once, as PBT
    # expects (actors start seconds apart on a loaded machine; a trial takes < 1 s).
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    trials = _run(scheduler, [2.0, 1.0, 0.05, 0.5], stop=12,
                  config={"barrier": [str(barrier), 4], "sleep": 0.01},
                  resources_per_trial={"cpu": 0.5, "gpu": 0})
    _assert_all_ended(trials)
    by_id = {t.trial_id: t for t in trials}
    results = {t.trial_id: _results(t) for t in trials}
    perturbed = 0
    for trial in trials:
        perturbs = [e for e in _events(trial) if e["event"] == "perturb"]
        # Each clone is a new trainable instance; its first result follows the donor's
        # checkpoint, in the donor's lineage.
        clones = [r for i, r in enumerate(results[trial.trial_id])
                  if i > 0 and r["instance"] != results[trial.trial_id][i - 1]["instance"]]
        assert len(clones) == len(perturbs), (trial.name, perturbs, clones)
        for event, first in zip(perturbs, clones):
            perturbed += 1
            donor = by_id[event["clone_from"]]
            assert donor.trial_id != trial.trial_id
            assert event["reason"] and donor.trial_id in event["reason"]
            assert event["old_config"]["rate"] != event["new_config"]["rate"] or \
                event["old_config"] == event["new_config"]
            # The iteration jumped to the donor's checkpoint: restored, not restarted.
            ckpt = first["restored_from"]
            assert ckpt >= 2 and first["training_iteration"] == ckpt + 1
            # (The donor may itself be a clone with two results at that iteration.)
            donor_at = [r for r in results[donor.trial_id] if r["training_iteration"] == ckpt
                        and r["lineage"] + [trial.trial_id] == first["lineage"]]
            assert donor_at, (first, results[donor.trial_id])
            donor_at = donor_at[-1]
            # Explore moved the donor's rate to a neighbouring value (no resampling) ...
            donor_rate = donor_at["config"]["rate"]
            new_rate = event["new_config"]["rate"]
            assert abs(choices.index(new_rate) - choices.index(donor_rate)) <= 1
            # ... and the clone trains with it from the donor's state.
            assert first["config"] == event["new_config"]
            donor_step = -4 * math.log(1 - donor_at["acc"])
            assert first["acc"] == pytest.approx(1 - math.exp(-(donor_step + new_rate) / 4))
        if perturbs:
            last = perturbs[-1]
            assert _params(trial) == last["new_config"] == trial.config
            assert last["new_config"]["barrier"] == [str(barrier), 4]
            assert results[trial.trial_id][-1]["config"] == last["new_config"]
            assert trial.last_result["lineage"][-1] == trial.trial_id
    assert perturbed >= 1


class _RecordingFIFO(FIFOScheduler):
    """FIFO that records the statuses of the trials each choice is offered."""

    def __init__(self):
        super().__init__()
        self.offered: list[list[str]] = []

    def choose_trial_to_run(self, trials):
        self.offered.append([t.status for t in trials])
        return super().choose_trial_to_run(trials)


def test_choices_are_offered_only_unfinished_trials(tune_env):
    """Slot filling walks the live trials only, so a choice costs the same after
    thousands of finished trials as after none (issue 6, workload 4)."""
    scheduler = _RecordingFIFO()
    trials = _run(scheduler, [1.0 + i / 10 for i in range(10)], stop=1)
    _assert_all_ended(trials)
    assert len(scheduler.offered) >= 10
    assert all(set(statuses) <= {"PENDING", "RUNNING", "PAUSED"} for statuses in scheduler.offered)
    # the grid's 10 trials wait PENDING from the start; once finished, none is offered again
    offered = [statuses for statuses in scheduler.offered if statuses]
    assert offered[0].count("PENDING") == 10
    assert max(len(statuses) for statuses in offered) <= 10


def test_a_scheduler_named_without_a_metric_fails_before_any_trial(tune_env):
    with pytest.raises(ValueError, match="scheduler 'asha' needs the result key to optimise"):
        tuneflows.run_experiments({"unnamed": {"run": Curve, "config": {"rate": 1.0}}},
                                  scheduler="asha", verbose=False)
    assert not os.path.exists(os.path.join(tune_env, "unnamed"))
