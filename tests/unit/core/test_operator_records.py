"""What an operator reads of a run, pure parts (issue 20): every setting of the scheduler
and searcher through their public ``settings()``, the summary's savings only where
something was stopped early, "did you mean" for a misspelled spec key in the Python API,
ASHA by name cut at the spec's own limit, and the link between MLflow and Prefect."""

from __future__ import annotations

import inspect

import pytest

import tuneflows
from tuneflows.schedulers import SCHEDULERS, AsyncHyperBandScheduler, FIFOScheduler, TrialScheduler
from tuneflows.search import SEARCHERS, ConcurrencyLimiter
from tuneflows.trial import Trial


# ---------------------------------------------------------------- settings
@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_every_scheduler_tells_every_constructor_argument(name):
    cls = SCHEDULERS[name]
    params = inspect.signature(cls).parameters
    kwargs = {"metric": "acc", "mode": "max"} if "metric" in params else {}
    if "hyperparam_mutations" in params:
        kwargs["hyperparam_mutations"] = {"lr": [0.1, 0.2]}
    if "space" in params:
        kwargs["space"] = {"x": tuneflows.uniform(0, 1)}
    scheduler = cls(**kwargs)
    expected = {p for p, v in inspect.signature(cls).parameters.items()
                if v.kind not in (v.VAR_POSITIONAL, v.VAR_KEYWORD)}
    assert expected <= set(scheduler.settings()), expected - set(scheduler.settings())


def test_asha_settings_are_what_it_was_built_with():
    asha = AsyncHyperBandScheduler(metric="acc", mode="max", max_t=27, grace_period=3,
                                   reduction_factor=4, brackets=2)
    settings = asha.settings()
    assert (settings["grace_period"], settings["reduction_factor"], settings["brackets"],
            settings["max_t"], settings["metric"]) == (3, 4, 2, 27, "acc")
    settings["max_t"] = 1  # a copy: the scheduler is not changed through it
    assert asha.settings()["max_t"] == 27


@pytest.mark.parametrize("name", sorted(SEARCHERS))
def test_every_searcher_tells_its_constructor_arguments(name):
    cls = SEARCHERS[name]
    params = inspect.signature(cls).parameters
    kwargs = {"metric": "acc", "mode": "max"} if "metric" in params else {}
    if "space" in params:
        kwargs["space"] = {"x": tuneflows.uniform(0, 1)}
    searcher = cls(**kwargs) if "searcher" not in params else cls(
        SEARCHERS["hyperopt"](space={"x": tuneflows.uniform(0, 1)}, metric="acc", mode="max"),
        max_concurrent=2)
    expected = {p for p, v in params.items() if v.kind not in (v.VAR_POSITIONAL, v.VAR_KEYWORD)}
    assert expected <= set(searcher.settings())


def test_the_parent_run_reads_public_settings_only():
    from tuneflows.recording.mlflow.records import settings

    class Secretive(FIFOScheduler):
        def __init__(self, patience: int = 3) -> None:
            super().__init__()
            self._patience = patience
            self._internal_table = {"t1": 1}

    params = settings(Secretive(patience=5), "scheduler")
    assert params == {"scheduler": "Secretive", "scheduler.patience": 5}
    wrapped = settings(ConcurrencyLimiter(SEARCHERS["hyperopt"](
        space={"x": tuneflows.uniform(0, 1)}, metric="acc", mode="max", n_initial_points=4),
        max_concurrent=2), "searcher")
    assert wrapped["searcher"] == "ConcurrencyLimiter"
    assert wrapped["searcher.max_concurrent"] == 2
    assert wrapped["searcher.searcher"] == "HyperOptSearch"
    assert wrapped["searcher.searcher.n_initial_points"] == 4


def test_settings_survive_a_state_round_trip_and_a_copy():
    import copy
    import pickle

    asha = AsyncHyperBandScheduler(metric="acc", mode="max", max_t=9, grace_period=1)
    for clone in (copy.deepcopy(asha), pickle.loads(pickle.dumps(asha))):
        assert clone.settings() == asha.settings()


def test_a_user_scheduler_without_a_constructor_has_settings():
    class Mine(TrialScheduler):
        pass

    assert Mine().settings() == {}


# ---------------------------------------------------------------- summary
def _trial(i: int, iterations: int, early: bool = False) -> Trial:
    result = {"training_iteration": iterations, "acc": 0.5 + i / 10}
    if early:
        result["early_stopped"] = True
    return Trial(f"a_{i:05d}", str(i), {"x": i}, "train", "", status="TERMINATED",
                 last_result=result, status_reason="stopped at rung 1" if early else "")


def test_no_savings_claimed_when_nothing_stopped_early():
    from tuneflows.recording.experiment_report import SummaryFacts, summary_markdown

    trials = [_trial(1, 3), _trial(2, 7), _trial(3, 10)]  # FIFO: each met its own stop
    text = summary_markdown(trials, SummaryFacts("e", "acc", "max", "FIFO",
                                                 {"mean_accuracy": 99}))
    assert "saved" not in text
    assert "20 iterations spent" in text
    stopped = summary_markdown([_trial(1, 3, early=True), _trial(2, 9)],
                               SummaryFacts("e", "acc", "max", "ASHA", {"training_iteration": 9}))
    assert "12 iterations spent of 18" in stopped and "33 % saved" in stopped


