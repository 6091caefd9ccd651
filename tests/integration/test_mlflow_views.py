"""What a user finds in MLflow after a run, read back with ``MlflowClient`` from a real
store: the parent run's best trial, settings, counts and artifacts; the trial runs'
outcomes and statuses; a failing flow's runs; a batch with a rejected name."""

from __future__ import annotations

import csv
import io
import json
import logging
import time

import pytest

import tuneflows
from tuneflows.recording.mlflow import tags as mlflow_tags
from tuneflows.model.best_trial import best_trial
from tuneflows.recording.mlflow.store import MODEL_TRAINING_KIND, MlflowStore
from tuneflows.schedulers import AsyncHyperBandScheduler, FIFOScheduler
from tuneflows.trial import ERROR
from tuneflows.model.trial_outcome import trial_outcome


def client_for(uri):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def runs_of(client, name):
    experiment = client.get_experiment_by_name(name)
    runs = client.search_runs([experiment.experiment_id], max_results=100)
    [parent] = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = {r.data.tags["trial_id"]: r for r in runs if "mlflow.parentRunId" in r.data.tags}
    return experiment, parent, children


def artifact_text(client, run, path):
    from mlflow.artifacts import load_text

    return load_text(f"{client.get_run(run.info.run_id).info.artifact_uri}/{path}")


def climbs(config, reporter):
    for i in range(1, 10):
        if config["lr"] == 0.6:  # before its first result: it takes no place at ASHA's rungs
            raise ValueError("diverged at step 1")
        reporter(mean_accuracy=config["lr"] * i, **{"acc@1": i / 10, "huge": 10 ** 400})


