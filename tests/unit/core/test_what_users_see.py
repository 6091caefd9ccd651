"""The pure parts of what users watch: trial outcomes, the leaderboard rows, progress and
summary of the Prefect artifacts, round task states, the status block and its levels,
where to look, bounded artifact writes, and a grid's trials PENDING from the start."""

from __future__ import annotations

import asyncio
import io
import math
import os
from contextlib import redirect_stdout

import pytest

from tuneflows.control.actions import CloneTrial, ContinueTrial, PauseTrial, RestartTrial
from tuneflows.control.controller import TrialController
from tuneflows.recording.round_report import round_report
from tuneflows.recording.trial_counts import TrialCounts
from tuneflows.recording.experiment_report import (
    SummaryFacts, artifact_key, leaderboard_rows, progress_percent,
    progress_text,
    summary_markdown,
)
from tuneflows.recording.prefect_reports import BoundedWrites
from tuneflows.services.prefect_limits import PrefectOutage, restore_client_settings
from tuneflows.recording.status_block import (
    QUIET, RESULTS, TABLE, StatusDisplay, status_text, verbosity_level,
)
from tuneflows.recording.where_to_look import mlflow_hint, prefect_hint
from tuneflows.schedulers import FIFOScheduler
from tuneflows.search import BasicVariantGenerator, grid_search
from tuneflows.search.searcher import FINISHED, Searcher
from tuneflows.spec import Experiment
from tuneflows.trial import ERROR, PENDING, RUNNING, TERMINATED, Trial
from tuneflows.model.trial_outcome import (
    COMPLETED, ERRORED, STOPPED_EARLY, UNFINISHED, rule_name, trial_outcome,
)

def trial(index, status=TERMINATED, acc=None, iterations=9, reason="", stopped=False, **kw):
    result = None
    if acc is not None:
        result = {"acc": acc, "training_iteration": iterations}
        if stopped:
            result["early_stopped"] = True
    return Trial(f"x_{index:05d}", f"{index}_lr={index / 10}", {"lr": index / 10, "m": {"d": 2}},
                 "train", f"/r/{index}", status=status, last_result=result,
                 status_reason=reason, **kw)


def test_outcomes_tell_completed_stopped_client_errored_and_unfinished_apart():
    rule = "ASHA"
    done = trial(0, acc=0.9, reason="training_iteration reached")
    stopped = trial(1, acc=0.3, iterations=3, stopped=True,
                    reason="stopped at rung 3: 0.3 < cutoff 0.5")
    client = trial(2, acc=0.5, reason="stopped by client")
    failed = trial(3, status=ERROR, error_msg="ValueError: boom")
    running = trial(4, status=RUNNING, acc=0.1)
    kinds = [trial_outcome(t, rule) for t in (done, stopped, client, failed, running)]
    assert [o.kind for o in kinds] == [COMPLETED, STOPPED_EARLY, STOPPED_EARLY, ERRORED, UNFINISHED]
    assert [o.describe() for o in kinds] == [
        "completed (training_iteration reached)",
        "stopped by ASHA at rung 3: 0.3 < cutoff 0.5",
        "stopped by client",
        "errored: ValueError: boom",
        "unfinished",
    ]
    assert kinds[1].tag == "stopped-early"
    assert rule_name(FIFOScheduler()) == "FIFO"


def test_leaderboard_is_best_first_in_either_mode_with_ties_to_fewer_iterations():
    trials = [trial(0, acc=0.5), trial(1, acc=0.9, iterations=9), trial(2, acc=0.9, iterations=4),
              trial(3, status=ERROR, error_msg="E"), trial(4, acc=float("nan"))]
    rows = leaderboard_rows(trials, "acc", "max", "ASHA")
    assert [r["trial_id"] for r in rows[:3]] == ["x_00002", "x_00001", "x_00000"]
    assert [r["rank"] for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0] == {"lr": 0.2, "m/d": 2, "rank": 1, "trial": "train_2_lr=0.2", "acc": 0.9,
                       "status": TERMINATED, "outcome": "completed", "reason": "",
                       "iterations": 4, "trial_id": "x_00002"}
    assert list(rows[0])[:2] == ["lr", "m/d"]  # the config's parameters come first
    # no metric value (an error, NaN): last, and JSON-safe
    assert {r["trial_id"] for r in rows[3:]} == {"x_00003", "x_00004"}
    assert all(r["acc"] is None for r in rows[3:])
    low_first = leaderboard_rows(trials, "acc", "min", "ASHA")
    assert [r["trial_id"] for r in low_first[:3]] == ["x_00000", "x_00002", "x_00001"]
    stopped = leaderboard_rows([trial(5, acc=0.1, stopped=True, reason="r")], "acc", "max", "PBT")
    assert (stopped[0]["outcome"], stopped[0]["reason"]) == ("stopped early by PBT", "r")


