"""A run explained in pictures, read back where users look: the MLflow parent run's
picture pages and ``importance.<param>`` metrics (from the real MLflow store), the Prefect
leaderboard, progress and summary artifacts (from the real Prefect server), the
terminal's importance table, and ``Analysis.importances()``. ``lr`` decides the metric,
``noise`` does not: ``lr`` ranks first everywhere."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid

import ray.cloudpickle
from mlflow import MlflowClient

import tuneflows
from tuneflows.analysis import Analysis
from tuneflows.schedulers import AsyncHyperBandScheduler

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

PAGES = {"optimization_history.html", "learning_curves.html", "parameter_importances.html",
         "metric_by_parameter.html", "importances.json"}


def climb(config, reporter):
    """``acc`` climbs towards 1 at rate ``lr``; ``noise`` changes nothing."""
    acc = 0.0
    for _ in range(6):
        acc += config["lr"] * (1 - acc)
        time.sleep(0.005)
        reporter(acc=acc)


def prefect_artifacts(name):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter, ArtifactFilterFlowRunId, FlowRunFilter, FlowRunFilterName,
    )
    from prefect.client.schemas.sorting import ArtifactSort

    async def read():
        async with get_client() as client:
            [run] = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name])))
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id])),
                sort=ArtifactSort.CREATED_DESC)
        latest = {}
        for artifact in found:  # newest first; the progress bar has no key of its own
            if artifact.key is None:
                continue
            latest.setdefault(artifact.key.rpartition("-")[2], artifact)
        return latest

    return asyncio.run(read())


def test_a_run_is_explained_in_pictures_and_importances(tune_env, capsys, monkeypatch):
    monkeypatch.setenv("TUNEFLOWS_PICTURES", "1")  # the default; the suite turns it off
    name = f"pictures_{uuid.uuid4().hex[:6]}"
    trials = tuneflows.run_experiments({name: {
        "run": climb, "stop": {"training_iteration": 6},
        "config": {"lr": tuneflows.grid_search([0.001, 0.01, 0.1, 1.0]),
                   "noise": tuneflows.grid_search([0.2, 0.8])},
    }}, scheduler=AsyncHyperBandScheduler(metric="acc", mode="max", max_t=6, grace_period=1,
                                          brackets=1), verbose=1)
    stopped = [t for t in trials if (t.last_result or {}).get("early_stopped")]
    assert len(trials) == 8 and stopped

    # MLflow: the pages and importances on the parent run
    client = MlflowClient(os.environ["MLFLOW_TRACKING_URI"])
    experiment = client.get_experiment_by_name(name)
    [parent] = client.search_runs([experiment.experiment_id],
                                  filter_string="tags.`tuneflows.experiment_id` LIKE '%'")
    files = {os.path.basename(f.path)
             for f in client.list_artifacts(parent.info.run_id, "pictures")}
    assert files == PAGES
    metrics = parent.data.metrics
    assert metrics["importance.lr"] > metrics["importance.noise"]
    folder = client.download_artifacts(parent.info.run_id, "pictures", str(tune_env))
    curves = open(os.path.join(folder, "learning_curves.html")).read()
    assert f"stopped early ({len(stopped)})" in curves
    slices = open(os.path.join(folder, "metric_by_parameter.html")).read()
    assert '"type":"log"' in slices and "lr (log)" in slices  # a grid over decades: log axis
    made = json.load(open(os.path.join(folder, "importances.json")))
    assert list(made["importances"]) == ["lr", "noise"] and made["ended"] == 8
    assert list(Analysis.from_mlflow(name).importances()) == ["lr", "noise"]

    # Prefect: the leaderboard, progress and summary
    artifacts = prefect_artifacts(name)
    rows = json.loads(artifacts["leaderboard"].data)
    assert list(rows[0])[:4] == ["lr", "noise", "rank", "trial"]
    assert rows[0]["lr"] == 1.0
    progress = artifacts["progress"].description
    assert progress.startswith("8 of 8 trials ended (") and "iterations" in progress
    summary = artifacts["summary"].data
    assert "| parameter | importance |\n|---|---|\n| lr |" in summary
    run_page = f"#/experiments/{experiment.experiment_id}/runs/{parent.info.run_id}"
    assert f"{run_page}/artifacts/pictures/learning_curves.html" in summary

    # the terminal: the importances under the final status block, the best trial named once
    out = capsys.readouterr().out
    closing = out[out.rindex("== Status =="):]
    assert closing.count("Best trial:") == 1
    assert closing.index("Best trial:") < closing.index("Parameter importances")
    assert "Parameter importances for acc (fANOVA)" in closing
    assert closing.index("│ lr ") < closing.index("│ noise ")
