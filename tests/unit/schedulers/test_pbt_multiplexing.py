"""PBT with a population larger than the free slots, driven through the real trial
controller by the scheduler simulator: it time-multiplexes the population (the seed's
"yield time to other trials"), ranks every trial against all of it, clones the donor's
newest checkpoint and exploits a trial at most once per interval."""

from __future__ import annotations

from collections import defaultdict

from scheduler_sim import Simulation, make_trials

from tuneflows.control.actions import CloneTrial
from tuneflows.schedulers import PopulationBasedTraining
from tuneflows.trial import TrialSnapshot

INTERVAL = 4
LRS = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0]


class RankingLog(PopulationBasedTraining):
    """PBT that notes each ranking: how many trials were live, and its quantiles."""

    def quantiles(self):
        lower, upper = super().quantiles()
        live = sum(1 for i in self.get_state()["_trials"].values() if i["status"] == "live")
        self.ranked = getattr(self, "ranked", []) + [(live, lower, upper)]
        return lower, upper


class CloneLog(Simulation):
    """The simulator, noting for each clone the recipient's time, the donor's time and
    the time of the checkpoint it restores."""

    def _carry_out(self, actions):
        for action in actions:
            if isinstance(action, CloneTrial):
                donor, sim = self.by_id(action.donor_id), self.by_id(action.trial.trial_id)
                state = self.scheduler.get_state()["_trials"][donor.trial_id]
                self.clones.append((sim.t, donor.t, donor.checkpoint["t"],
                                    state["last_perturbation_time"]))
        super()._carry_out(actions)


def pbt(**kw) -> RankingLog:
    return RankingLog(time_attr="training_iteration", metric="score",
                      perturbation_interval=INTERVAL, seed=0, resample_probability=0.5,
                      hyperparam_mutations={"lr": LRS}, **kw)


def run(n: int, slots: int, max_iter: int) -> CloneLog:
    sim = CloneLog(pbt(), make_trials([{"q": 1.0, "lr": LRS[i % 8]} for i in range(n)]),
                   slots=slots, max_iter=max_iter)
    sim.clones = []
    return sim.run()


def test_the_issues_case_four_trials_on_two_slots_exploit():
    sim = run(n=4, slots=2, max_iter=24)
    assert sim.scheduler.perturbations, "no trial was ever exploited"
    pauses = [e for e in sim.log if e[1] == "PAUSE"]
    assert pauses and all(t.results >= 24 for t in sim.trials)


def test_eight_trials_on_two_slots_advance_together_and_exploit_across_the_population():
    sim = run(n=8, slots=2, max_iter=32)
    pert = sim.scheduler.perturbations
    assert len(pert) >= 4
    # exploits involve trials that never shared a slot at the start (0, 1 ran first)
    involved = {p["trial_id"] for p in pert} | {p["donor"] for p in pert}
    assert len(involved) >= 5
    # the rankings compare the whole population: with 8 live trials the quantiles are
    # 2 of 8 (not 1 of the 2 running), and every trial shows up in one of them
    full = [(lower, upper) for live, lower, upper in sim.scheduler.ranked if live == 8]
    assert full and sum(len(lo) == len(up) == 2 for lo, up in full) > len(full) / 2
    ranked_ids = {tid for _, lo, up in sim.scheduler.ranked for tid in lo + up}
    assert len(ranked_ids) == 8
    # a PAUSE at every check while others wait: each trial is started once per interval
    starts = defaultdict(int)
    for entry in sim.log:
        if entry[1] == "start":
            starts[entry[0]] += 1
    assert min(starts.values()) >= 32 // INTERVAL - 1


def test_clones_restore_the_donors_newest_checkpoint():
    sim = run(n=8, slots=2, max_iter=32)
    assert sim.clones
    for _, donor_t, checkpoint_t, donor_check in sim.clones:
        assert checkpoint_t == donor_check  # saved at the donor's latest check
        assert donor_t - checkpoint_t < INTERVAL  # the donor has not trained on past it


def test_a_trial_is_exploited_at_most_once_per_interval():
    sim = run(n=8, slots=2, max_iter=40)
    seen = defaultdict(set)
    for p in sim.scheduler.perturbations:
        interval = int(p["time"] // INTERVAL)
        assert interval not in seen[p["trial_id"]], p
        seen[p["trial_id"]].add(interval)


def test_same_seed_same_schedule():
    assert run(n=8, slots=2, max_iter=24).log == run(n=8, slots=2, max_iter=24).log


def test_no_pause_when_nothing_waits():
    s = pbt()
    trials = [TrialSnapshot.make(f"t{i}", {"lr": 0.01}, status="RUNNING", has_checkpoint=True)
              for i in range(2)]
    s.choose_trial_to_run(trials)  # both are running: nothing waits
    for t in trials:
        s.on_trial_result(t, {"training_iteration": 3, "score": 1.0})
    decision = s.on_trial_result(trials[0], {"training_iteration": 4, "score": 1.0})
    assert decision.action == "CONTINUE"
    s.on_trial_add(TrialSnapshot.make("t2", {"lr": 0.01}))  # PENDING
    d = s.on_trial_result(trials[1], {"training_iteration": 4, "score": 0.5})
    assert d.action == "PAUSE" and "yields its slot to 1 waiting trial" in d.reason
    assert s.choose_trial_to_run([TrialSnapshot.make("t2", {"lr": 0.01}),
                                  trials[1].with_result({"training_iteration": 4})]) == "t2"


def test_the_seeds_lambda_config_mutations_are_resampled():
    s2 = PopulationBasedTraining(time_attr="training_iteration", perturbation_interval=4,
                                 reward_attr="episode_reward_mean", resample_probability=1.0,
                                 hyperparam_mutations={"factor_1": lambda config: 7.5,
                                                       "factor_2": [1, 2]})
    assert s2.explore({"factor_1": 4.0, "factor_2": 1})["factor_1"] == 7.5
    assert s2.metric == "episode_reward_mean"