def test_leaderboard_numbers_have_four_significant_digits():
    t = Trial("t", "0", {"lr": 0.000123456789, "rank": 3, "opt": [1, 2]}, "f", "",
              status=TERMINATED, last_result={"acc": 0.987654321, "training_iteration": 2})
    [row] = leaderboard_rows([t], "acc", "max", "FIFO")
    assert (row["lr"], row["acc"], row["config/rank"], row["opt"]) == (0.0001235, 0.9877, 3,
                                                                       "[1, 2]")


def test_progress_counts_trials_by_state_and_iterations_against_the_budget():
    trials = [trial(0, acc=1, iterations=9), trial(1, acc=1, iterations=1, stopped=True),
              trial(2, status=RUNNING, acc=0.5, iterations=4), trial(3, status=PENDING)]
    assert progress_text(trials, 6, "ASHA", {"training_iteration": 9}) == (
        "2 of 6 trials ended (1 completed, 1 stopped early); 1 running, 1 pending, 2 to come"
        " · 14 of 54 iterations (26 % of the iteration budget)")


def test_at_the_end_progress_says_what_budget_was_left_unused_not_a_second_percentage():
    trials = [trial(0, acc=1, iterations=9), trial(1, acc=1, iterations=1, stopped=True)]
    assert progress_text(trials, 2, "ASHA", {"training_iteration": 9}) == (
        "2 of 2 trials ended (1 completed, 1 stopped early) · 10 of 18 iterations run: "
        "44 % of the iteration budget left unused by trials that ended before it")
    full = [trial(0, acc=1, iterations=9), trial(1, acc=1, iterations=9)]
    assert progress_text(full, 2, "FIFO", {"training_iteration": 9}) == (
        "2 of 2 trials ended (2 completed) · 18 of 18 iterations (100 % of the iteration budget)")


def test_a_metric_named_like_a_column_keeps_both():
    rows = leaderboard_rows([Trial("t", "0", {}, "f", "", last_result={"status": 3.0})],
                            "status", "max", "FIFO")
    assert rows[0]["status"] == "PENDING" and rows[0]["metric:status"] == 3.0


def test_progress_and_budget():
    assert [progress_percent(e, 6) for e in (0, 3, 6)] == [0.0, 50.0, 100.0]
    trials = [trial(0, acc=1, iterations=9), trial(1, acc=1, iterations=1, stopped=True)]
    budget = TrialCounts.of(trials, "ASHA").budget({"training_iteration": 9})
    assert (budget.spent, budget.full) == (10, 18)
    assert TrialCounts.of(trials, "ASHA").budget({}).full == 18  # the longest trial's iterations


def test_summary_names_best_config_counts_budget_and_where_to_look():
    trials = [trial(0, acc=0.4, iterations=1, stopped=True, reason="stopped at rung 1: x"),
              trial(1, acc=0.9, reason="training_iteration reached"),
              trial(2, acc=0.2, iterations=1, reason="stopped by client"),
              trial(3, status=ERROR, error_msg="ValueError: boom")]
    text = summary_markdown(trials, SummaryFacts(
        "exp", "acc", "max", "ASHA", {"training_iteration": 9},
        ["Logdir: `/r`", "MLflow: `mlflow ui --backend-store-uri sqlite:////r/m.db`"]))
    assert text.startswith("# exp: 4 trials\n")
    assert "**Best trial:** `train_1_lr=0.1` (`x_00001`) with **acc = 0.9** (max) after 9 " \
           "iterations" in text
    assert "| lr | 0.1 |\n| m/d | 2 |" in text
    assert "- completed: 1\n- stopped early: 2 (ASHA: 1, client: 1)\n- errored: 1\n" in text
    assert "11 iterations spent of 36 without early stopping (4 trials × 9): 69 % saved." in text
    assert text.endswith("## Where to look\n- Logdir: `/r`\n"
                         "- MLflow: `mlflow ui --backend-store-uri sqlite:////r/m.db`\n")
    pictured = summary_markdown(trials, SummaryFacts(
        "exp", "acc", "max", "ASHA", importances={"lr": 0.91234, "m/d": 0.08766},
        pictures=["[MLflow parent run](http://127.0.0.1:5000/#/experiments/1/runs/ab)"]))
    assert ("## Parameter importances for acc (fANOVA)\n\n| parameter | importance |\n|---|---|\n"
            "| lr | 0.912 |\n| m/d | 0.088 |\n") in pictured
    assert "## Pictures\n[MLflow parent run](http://127.0.0.1:5000/#/experiments/1/runs/ab)" \
        in pictured
    none = summary_markdown([trial(0, status=PENDING)], SummaryFacts("e", "acc", "min", "FIFO",
                                                                       status="FAILED"))
    assert none.startswith("# e: 1 trials (FAILED)") and "none (no trial reported 'acc')" in none
    assert "- unfinished: 1" in none