def test_an_asha_run_shows_best_trial_outcomes_and_statuses(tune_env, mlflow_uri):
    # Whatever the order results arrive in, the first trial at a rung goes on (some trial
    # completes), and the last trial (lr=0.01) starts once four others have ended, three
    # of them with a better score at rung 1 (it is stopped early).
    asha = AsyncHyperBandScheduler(metric="mean_accuracy", mode="max", max_t=9, grace_period=1,
                                   reduction_factor=3, brackets=1, seed=0)
    trials = tuneflows.run_experiments({"mlflow_asha": {
        "run": climbs, "stop": {"training_iteration": 9}, "max_failures": 0,
        "config": {"lr": tuneflows.grid_search([0.6, 0.5, 0.1, 0.4, 0.2, 0.01]), "bad(key)": 1},
    }}, scheduler=asha, verbose=0, raise_on_failed_trial=False)
    client = client_for(mlflow_uri)
    experiment, parent, children = runs_of(client, "mlflow_asha")
    assert experiment.tags[mlflow_tags.EXPERIMENT_KIND] == MODEL_TRAINING_KIND

    # trial runs: outcome, reason, rule and MLflow status tell how each ended
    assert sorted(children) == sorted(t.trial_id for t in trials)
    kinds = set()
    for trial in trials:
        run = children[trial.trial_id]
        tags, outcome = run.data.tags, trial_outcome(trial, "ASHA")
        kinds.add(tags["outcome"])
        # the run itself, however it was written (whole, or call by call)
        info = run.info
        assert info.run_name == tags["mlflow.runName"] == trial.name
        assert info.lifecycle_stage == "active" and info.start_time <= info.end_time
        assert info.artifact_uri.endswith(f"/{info.run_id}/artifacts")
        assert tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.data.params["lr"] == str(trial.config["lr"])
        assert tags["outcome"] == outcome.tag
        if trial.status == ERROR:
            assert run.info.status == "FAILED" and tags["outcome"] == "errored"
            assert tags["error"] == "ValueError: diverged at step 1"
            assert "error.txt" in [a.path for a in client.list_artifacts(run.info.run_id)]
            text = artifact_text(client, run, "error.txt")
            assert "Traceback" in text and "diverged at step 1" in text
        elif tags["outcome"] == "stopped-early":
            assert run.info.status == "FINISHED" and trial.iteration < 9
            assert tags["stop_rule"] == "ASHA"
            assert tags["stop_reason"].startswith("stopped by ASHA at rung ")
            assert tags["mlflow.note.content"] == tags["stop_reason"]
        else:
            assert run.info.status == "FINISHED" and trial.iteration == 9
            assert tags["stop_reason"] == "completed (training_iteration reached)"
            assert "stop_rule" not in tags
        # a name MLflow rejects is mended; a value it cannot store is skipped; the rest stay
        assert run.data.params["bad_key_"] == "1" and "huge" not in run.data.metrics
        if trial.iteration:
            history = client.get_metric_history(run.info.run_id, "acc_1")
            assert [m.step for m in history] == list(range(1, trial.iteration + 1))
            assert run.data.metrics["mean_accuracy"] == pytest.approx(
                trial.last_result["mean_accuracy"])
    assert kinds == {"completed", "stopped-early", "errored"}
    ranked = client.search_runs([experiment.experiment_id], "metrics.mean_accuracy > 0",
                                order_by=["metrics.mean_accuracy DESC"])
    assert ranked[0].data.tags["trial_id"] == best_trial(trials, "mean_accuracy", "max").trial_id
    assert len(client.search_runs([experiment.experiment_id], "params.lr = '0.5'")) == 1

    # the parent run: best trial, settings, counts by outcome, spec and leaderboard
    best = best_trial(trials, "mean_accuracy", "max")
    assert parent.info.status == "FINISHED"
    assert parent.data.params["best.lr"] == str(best.config["lr"])
    assert parent.data.params["best.bad_key_"] == "1"
    assert parent.data.metrics["best.mean_accuracy"] == pytest.approx(
        best.last_result["mean_accuracy"])
    assert parent.data.tags["best.trial_id"] == best.trial_id
    assert best.name in parent.data.tags["mlflow.note.content"]  # the run's description
    assert parent.data.tags["tuneflows.metric"] == "mean_accuracy"
    assert parent.data.params["scheduler"] == "AsyncHyperBandScheduler"
    assert parent.data.params["scheduler.max_t"] == "9"  # as given
    assert parent.data.params["scheduler.mode"] == "max"
    assert parent.data.params["searcher"] == "BasicVariantGenerator"
    counts = {k: int(v) for k, v in parent.data.tags.items() if k.startswith("trials.")}
    assert counts["trials.total"] == 6
    assert counts["trials.errored"] == 1
    assert counts["trials.completed"] + counts["trials.stopped-early"] == 5
    assert counts["trials.stopped-early.ASHA"] == counts["trials.stopped-early"]
    spec = json.loads(artifact_text(client, parent, "experiment.json"))
    assert spec["stop"] == {"training_iteration": 9} and spec["num_samples"] == 1
    assert spec["config"]["lr"] == "GridSearch(values=[0.6, 0.5, 0.1, 0.4, 0.2, 0.01])"
    rows = list(csv.DictReader(io.StringIO(artifact_text(client, parent, "leaderboard.csv"))))
    assert [r["trial_id"] for r in rows][0] == best.trial_id and len(rows) == 6
    assert {r["outcome"] for r in rows} == {"completed", "stopped early by ASHA", "errored"}


class FailsOnTrialOne(FIFOScheduler):
    """Raises on the second trial's third result: the flow fails while trials run."""

    def on_trial_result(self, trial, result):
        if trial.trial_id.endswith("1") and result["training_iteration"] >= 3:
            raise RuntimeError("scheduler broke")
        return super().on_trial_result(trial, result)


def slow(config, reporter):
    for _ in range(400):  # runs on (8 s) well after the other trial's third result
        time.sleep(0.02)
        reporter(mean_accuracy=config["x"])


