"""What MLflow is sent, as plain data: names mended to MLflow's rules, values it cannot
store skipped, the tags that tell how a trial ended, the parent run's record and the
leaderboard CSV (the real store: tests/integration/test_mlflow_views.py)."""

from __future__ import annotations

import csv
import doctest
import io
import json
import logging

import numpy as np
import pytest

import tuneflows
from tuneflows.recording.mlflow import tags as mlflow_tags
from tuneflows.recording.mlflow import names as mlflow_names, records as mlflow_records
from tuneflows.recording.mlflow.names import MlflowNames, is_mlflow_key, mlflow_key
from tuneflows.recording.experiment_report import SummaryFacts
from tuneflows.recording.mlflow.records import (
    LEADERBOARD_ARTIFACT, experiment_end_record, experiment_spec_json, settings, trial_end_tags,
)
from tuneflows.recording.mlflow.values import metric_rows, param_strings
from tuneflows.schedulers import AsyncHyperBandScheduler
from tuneflows.search.concurrency import TrialLimiter
from tuneflows.search.hyperopt_search import HyperOptSearch
from tuneflows.spec import Experiment
from tuneflows.trial import ERROR, RUNNING, TERMINATED, Trial


@pytest.mark.parametrize("module", [mlflow_names, mlflow_records])
def test_docstring_examples_run(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("name, key", [
    ("acc@1", "acc_1"), ("bad(key)", "bad_key_"), ("/abs/x", "abs/x"), ("a//b/", "a/b"),
    ("./a", "_/a"), ("a/../b", "a/__/b"), ("..hidden", "_.hidden"), ("ok/eval acc:1", "ok/eval acc:1"),
    ("über-Maß", "über-Maß"), ("x" * 251, None), ("", None), ("@/", "_"),
])
def test_names_are_mended_to_mlflow_s_rules(name, key):
    assert mlflow_key(name) == key
    assert key is None or is_mlflow_key(key)


def test_a_changed_or_dropped_name_warns_once(caplog):
    names = MlflowNames()
    with caplog.at_level(logging.WARNING, logger="tuneflows.recording.mlflow.names"):
        for _ in range(3):
            assert names.metrics({"acc@1": 0.5, "loss": 1}) == {"acc_1": 0.5, "loss": 1.0}
            assert names.strings({"k" * 300: "v", "fine": "x"}, "param") == {"fine": "x"}
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert "'acc@1'" in messages[0] and "logged as 'acc_1'" in messages[0]
    assert "dropped" in messages[1]


def test_values_mlflow_cannot_store_are_skipped_with_a_warning(caplog):
    names = MlflowNames()
    with caplog.at_level(logging.WARNING, logger="tuneflows.recording.mlflow.names"):
        metrics = names.metrics({"nan": float("nan"), "inf": float("-inf"), "huge": 10 ** 400,
                                 "flag": True, "text": "x", "np": np.float32(0.25), "i": 3})
    assert metrics == {"np": 0.25, "i": 3.0}
    warned = " ".join(r.getMessage() for r in caplog.records)
    for name in ("'nan'", "'inf'", "'huge'"):
        assert name in warned
    assert "'flag'" not in warned and "'text'" not in warned  # not metrics: no warning


def test_a_mended_name_that_meets_another_is_dropped_keeping_the_valid_one():
    assert MlflowNames().metrics({"acc@1": 1, "acc_1": 2}) == {"acc_1": 2.0}
    assert MlflowNames().metrics({"acc_1": 2, "acc@1": 1}) == {"acc_1": 2.0}


def test_result_rows_and_params_carry_only_valid_names_and_values():
    [(step, _, values)] = metric_rows([{"training_iteration": 2, "timestamp": 1.0,
                                        "acc@1": 0.9, "loss": 0.1, "big": 10 ** 400}])
    assert step == 2 and values == {"acc_1": 0.9, "loss": 0.1}
    assert param_strings({"bad(key)": 1, "net": {"depth": 3}, "long": "x" * 7000}) == {
        "bad_key_": "1", "net/depth": "3", "long": "x" * 6000}
    assert param_strings({"c": "y" * 9000}, kind="tag") == {"c": "y" * 8000}


def trial(index, status=TERMINATED, acc=None, iteration=9, **fields):
    last = {"training_iteration": iteration}
    if acc is not None:
        last["acc"] = acc
    return Trial(f"e_{index:05d}", f"{index}_lr={index / 10}", {"lr": index / 10, "net": {"d": 2}},
                 "train", "", status=status, last_result=last, **fields)


def test_end_tags_tell_completed_early_stopped_client_stopped_errored_and_unfinished_apart():
    completed = trial(0, status_reason="training_iteration reached")
    assert trial_end_tags(completed, "ASHA") == {
        "outcome": "completed", "stop_reason": "completed (training_iteration reached)",
        mlflow_tags.DESCRIPTION: "completed (training_iteration reached)"}
    stopped = trial(1, iteration=3, status_reason="stopped at rung 3: 0.4 < cutoff 0.6")
    stopped.last_result["early_stopped"] = True
    tags = trial_end_tags(stopped, "ASHA")
    assert tags.pop(mlflow_tags.DESCRIPTION) == tags["stop_reason"]
    assert tags == {"outcome": "stopped-early", "stop_rule": "ASHA",
                    "stop_reason": "stopped by ASHA at rung 3: 0.4 < cutoff 0.6"}
    client = trial(2, status_reason="stopped by client")
    assert trial_end_tags(client, "ASHA")["stop_rule"] == "client"
    errored = trial(3, status=ERROR, error_msg="ValueError: diverged")
    tags = trial_end_tags(errored, "ASHA")
    assert tags["outcome"] == "errored" and tags["error"] == "ValueError: diverged"
    assert "error.txt" in tags[mlflow_tags.DESCRIPTION]
    unfinished = trial(4, status=RUNNING)
    tags = trial_end_tags(unfinished, "ASHA", "KILLED")
    assert tags.pop(mlflow_tags.DESCRIPTION) == tags["stop_reason"]
    assert tags == {
        "outcome": "unfinished", "status": "KILLED",
        "stop_reason": "the experiment ended (KILLED) while the trial was RUNNING"}


def test_the_parent_record_holds_the_best_trial_counts_and_the_leaderboard():
    stopped = trial(1, acc=0.2, iteration=3, status_reason="stopped at rung 3")
    stopped.last_result["early_stopped"] = True
    trials = [trial(0, acc=0.5), stopped, trial(2, acc=0.9), trial(3, acc=0.9, iteration=5),
              trial(4, status=ERROR, error_msg="ValueError: x")]
    record = experiment_end_record(trials, SummaryFacts("demo", "acc", "max", "ASHA"))
    # ties on the metric go to fewer iterations: trial 3
    assert record.params == {"best.lr": 0.3, "best.net/d": 2}
    assert record.metrics == {"best.acc": 0.9}
    assert record.tags["best.trial_id"] == "e_00003" and record.tags["best.iterations"] == 5
    assert record.tags["tuneflows.metric"] == "acc" and record.tags["tuneflows.mode"] == "max"
    assert "e_00003" in record.tags[mlflow_tags.DESCRIPTION]  # the summary names the best trial
    assert {k: v for k, v in record.tags.items() if k.startswith("trials.")} == {
        "trials.total": 5, "trials.completed": 3, "trials.stopped-early": 1,
        "trials.stopped-early.ASHA": 1, "trials.errored": 1,
        "trials.unfinished": 0}  # zeros too: they overwrite a resumed run's interrupted end's
    rows = list(csv.DictReader(io.StringIO(record.artifacts[LEADERBOARD_ARTIFACT])))
    assert [row["trial_id"] for row in rows] == ["e_00003", "e_00002", "e_00000", "e_00001",
                                                 "e_00004"]
    assert list(rows[0])[:2] == ["lr", "net/d"]  # the config's parameters first
    for column in ("trial", "status", "outcome", "reason", "iterations", "acc"):
        assert column in rows[0]
    assert rows[3]["outcome"] == "stopped early by ASHA" and rows[4]["acc"] == ""


def test_with_mode_min_and_no_metric_reported_the_parent_gets_no_best():
    trials = [trial(0, acc=0.5), trial(1, acc=0.1)]
    facts = SummaryFacts("demo", "acc", "min", "FIFO")
    assert experiment_end_record(trials, facts).params["best.lr"] == 0.1
    record = experiment_end_record(trials, SummaryFacts("demo", "loss", "min", "FIFO"))
    assert record.params == {} and record.metrics == {} and "best.trial_id" not in record.tags


def test_settings_are_the_plain_constructor_args_and_public_attributes():
    asha = settings(AsyncHyperBandScheduler(metric="acc", mode="min", max_t=9, grace_period=1),
                    "scheduler")
    assert asha["scheduler"] == "AsyncHyperBandScheduler"
    assert asha["scheduler.time_attr"] == "training_iteration" and asha["scheduler.max_t"] == 9.0
    assert asha["scheduler.mode"] == "min"
    assert not any(key.startswith("scheduler._") for key in asha)
    wrapped = settings(TrialLimiter(HyperOptSearch(metric="acc", mode="max", gamma=0.3), 5),
                       "searcher")
    assert wrapped["searcher"] == "TrialLimiter" and wrapped["searcher.max_trials"] == 5
    assert wrapped["searcher.searcher"] == "HyperOptSearch"
    assert wrapped["searcher.searcher.gamma"] == 0.3
    assert all(mlflow_records.is_plain(value) for value in wrapped.values())


def test_the_spec_artifact_is_the_experiment_as_given():
    exp = Experiment("spec", run=lambda config: None, stop={"training_iteration": 9},
                     config={"lr": tuneflows.grid_search([0.1, 0.2]), "depth": 3}, num_samples=2,
                     resources_per_trial={"cpu": 1})
    spec = json.loads(experiment_spec_json(exp))
    assert spec["stop"] == {"training_iteration": 9}
    assert spec["config"] == {"lr": "GridSearch(values=[0.1, 0.2])", "depth": 3}
    assert spec["num_samples"] == 2 and spec["resources_per_trial"] == {"cpu": 1, "gpu": 0}
