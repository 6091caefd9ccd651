"""The trial controller on its own: decisions in, actions out (no Ray, Prefect,
MLflow or files)."""

from __future__ import annotations

import pytest

from tuneflows.control.actions import (
    DISCARD, NO_ACTOR, RELEASE, AddTrial, CloneTrial, ContinueTrial, EndTrial, PauseTrial,
    RestartTrial, StartTrial, StoreCheckpoint,
)
from tuneflows.control.controller import TrialController
from tuneflows.error import TuneError, last_line
from tuneflows.model.rounds import RoundOutcome
from tuneflows.schedulers import Decision, FIFOScheduler, TrialScheduler
from tuneflows.search import BasicVariantGenerator, grid_search
from tuneflows.result import EARLY_STOPPED
from tuneflows.spec import Experiment
from tuneflows.trial import ERROR, PAUSED, PENDING, RUNNING, TERMINATED, trial_dir_name


class Scripted(FIFOScheduler):
    """Returns the queued decision for the next result (CONTINUE when none is queued)."""

    def __init__(self) -> None:
        super().__init__()
        self.queue: list[Decision] = []
        self.calls: list[str] = []

    def on_trial_result(self, trial, result):
        return self.queue.pop(0) if self.queue else Decision(TrialScheduler.CONTINUE)

    def on_trial_complete(self, trial, result):
        self.calls.append(f"complete {trial.trial_id}")

    def on_trial_remove(self, trial):
        self.calls.append(f"remove {trial.trial_id}")

    def on_trial_error(self, trial):
        self.calls.append(f"error {trial.trial_id}")


def controller(n: int = 3, slots: int = 2, max_failures: int = 0, scheduler=None):
    exp = Experiment("exp", run=lambda config, reporter: None, local_dir="/results",
                     config={"lr": grid_search([0.1 * (i + 1) for i in range(n)])},
                     max_failures=max_failures)
    exp.run_id = "2026-12-02_00-31-05_ab12"
    searcher = BasicVariantGenerator(exp.config)
    return TrialController(exp, "abcdef1234", scheduler or Scripted(), searcher, slots)


def results(*iterations: int) -> list[dict]:
    return [{"training_iteration": i, "score": float(i)} for i in iterations]


def play(ctl: TrialController, trial, outcome: RoundOutcome) -> list:
    """What the loop does after a round: take the new results, then ask for actions."""
    return ctl.on_round(trial.trial_id, outcome, ctl.new_results(trial.trial_id, outcome))


def started(ctl: TrialController) -> list:
    actions = ctl.fill_slots()
    return [a.trial for a in actions if isinstance(a, StartTrial)]


def test_fill_slots_adds_suggestions_and_starts_no_more_than_the_slots():
    ctl = controller(n=3, slots=2)
    actions = ctl.fill_slots()
    # a grid's trials are all added (PENDING) first, then the slots are filled
    assert [type(a) for a in actions] == [AddTrial, AddTrial, AddTrial, StartTrial, StartTrial]
    trials = [a.trial for a in actions if isinstance(a, StartTrial)]
    assert [t.status for t in trials] == [RUNNING, RUNNING]
    assert [t.trial_id for t in trials] == ["abcde_00000", "abcde_00001"]
    assert trials[0].logdir == "/results/exp/2026-12-02_00-31-05_ab12/" + trial_dir_name(trials[0].name, "abcde_00000")
    assert ctl.fill_slots() == []  # both slots busy
    assert ctl.running() == 2


def test_a_finished_round_records_results_and_ends_the_trial():
    ctl = controller(n=1)
    trial = started(ctl)[0]
    outcome = RoundOutcome(results=results(1, 2), finished=True, stop_key="score")
    assert len(ctl.new_results(trial.trial_id, outcome)) == 2
    end = play(ctl, trial, outcome)[-1]
    assert isinstance(end, EndTrial) and end.actor == RELEASE and not end.early_stopped
    assert trial.status == TERMINATED and trial.status_reason == "score reached"
    assert trial.last_result["done"] is True
    assert ctl.scheduler.calls == [f"complete {trial.trial_id}"]
    assert ctl.running() == 1  # until the loop has released its actor
    ctl.release_slot(trial.trial_id)
    assert ctl.fill_slots() == []  # the searcher is exhausted
    assert ctl.searcher_done