def test_a_failing_flow_leaves_the_parent_failed_and_its_trials_killed(tune_env, mlflow_uri):
    with pytest.raises(RuntimeError, match="scheduler broke"):
        tuneflows.run_experiments({"mlflow_failing": {
            "run": slow, "config": {"x": tuneflows.grid_search([1, 2])},
            "stop": {"training_iteration": 400},
        }}, scheduler=FailsOnTrialOne(), verbose=0, round_seconds=0.1)
    _, parent, children = runs_of(client_for(mlflow_uri), "mlflow_failing")
    assert parent.info.status == "FAILED"
    assert len(children) == 2
    for run in children.values():
        assert run.info.status == "KILLED"
        assert run.data.tags["status"] == "KILLED" and run.data.tags["outcome"] == "unfinished"
        assert run.data.tags["stop_reason"] == (
            "the experiment ended (FAILED) while the trial was RUNNING")


# ---------------------------------------------------------------- the store itself
@pytest.fixture
def store(tmp_path, mlflow_uri):
    """A store on the session's MLflow database with a parent and one trial run."""
    store = MlflowStore(f"store_{tmp_path.name}", str(tmp_path), tracking_uri=mlflow_uri)
    store.open_experiment("e1", "parent", {})
    store.create_trial_run("t1", "trial", {})
    return store


def test_a_batch_with_a_rejected_name_keeps_its_valid_values(store, caplog):
    """Names the driver would have mended reach the store as they are: MLflow rejects
    them one at a time and the rest of the batch is written."""
    rows = [(step, 1_000 + step, {"loss": 1.0 / step, "acc@1": 0.5, "eval/acc": step / 10})
            for step in (1, 2, 3)]
    with caplog.at_level(logging.WARNING, logger="tuneflows.recording.mlflow.store"):
        store.write("t1", rows, params={"lr": "0.1", "bad(key)": "1"},
                    tags={"note": "kept", "bad tag!": "x"})
    run = store.client.get_run(store.trial_runs["t1"])
    assert run.data.params == {"lr": "0.1"}
    assert run.data.tags["note"] == "kept" and "bad tag!" not in run.data.tags
    assert set(run.data.metrics) == {"loss", "eval/acc"}
    history = store.client.get_metric_history(run.info.run_id, "loss")
    assert sorted(m.step for m in history) == [1, 2, 3]
    warned = " ".join(r.getMessage() for r in caplog.records)
    for name in ("'acc@1'", "'bad(key)'", "'bad tag!'"):
        assert name in warned


def test_a_full_batch_with_tags_stays_within_mlflow_s_entity_limit(store):
    rows = [(step, 1_000 + step, {"loss": float(step)}) for step in range(1, 1000)]
    store.write("t1", rows, tags={f"tag{i}": "x" for i in range(5)})
    history = store.client.get_metric_history(store.trial_runs["t1"], "loss")
    assert len(history) == 999


def test_a_resumed_parent_keeps_its_first_params_and_tags_the_new_values(store):
    store.log_parent({"best.lr": "0.1"}, {"best.acc": 0.5}, {}, {"notes.txt": "first"})
    store.log_parent({"best.lr": "0.2", "best.depth": "3"}, {"best.acc": 0.7}, {}, {})
    run = store.client.get_run(store.parent_run_id)
    assert run.data.params == {"best.lr": "0.1", "best.depth": "3"}
    assert run.data.tags["best.lr"] == "0.2"
    assert run.data.metrics["best.acc"] == 0.7


def test_existing_experiments_get_the_model_training_kind_unless_they_have_one(tmp_path,
                                                                                mlflow_uri):
    client = client_for(mlflow_uri)
    client.create_experiment(f"plain_{tmp_path.name}")
    client.create_experiment(f"genai_{tmp_path.name}",
                             tags={mlflow_tags.EXPERIMENT_KIND: "genai_development"})
    for name, kind in ((f"plain_{tmp_path.name}", MODEL_TRAINING_KIND),
                       (f"genai_{tmp_path.name}", "genai_development")):
        MlflowStore(name, str(tmp_path), tracking_uri=mlflow_uri)
        assert client.get_experiment_by_name(name).tags[mlflow_tags.EXPERIMENT_KIND] == kind