def test_artifact_keys_are_lowercase_letters_digits_and_dashes():
    assert artifact_key("My_Exp 2024/a.b", "summary") == "my-exp-2024-a-b-summary"
    assert artifact_key("___", "progress") == "experiment-progress"


def test_round_states_say_the_decision_and_its_reason():
    t = trial(0, status=RUNNING, acc=0.7, iterations=6)
    results = [{"training_iteration": 4}, {"training_iteration": 6}]
    cont = round_report(t, results, [ContinueTrial(t)], "CONTINUE", "PBT", "acc")
    assert (cont.state_name, cont.message, cont.tags) == (
        "Completed", "continues (iterations 4-6, acc=0.7)", ("trial:x_00000",))
    pause = round_report(t, results, [PauseTrial(t, "waiting at 6")], "PAUSE", "HyperBand", "acc")
    assert (pause.state_name, pause.message) == (
        "Paused", "paused by HyperBand: waiting at 6 (iterations 4-6, acc=0.7)")
    assert pause.tags[-1] == "decision:pause"
    clone = round_report(t, results, [CloneTrial(t, "x_1", {}, "exploit x_1"), ContinueTrial(t)],
                         "CONTINUE", "PBT", "acc")
    assert (clone.state_name, clone.message.split(" (")[0]) == (
        "Perturbed", "perturbed by PBT: exploit x_1")
    restart = round_report(t, [], [RestartTrial(t, "failure 1/2", "tb", False)], "RETRY",
                           "FIFO", "acc")
    assert (restart.state_name, restart.message) == (
        "Restarted", "restarted after failure 1/2 (iteration 6, acc=0.7)")
    t.status, t.error_msg = ERROR, "ValueError: boom"
    error = round_report(t, [], [], "ERROR", "FIFO", None)
    assert (error.state_name, error.failed, error.tags[-1]) == ("Errored", True, "outcome:errored")
    assert error.message == "errored: ValueError: boom (iteration 6)"


def test_status_block_counts_time_best_and_the_relevant_trials_of_a_long_list():
    trials = [trial(i, acc=i / 100) for i in range(50)]
    trials[7].status, trials[7].last_result = RUNNING, {"acc": 0.01, "training_iteration": 2}
    trials[8].status, trials[8].error_msg, trials[8].error_file = ERROR, "E", "/r/8/error.txt"
    text = status_text(trials, "Using FIFO", {"cpu": 1}, {"cpu": 2}, "/r", "acc", max_lines=10,
                       mode="max", elapsed_s=3.4)
    lines = text.splitlines()
    assert lines[4] == "Number of trials: 50 (1 RUNNING, 48 TERMINATED, 1 ERROR) | elapsed 0:00:03"
    assert lines[5] == "Best trial: train_49_lr=4.9 with acc=0.49 (max) at iteration 9"
    shown = [line.split(":  ")[0][3:] for line in lines[6:-1]]
    assert shown == ["train_7_lr=0.7", "train_8_lr=0.8", "train_47_lr=4.7", "train_48_lr=4.8",
                     "train_49_lr=4.9"]
    assert lines[-1] == " ... 45 more: 45 TERMINATED"
    low = status_text(trials[:3], "s", {}, {}, "/r", "acc", mode="min")
    assert "Best trial: train_0_lr=0.0 with acc=0 (min) at iteration 9" in low
    assert "Best trial: - (no metric" in status_text(trials[:3], "s", {}, {}, "/r")


def test_verbose_levels():
    assert [verbosity_level(v) for v in (True, False, 0, 1, 2)] == [RESULTS, TABLE, QUIET, TABLE,
                                                                     RESULTS]
    with pytest.raises(ValueError, match="verbose must be"):
        verbosity_level(3)
    outputs = []
    for level in (QUIET, TABLE, RESULTS):
        out = io.StringIO()
        with redirect_stdout(out):  # not a terminal: the block prints, throttled
            display = StatusDisplay(level, interval_s=3600)
            display.update("block")
            display.update("throttled")
            display.show_result("t1", {"acc": 0.5, "config": {"lr": 1}, "training_iteration": 3})
            display.close("final")
            display.show_lines(["Logdir: /r"])
        outputs.append(out.getvalue().splitlines())
    assert outputs[0] == []
    assert outputs[1] == ["block", "final", "Logdir: /r"]
    assert "Result for t1:" in outputs[2] and "  acc: 0.5" in outputs[2]
    assert "  training_iteration: 3" in outputs[2]
    assert not any("config" in line for line in outputs[2])