# ---------------------------------------------------------------- did you mean
def test_a_misspelled_experiment_key_gets_a_suggestion_in_the_python_api():
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['stpo'\] \(did you mean 'stop'\?\)"):
        tuneflows.run_experiments({"e": {"run": lambda config, reporter: None,
                                         "stpo": {"training_iteration": 1}}})


def test_a_misspelled_grid_search_gets_a_suggestion_in_the_python_api():
    with pytest.raises(ValueError, match=r"config\['lr'\].*'grid_serach'.*did you mean "
                                         r"'grid_search'"):
        tuneflows.run_experiments({"e": {"run": lambda config, reporter: None,
                                         "config": {"lr": {"grid_serach": [0.1, 0.2]}}}})


def test_one_rule_for_close_names():
    from tuneflows.model.by_name import close_name_hint

    assert close_name_hint("stpo", ["stop", "config"]) == " (did you mean 'stop'?)"
    assert close_name_hint("zzz", ["stop", "config"]) == ""


# ---------------------------------------------------------------- ASHA by name
def test_asha_by_name_is_cut_where_the_spec_stops_it():
    from tuneflows.orchestration.algorithm_choice import resolve_scheduler

    limited = resolve_scheduler("asha", "acc", "max", [{"training_iteration": 300}])
    assert limited.settings()["max_t"] == 300  # not cut at the default 100
    unlimited = resolve_scheduler("asha", "acc", "max", [{"mean_accuracy": 99}])
    assert unlimited.next_decision_point(_snapshot(100)) is not None  # no cut at 100
    assert unlimited.on_trial_result(_snapshot(150), {"training_iteration": 150,
                                                       "acc": 1.0}).action == "CONTINUE"


def _snapshot(iteration: int):
    from tuneflows.trial import TrialSnapshot

    return TrialSnapshot.make("t1", {}, last_result={"training_iteration": iteration})


# ---------------------------------------------------------------- tuneflows ls
def test_ls_shows_early_stops_and_how_a_run_was_interrupted(tmp_path, capsys):
    import argparse

    from tuneflows.cli.inspect_runs import cmd_ls
    from tuneflows.runs.run_dirs import ending_words, record_run_end, write_run_file
    from tuneflows.runs.state import ExperimentState, append_finished, save_state

    run = tmp_path / "exp" / "2026-12-06_10-00-00_ab12"
    run.mkdir(parents=True)
    stopped, done = _trial(1, 3, early=True), _trial(2, 9)
    running = Trial("a_00003", "3", {"x": 3}, "train", "", status="RUNNING",
                    last_result={"training_iteration": 2, "acc": 0.1})
    append_finished(str(run), [stopped.to_dict(), done.to_dict()])
    save_state(str(run), ExperimentState("ab12", trials=[running.to_dict()],
                                         trial_order=["a_00001", "a_00002", "a_00003"],
                                         metric="acc", mode="max"))
    write_run_file(str(run), run.name, None)
    record_run_end(str(run), ending_words("KILLED", "SIGINT"))
    assert cmd_ls(argparse.Namespace(local_dir=str(tmp_path))) == 0
    line = capsys.readouterr().out.splitlines()[1]
    assert "interrupted (SIGINT)" in line
    assert "3 trials (1 RUNNING, 2 TERMINATED), 1 stopped early" in line

    record_run_end(str(run), "cancelled")
    cmd_ls(argparse.Namespace(local_dir=str(tmp_path)))
    assert " cancelled " in capsys.readouterr().out


# ---------------------------------------------------------------- the dataset trigger
@pytest.mark.parametrize("payload, path", [({"path": "/data/d.csv"}, "/data/d.csv"), ({}, None)])
def test_the_dataset_trigger_renders_with_or_without_a_path(payload, path):
    """prefect.yaml's trigger parameters, rendered by Prefect's own automation code for an
    event with and without ``payload.path``: a missing path must not make the run fail
    to start (InvalidJinja in the server's log only)."""
    import datetime
    import os
    import uuid

    import yaml
    from prefect.server.events.actions import RunDeployment
    from prefect.server.events.schemas.events import ReceivedEvent
    from prefect.utilities.schema_tools.hydration import HydrationContext, hydrate

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    with open(os.path.join(root, "prefect.yaml")) as f:
        [deployment] = [d for d in yaml.safe_load(f)["deployments"] if d.get("triggers")]
    parameters = dict(deployment["triggers"][0]["parameters"])
    RunDeployment._upgrade_v1_templates(parameters)  # as the server reads a deployed trigger
    event = ReceivedEvent(occurred=datetime.datetime.now(datetime.timezone.utc),
                          event="tuneflows.dataset.updated", id=uuid.uuid4(), payload=payload,
                          resource={"prefect.resource.id": "tuneflows.dataset.digits-v2"})
    rendered = hydrate(parameters, HydrationContext(raise_on_error=False, render_jinja=True,
                                                    jinja_context={"event": event}))
    assert rendered == {"dataset": "tuneflows.dataset.digits-v2", "dataset_path": path}