def test_replayed_results_are_dropped():
    ctl = controller(n=1)
    trial = started(ctl)[0]
    ctl.replay_until[trial.trial_id] = 2
    outcome = RoundOutcome(results=results(1, 2, 3))
    assert [r["training_iteration"] for r in ctl.new_results(trial.trial_id, outcome)] == [3]
    assert trial.last_result["training_iteration"] == 3
    assert isinstance(play(ctl, trial, outcome)[-1], ContinueTrial)


def test_a_stop_decision_ends_the_trial_early():
    ctl = controller(n=1)
    trial = started(ctl)[0]
    ctl.scheduler.queue.append(Decision(TrialScheduler.STOP, "below the cutoff"))
    end = play(ctl, trial, RoundOutcome(results=results(1)))[-1]
    assert isinstance(end, EndTrial) and end.early_stopped and end.reason == "below the cutoff"
    assert trial.last_result[EARLY_STOPPED] is True
    assert ctl.scheduler.calls == [f"remove {trial.trial_id}"]


def test_pause_frees_the_slot_once_the_loop_reports_it():
    ctl = controller(n=3, slots=1)
    trial = started(ctl)[0]
    ctl.scheduler.queue.extend([Decision(TrialScheduler.CONTINUE)] * 2
                               + [Decision(TrialScheduler.PAUSE, "rung 3")])
    actions = play(ctl, trial, RoundOutcome(results=results(1, 2, 3)))
    assert isinstance(actions[-1], PauseTrial) and actions[-1].reason == "rung 3"
    assert trial.status == RUNNING  # holds its slot until the loop has paused it
    assert ctl.fill_slots() == []
    ctl.on_checkpoint(trial.trial_id)
    ctl.release_slot(trial.trial_id)
    assert ctl.on_paused(trial.trial_id, parked=False) == []
    assert trial.status == PAUSED and ctl.snapshot(trial).has_checkpoint
    assert len(started(ctl)) == 1  # the slot went to another trial


def test_a_parked_trial_restarts_on_its_actor():
    ctl = controller(n=1, slots=1)
    trial = started(ctl)[0]
    ctl.on_paused(trial.trial_id, parked=True)
    assert trial.status == PAUSED and ctl.running() == 1  # parked: still holds its slot
    start = [a for a in ctl.fill_slots() if isinstance(a, StartTrial)]
    assert start and start[0].parked and trial.status == RUNNING and ctl.running() == 1


def test_clone_sets_the_new_config_and_names_the_donor():
    ctl = controller(n=2)
    donor, trial = started(ctl)
    ctl.scheduler.queue.append(Decision(TrialScheduler.CONTINUE, "exploit", clone_from=donor.trial_id,
                                        new_config={"lr": 0.5}))
    actions = play(ctl, trial, RoundOutcome(results=results(1)))
    clone = next(a for a in actions if isinstance(a, CloneTrial))
    assert clone.donor_id == donor.trial_id and clone.old_config == {"lr": 0.2}
    assert trial.config == {"lr": 0.5} and trial.status_reason == "exploit"
    assert isinstance(actions[-1], ContinueTrial)


def test_save_checkpoint_decision_asks_for_a_checkpoint_then_continues():
    ctl = controller(n=1)
    trial = started(ctl)[0]
    ctl.scheduler.queue.append(Decision(TrialScheduler.CONTINUE, save_checkpoint=True))
    actions = play(ctl, trial, RoundOutcome(results=results(1)))
    assert isinstance(actions[-2], StoreCheckpoint) and actions[-2].blob is None
    assert isinstance(actions[-1], ContinueTrial)


def test_a_round_checkpoint_is_kept_before_the_decision():
    ctl = controller(n=1)
    trial = started(ctl)[0]
    actions = play(ctl, trial, RoundOutcome(results=results(1, 2), checkpoint=b"x",
                                                        checkpoint_iteration=2))
    assert [type(a) for a in actions] == [StoreCheckpoint, ContinueTrial]
    assert ctl.has_checkpoint(trial.trial_id)


