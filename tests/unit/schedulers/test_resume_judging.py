"""Resume keeps the scheduler's contract (no Ray, no Prefect): trials re-run with
``resume="ERRORED_ONLY"`` and trials resumed after a kill are judged at the scheduler's
decision points only, against everything the saved scheduler state recorded, with a
reason naming the rung and cutoff. Each test runs the real controller and scheduler
through the simulator, then resumes into a freshly constructed scheduler given the
saved state (through JSON), as ``run_experiments(resume=...)`` does."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from scheduler_sim import Simulation, make_trials

from tuneflows.control.resumed_trials import RERUN_REASON
from tuneflows.model.trial_outcome import rule_name, trial_outcome
from tuneflows.schedulers import (
    SCHEDULERS, AsyncHyperBandScheduler, HyperBandScheduler, MedianStoppingRule,
    create_scheduler,
)
from tuneflows.trial import ERROR, TERMINATED

QS = [0.5, 0.6, 0.7, 0.8, 0.55, 0.65, 0.75, 0.85]


def asha() -> AsyncHyperBandScheduler:
    return AsyncHyperBandScheduler(metric="score", mode="max", max_t=27, grace_period=1,
                                   reduction_factor=3, brackets=1, seed=0)


def stops(sim: Simulation, trial_id: str) -> list[int]:
    """The iterations at which the trial got a non-CONTINUE decision."""
    return [entry[-1] for entry in sim.log
            if entry[0] == trial_id and entry[1] in ("STOP", "PAUSE")]


def started(sim: Simulation, trial_id: str) -> bool:
    return any(entry[:2] == (trial_id, "start") for entry in sim.log)


def test_asha_rerun_is_judged_at_the_rungs_against_the_first_runs_records():
    # The worst trial errors at iteration 5, after passing rungs 1 and 3 as the first
    # to reach them; the best errors at 2. Fixed and re-run from their start, the worst
    # is stopped at rung 1 against the cutoff of the seven scores recorded there.
    worst, best = 0.1, 0.95
    first = Simulation(asha(), make_trials([{"q": worst}, {"q": best}] + [{"q": q} for q in QS],
                                           {0: 5, 1: 2}), max_iter=27).run()
    w, b = (first.trials[i].trial_id for i in (0, 1))
    assert [first.by_id(t).status for t in (w, b)] == [ERROR, ERROR]
    recorded = json.loads(json.dumps(first.scheduler.get_state()))["_rungs"][0][0]
    assert recorded[w] == pytest.approx(first.recorded[w][0]["score"])  # it passed rung 1
    others = [v for tid, v in recorded.items() if tid not in (w, b)]  # b re-runs from 0

    second = first.resume(asha(), errored_only=True)
    worse, better = second.by_id(w), second.by_id(b)
    assert worse.status == TERMINATED and worse.t == 1 and stops(second, w) == [1]
    cutoff = float(np.percentile(others, 100 * (1 - 1 / 3)))
    assert worse.reason == (f"stopped at rung 1: {first.recorded[w][0]['score']:.4g} < "
                            f"cutoff {cutoff:.4g}")
    assert trial_outcome(worse.trial, "ASHA").describe() == f"stopped by ASHA {worse.reason[8:]}"
    assert worse.trial.iteration == 1
    assert better.status == TERMINATED and better.t == 27 and stops(second, b) == [27]
    # the others are not run again
    assert {e[0] for e in second.log} == {w, b}


def test_asha_resume_after_a_kill_judges_the_rounds_the_saved_state_missed():
    # The state is saved after round 11 and the driver killed after round 13: in the
    # rounds between, ASHA stopped one trial at rung 1 and another (heard up to rung 1
    # in the saved state) at rung 3; the trials' files hold those rounds, the saved
    # scheduler state does not. Resumed, the trials replay them and ASHA judges what it
    # had not heard, at the rungs only: every trial ends as in an uninterrupted run.
    configs = [{"q": q, "lr": lr} for q, lr in zip(QS, [0.1, 0.3, 0.1, 0.03] * 2)]
    uninterrupted = Simulation(asha(), make_trials(configs), max_iter=27).run()
    killed = Simulation(asha(), make_trials(configs), max_iter=27, save_at=11, kill_at=13).run()
    saved_trials = killed.saved[1]
    missed = {s.trial_id: saved_trials[s.trial_id]["last_result"] for s in killed.trials
              if s.reason.startswith("stopped at rung")
              and saved_trials[s.trial_id]["status"] != TERMINATED}
    assert sorted(r["training_iteration"] if r else 0 for r in missed.values()) == [0, 1]
    resumed = killed.resume(asha())
    for sim in resumed.trials:
        assert set(stops(resumed, sim.trial_id)) <= {1, 3, 9, 27}, sim.trial_id
        before = uninterrupted.by_id(sim.trial_id)
        assert (sim.status, sim.trial.iteration, sim.reason) == (before.status, before.t,
                                                                  before.reason)
    for trial_id in missed:
        assert resumed.by_id(trial_id).reason == killed.by_id(trial_id).reason
        assert resumed.by_id(trial_id).trial.iteration == killed.by_id(trial_id).t


def test_median_rerun_is_judged_at_its_decision_points_only():
    # Grace 3, then every 3 iterations. The worst trial errors at 4 (after passing its
    # first evaluation as the first trial to reach it); re-run, it is evaluated at 3
    # against the others' running averages (not its own, nor those of the best, which
    # errored too and re-runs from its start) and stopped there; the best runs to the end.
    def median():
        return MedianStoppingRule(time_attr="training_iteration", metric="score", mode="max",
                                  grace_period=3, min_samples_required=2)

    first = Simulation(median(), make_trials([{"q": 0.1}, {"q": 0.95}] + [{"q": q} for q in QS],
                                             {0: 4, 1: 7}), max_iter=12).run()
    w, b = first.trials[0].trial_id, first.trials[1].trial_id
    assert [first.by_id(t).status for t in (w, b)] == [ERROR, ERROR]
    second = first.resume(median(), errored_only=True)
    worse = second.by_id(w)
    assert worse.status == TERMINATED and stops(second, w) == [3]
    assert re.fullmatch(r"stopped at training_iteration=3: best score \S+ < median \S+ of "
                        r"8 other trials' running averages", worse.reason), worse.reason
    assert second.by_id(b).status == TERMINATED and second.by_id(b).t == 12
    assert stops(second, b) == []


def test_hyperband_rerun_rejoins_its_bracket_and_is_judged_at_the_completed_rungs():
    # max_t=9, eta=3: one bracket of 9 trials, rungs 1, 3, 9. The worst trial errors at
    # rung 1 (the rung completes without it), the best at iteration 2 (after its
    # promotion; rung 3 completes without it). Re-run, each is judged at the rungs its
    # bracket completed against the cutoff that rung set, then runs to max_t.
    def hyperband():
        return HyperBandScheduler(metric="score", mode="max", max_t=9, reduction_factor=3)

    first = Simulation(hyperband(), make_trials([{"q": 0.1}, {"q": 0.95}] + [{"q": q} for q in
                                                 QS[:7]], {0: 1, 1: 2}), max_iter=12).run()
    w, b = first.trials[0].trial_id, first.trials[1].trial_id
    assert [first.by_id(t).status for t in (w, b)] == [ERROR, ERROR]
    log = first.scheduler.get_state()["_rung_log"]
    assert [(e["r"], e["reached"]) for e in log] == [(1.0, 8), (3.0, 2)]
    second = first.resume(hyperband(), errored_only=True)
    assert started(second, w) and started(second, b)
    worse, better = second.by_id(w), second.by_id(b)
    assert worse.status == TERMINATED and worse.t == 1
    assert worse.reason == (f"stopped at rung 1 of bracket s=2: {worse.trial.last_result['score']:.4g}"
                            f" < cutoff {log[0]['cutoff']:.4g} (the rung completed before the "
                            f"trial re-ran)")
    assert better.status == TERMINATED and better.t == 9
    assert better.reason.startswith("finished bracket s=2 at training_iteration=9")


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_every_scheduler_runs_errored_only_reruns_at_its_decision_points(name):
    from test_scheduler_conformance import KWARGS, configs

    def make():
        metric = {} if name == "fifo" else dict(metric="score", mode="max")
        return create_scheduler(name, seed=0, **metric, **KWARGS[name])

    first = Simulation(make(), make_trials(configs(), {3: 1, 7: 5}), max_iter=27).run()
    errored = [s.trial_id for s in first.trials if s.status == ERROR]
    assert errored
    second = first.resume(make(), errored_only=True)  # the simulator checks the contract
    for trial_id in errored:
        sim = second.by_id(trial_id)
        assert started(second, trial_id) and sim.status == TERMINATED, (trial_id, sim.reason)
        assert sim.reason != RERUN_REASON and "already ended" not in sim.reason
        text = trial_outcome(sim.trial, rule_name(second.scheduler)).describe()
        assert text.count(" by ") <= 1 and "never resumed" not in text, text


def test_pbt_rerun_is_checked_every_interval_again():
    from test_scheduler_conformance import KWARGS, configs

    def pbt():
        return create_scheduler("pbt", seed=0, metric="score", mode="max", **KWARGS["pbt"])

    first = Simulation(pbt(), make_trials(configs(), {3: 1, 7: 5}), max_iter=27).run()
    errored = [s.trial_id for s in first.trials if s.status == ERROR]
    assert len(errored) == 2
    state = first.scheduler.get_state()["_trials"]
    assert [state[t]["last_perturbation_time"] for t in errored] == [0.0, 4.0]
    second = first.resume(pbt(), errored_only=True)
    state = second.scheduler.get_state()["_trials"]
    assert [state[t]["last_perturbation_time"] for t in errored] == [24.0, 24.0]


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_every_scheduler_resumed_after_a_kill_ends_every_trial_as_uninterrupted(name):
    # Killed three rounds after the last state write, at points spread over the run,
    # then resumed: the trials replay what the saved state missed and end exactly as in
    # a run never killed (the same iteration, status and reason).
    from test_scheduler_conformance import KWARGS, configs

    def make():
        metric = {} if name == "fifo" else dict(metric="score", mode="max")
        return create_scheduler(name, seed=0, **metric, **KWARGS[name])

    uninterrupted = Simulation(make(), make_trials(configs()), max_iter=27).run()
    ends = {s.trial_id: (s.status, s.t, s.reason) for s in uninterrupted.trials}
    for save_at in range(2, uninterrupted.rounds - 3, max(3, uninterrupted.rounds // 6)):
        killed = Simulation(make(), make_trials(configs()), max_iter=27, save_at=save_at,
                            kill_at=save_at + 3).run()
        resumed = killed.resume(make())
        assert {s.trial_id: (s.status, s.trial.iteration, s.reason)
                for s in resumed.trials} == ends, save_at
