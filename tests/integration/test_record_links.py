"""What a user reads of one run in MLflow and Prefect, on the suite's shared Ray and
Prefect server: queued trials' runs start when their trials do and last as long as they
ran, the parent run names every setting of the scheduler and searcher, and the two
tools point at each other (the flow run's id and page on the parent run; the MLflow
experiment and parent run on the flow run, as tags, a link artifact and in the summary;
each round's task run names its trial's MLflow run)."""

from __future__ import annotations

import sys
import time

import pytest
import ray.cloudpickle

import tuneflows
from tuneflows.schedulers import AsyncHyperBandScheduler

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

ITERATIONS, STEP_S = 6, 0.15


def steady(config, reporter):
    for _ in range(ITERATIONS):
        time.sleep(STEP_S)
        reporter(acc=config["x"])


@pytest.fixture(scope="module")
def linked_run(prefect_server, ray_session, mlflow_uri, tmp_path_factory):
    import os

    from mlflow import MlflowClient

    from tuneflows.recording.mlflow.runs import parent_run, trial_runs

    local_dir = str(tmp_path_factory.mktemp("links"))
    old = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = mlflow_uri
    try:
        asha = AsyncHyperBandScheduler(metric="acc", mode="max", max_t=ITERATIONS,
                                       grace_period=2, reduction_factor=3, brackets=1)
        trials = tuneflows.run_experiments({"record_links": {
            "run": steady, "local_dir": local_dir, "resources_per_trial": {"cpu": 1, "gpu": 0},
            "config": {"x": tuneflows.grid_search([0.1, 0.2, 0.3, 0.4])},
            "stop": {"training_iteration": ITERATIONS}}}, scheduler=asha, verbose=0)
    finally:
        if old is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = old
    client = MlflowClient(mlflow_uri)
    parent = parent_run(client, "record_links")
    return trials, parent, trial_runs(client, parent)


def test_queued_trials_runs_start_when_their_trials_do(linked_run):
    trials, _, runs = linked_run
    assert len(runs) == 4  # 4 trials, 2 CPUs: two wait for a slot
    first_end = min(r.info.end_time for r in runs)
    assert sum(r.info.start_time >= first_end for r in runs) == 2
    for run in runs:
        ran_s = (run.info.end_time - run.info.start_time) / 1000
        assert abs(ran_s - run.data.metrics["time_total_s"]) < 2.0, (
            run.info.run_name, ran_s, run.data.metrics["time_total_s"])


def test_the_parent_run_has_every_setting_of_the_scheduler_and_searcher(linked_run):
    _, parent, _ = linked_run
    params = parent.data.params
    assert (params["scheduler"], params["scheduler.grace_period"],
            params["scheduler.reduction_factor"], params["scheduler.brackets"],
            params["scheduler.max_t"], params["scheduler.time_attr"]) == (
        "AsyncHyperBandScheduler", "2", "3", "1", "6", "training_iteration")
    assert params["searcher"] == "BasicVariantGenerator"
    assert "searcher.num_samples" in params


def test_mlflow_and_prefect_point_at_each_other(linked_run):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, FlowRunFilter

    _, parent, runs = linked_run
    flow_run_id = parent.data.tags["tuneflows.prefect.flow_run_id"]
    assert f"/runs/flow-run/{flow_run_id}" in parent.data.tags["mlflow.note.content"]
    by_trial = {r.data.tags["trial_id"]: r.info.run_id for r in runs}
    with get_client(sync_client=True) as prefect:
        flow_run = prefect.read_flow_run(flow_run_id)
        assert flow_run.name == "record_links"
        assert {f"mlflow_run:{parent.info.run_id}",
                f"mlflow_experiment:{parent.info.experiment_id}"} <= set(flow_run.tags)
        artifacts = prefect.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id={"any_": [flow_run_id]}))
        [link] = [a for a in artifacts if a.key == "record-links-mlflow"]  # a markdown link
        assert f"/#/experiments/{parent.info.experiment_id}/runs/{parent.info.run_id}" in link.data
        [summary] = [a for a in artifacts if a.key == "record-links-summary"]
        assert f"MLflow parent run `{parent.info.run_id}`" in summary.data
        deadline = time.monotonic() + 90  # task-run states and tags arrive in batches
        while True:
            rounds = prefect.read_task_runs(flow_run_filter=FlowRunFilter(
                id={"any_": [flow_run_id]}))
            settled = rounds and all(t.state is not None and t.state.is_final() for t in rounds)
            if settled or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    assert len(rounds) >= 4
    for round_run in rounds:
        [trial] = [t.removeprefix("trial:") for t in round_run.tags if t.startswith("trial:")]
        assert f"mlflow_run:{by_trial[trial]}" in round_run.tags, (round_run.name, round_run.tags)