def test_failures_restart_until_max_failures_then_error():
    ctl = controller(n=1, max_failures=1)
    trial = started(ctl)[0]
    actions = play(ctl, trial, RoundOutcome(results=results(1, 2), error="Tb\nValueError: x"))
    restart = actions[-1]
    assert isinstance(restart, RestartTrial) and restart.reason == "failure 1/1: ValueError: x"
    assert "Failure 1 of" in restart.error and ctl.replay_until[trial.trial_id] == 2
    end = ctl.on_failure(trial.trial_id, "Tb\nValueError: y", actor_dead=True)[-1]
    assert isinstance(end, EndTrial) and end.actor == DISCARD
    assert trial.status == ERROR and trial.error_msg == "ValueError: y"
    assert end.error.startswith("Failure 2 of") and "ValueError: y" in end.error
    ctl.on_error_file(trial.trial_id, trial.logdir + "/error.txt")  # the recorder's path
    assert trial.error_file == trial.logdir + "/error.txt"
    assert end.tags == {"num_failures": 2}
    assert ctl.scheduler.calls == [f"error {trial.trial_id}"]


def test_client_stop_waits_for_the_round_of_a_running_trial():
    ctl = controller(n=3, slots=1)
    trial = started(ctl)[0]
    assert ctl.request_stop(trial.trial_id) == []
    end = play(ctl, trial, RoundOutcome(results=results(1)))[-1]
    assert isinstance(end, EndTrial) and end.reason == "stopped by client"


def test_client_stop_of_a_waiting_trial_ends_it_at_once():
    ctl = controller(n=1, slots=1)
    pending = ctl.add_trial({"lr": 9}, "client")
    assert pending.experiment_tag == "0_client" and pending.status == PENDING
    end = ctl.request_stop(pending.trial_id)[0]
    assert end.actor == NO_ACTOR and pending.status == TERMINATED
    with pytest.raises(KeyError):
        ctl.request_stop("nope")


def test_a_scheduler_choosing_a_running_trial_is_an_error():
    class Bad(FIFOScheduler):
        def choose_trial_to_run(self, trials):
            return "abcde_00000"

    ctl = controller(n=2, slots=2, scheduler=Bad())
    with pytest.raises(TuneError, match="not a PENDING or PAUSED trial"):
        ctl.fill_slots()


def test_waiting_trials_the_scheduler_never_resumes_are_ended():
    class Never(FIFOScheduler):
        def choose_trial_to_run(self, trials):
            return None

    ctl = controller(n=1, scheduler=Never())
    ctl.fill_slots()
    ends = ctl.never_resumed()
    assert len(ends) == 1 and ends[0].reason == "the scheduler never resumed it"


def test_round_request_carries_the_next_decision_point_and_stop():
    ctl = controller(n=1)
    trial = started(ctl)[0]
    trial.stopping_criterion = {"score": 5}
    assert ctl.count_round(trial.trial_id) == 1 and ctl.count_round(trial.trial_id) == 2
    request = ctl.round_request(trial.trial_id)
    assert request.stop == {"score": 5} and request.until == {}


def test_last_line_and_dir_names():
    assert last_line("Traceback\n  x\nKeyError: 'a'\n\n") == "KeyError: 'a'"
    assert last_line("") == "unknown error"
    assert trial_dir_name("f_0_path=a/b", "id") == "f_0_path=a_b"
    assert trial_dir_name("x" * 200, "abc").endswith("_abc")


def test_an_ended_trial_holds_its_slot_until_its_actor_is_released():
    """Freed earlier, the slot would go to a new actor that waits forever for the CPU
    the ending trial's actor still holds."""
    ctl = controller(n=3, slots=1)
    first = started(ctl)[0]
    play(ctl, first, RoundOutcome(results=results(1), finished=True))
    assert first.status == TERMINATED
    assert not any(isinstance(a, StartTrial) for a in ctl.fill_slots())
    ctl.release_slot(first.trial_id)
    assert len(started(ctl)) == 1


def test_a_trial_that_spent_the_schedulers_whole_budget_ends_completed_not_stopped_early():
    from tuneflows.model.trial_outcome import COMPLETED, trial_outcome
    from tuneflows.schedulers import AsyncHyperBandScheduler

    asha = AsyncHyperBandScheduler(time_attr="training_iteration", metric="score", mode="max",
                                   max_t=3, grace_period=1, brackets=1)
    ctl = controller(n=1, slots=1, scheduler=asha)
    trial = started(ctl)[0]
    end = play(ctl, trial, RoundOutcome(results=results(1, 2, 3)))[-1]
    assert isinstance(end, EndTrial) and not end.early_stopped
    assert trial.status == TERMINATED and trial.status_reason == "reached max_t=3 training_iteration"
    assert trial_outcome(trial, "ASHA").kind == COMPLETED