def test_where_to_look():
    assert mlflow_hint("https://ml.example/", "e") == "MLflow: https://ml.example, experiment 'e'"
    assert mlflow_hint("https://ml.example/", "e", "12") == (
        "MLflow: https://ml.example/#/experiments/12/runs?workflowType=machine_learning "
        "(experiment 'e')")
    assert prefect_hint("abc", "http://h:4200/") == "Prefect: http://h:4200/runs/flow-run/abc"
    assert "`tuneflows server start`" in prefect_hint("abc", None)
    assert prefect_hint("abc", None).endswith("http://127.0.0.1:4200/runs/flow-run/abc")


def test_artifact_writes_never_raise_nor_hang():
    async def fails():
        raise ConnectionError("no Prefect API")

    async def works():
        return 7

    os.environ["TUNEFLOWS_PREFECT_DEADLINE_S"] = "0.05"
    try:
        writes = BoundedWrites(PrefectOutage())
        assert asyncio.run(writes("leaderboard", asyncio.sleep(30))) is None  # past the deadline
        assert writes.outage.down
        assert asyncio.run(writes("summary", works())) is None  # skipped while down
        assert writes.outage.missed == {"leaderboard artifact": 1, "summary artifact": 1}
        assert "leaderboard artifact, summary artifact" in writes.outage.summary()
        assert asyncio.run(writes.outage.call("cancel checks", works())) == 7  # up again
        assert not writes.outage.down
        assert asyncio.run(writes("progress", fails())) is None
        assert asyncio.run(writes.outage.call("cancel checks", works())) == 7
        assert asyncio.run(writes("summary", works())) == 7
    finally:
        del os.environ["TUNEFLOWS_PREFECT_DEADLINE_S"]
        restore_client_settings()


class OneAtATime(Searcher):
    """Suggests three configs, one per call (a searcher that learns between them)."""

    def __init__(self):
        self.given = 0

    def suggest(self, trial_id):
        if self.given == 3:
            return FINISHED
        self.given += 1
        return {"lr": self.given / 10}


def _controller(searcher):
    exp = Experiment("exp", run=lambda config, reporter: None, local_dir="/results",
                     config={"lr": grid_search([0.1, 0.2, 0.3, 0.4])}, num_samples=2)
    return TrialController(exp, "abcdef1234", FIFOScheduler(), searcher, slots=1)


def test_a_grids_trials_are_pending_from_the_start_a_searchers_as_suggested():
    grid = _controller(BasicVariantGenerator({"lr": grid_search([0.1, 0.2, 0.3, 0.4])},
                                             num_samples=2))
    grid.fill_slots()
    assert [t.status for t in grid.trials.values()] == [RUNNING] + [PENDING] * 7
    searched = _controller(OneAtATime())
    searched.fill_slots()
    assert [t.status for t in searched.trials.values()] == [RUNNING]


def test_nan_free_json_numbers():
    rows = leaderboard_rows([trial(0, acc=math.inf)], "acc", "max", "FIFO")
    assert rows[0]["acc"] is None


def test_the_metric_given_to_run_experiments_ranks_everywhere():
    from tuneflows.orchestration.experiment_request import ExperimentRequest
    from tuneflows.orchestration.views import ExperimentViews
    from tuneflows.schedulers import AsyncHyperBandScheduler

    exp = Experiment("exp", run=lambda config, reporter: None, local_dir="/results",
                     stop={"training_iteration": 3, "acc": 0.9})
    searcher = BasicVariantGenerator({})

    def views(scheduler, **given):
        request = ExperimentRequest(exp, scheduler, searcher, verbose=0, **given)
        ctl = TrialController(exp, "abcdef1234", scheduler, searcher, slots=1)
        return ExperimentViews(request, ctl, lambda: 0)

    chosen = views(FIFOScheduler(), metric="loss", mode="min")
    assert (chosen.metric, chosen.mode) == ("loss", "min")
    assert "Best trial: - (none reported loss yet)" in chosen.board.text()
    asha = views(AsyncHyperBandScheduler(metric="score", mode="min"))
    assert (asha.metric, asha.mode) == ("score", "min")
    assert (views(FIFOScheduler()).metric, views(FIFOScheduler()).mode) == ("acc", "max")


def test_a_big_grid_waits_pending_only_so_far_ahead():
    from tuneflows.control.controller import GRID_PENDING_AHEAD

    size = GRID_PENDING_AHEAD + 50
    big = _controller(BasicVariantGenerator({"lr": grid_search(list(range(size)))}))
    big.fill_slots()
    assert len(big.trials) == GRID_PENDING_AHEAD  # then the first one started
    big.fill_slots()  # the next call tops the waiting trials up again
    assert len(big.trials) == GRID_PENDING_AHEAD + 1
    assert sum(t.status == PENDING for t in big.trials.values()) == GRID_PENDING_AHEAD
