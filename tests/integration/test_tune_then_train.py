"""The tune-then-train pipeline flow, for real: it tunes (a nested flow run), trains the
final model on Ray, logs it to MLflow linked to the tuning parent run, registers it, and
moves the alias only when the new version beats the champion on held-out data."""

from __future__ import annotations

import os
import time
import uuid

from tuneflows.recording.mlflow import tags as mlflow_tags


def test_the_alias_moves_only_to_a_better_model(tune_env):
    import mlflow.sklearn
    from mlflow import MlflowClient
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (FlowRunFilter, FlowRunFilterName, TaskRunFilter,
                                                TaskRunFilterFlowRunId)

    from flows.digits import digits_split
    from flows.tune_then_train import tune_then_train

    model_name = f"digits-{uuid.uuid4().hex[:8]}"  # the session's MLflow store is shared
    started = time.monotonic()
    first = tune_then_train(experiment_name="ttt_first", num_samples=4, max_iterations=2,
                            model_name=model_name)
    print(f"first pipeline run: {time.monotonic() - started:.1f} s")
    assert first["promoted"] and first["version"] == "1" and first["champion_version"] is None
    assert first["summary"].endswith("alias 'champion' set to version 1.")
    assert first["score"]["value"] > 0.8

    client = MlflowClient(os.environ["MLFLOW_TRACKING_URI"])
    champion = client.get_model_version_by_alias(model_name, "champion")
    assert str(champion.version) == "1" and float(champion.tags[mlflow_tags.HELD_OUT_VALUE]) == \
        first["score"]["value"]
    model_run = client.get_run(first["run_id"])
    tuning_run = client.get_run(model_run.data.tags[mlflow_tags.TUNING_RUN])
    assert tuning_run.info.run_id == first["tuning_run_id"]
    assert tuning_run.data.tags[mlflow_tags.EXPERIMENT_ID] == first["experiment_id"]
    assert model_run.data.metrics["test_accuracy"] == first["score"]["value"]
    model = mlflow.sklearn.load_model(f"models:/{model_name}@champion")
    data = digits_split()
    assert model.score(data.x_test, data.y_test) == first["score"]["value"]

    # Forced worse: heavy regularisation. The new version is registered; the alias stays.
    second = tune_then_train(experiment_name="ttt_second", num_samples=2, max_iterations=1,
                             model_name=model_name, overrides={"alpha": 10.0})
    assert not second["promoted"] and second["version"] == "2"
    assert second["champion_version"] == "1" and second["champion_value"] == first["score"]["value"]
    assert second["score"]["value"] < first["score"]["value"]
    assert "did not beat champion version 1" in second["summary"]
    assert second["summary"].endswith("alias 'champion' stays on version 1.")
    assert str(client.get_model_version_by_alias(model_name, "champion").version) == "1"
    assert client.get_model_version(model_name, "2").run_id == second["run_id"]

    with get_client(sync_client=True) as prefect:
        [tuning] = prefect.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=["ttt_first"])))
        assert tuning.state.is_completed() and tuning.parent_task_run_id is not None
        parent_task = prefect.read_task_run(tuning.parent_task_run_id)
        deadline = time.monotonic() + 90  # task-run states arrive as events, in batches
        while True:
            pipeline_tasks = prefect.read_task_runs(task_run_filter=TaskRunFilter(
                flow_run_id=TaskRunFilterFlowRunId(any_=[parent_task.flow_run_id])))
            names = {t.name.rsplit("-", 1)[0]: t for t in pipeline_tasks}
            expected = {"train-final-model", "evaluate-held-out", "register-model"}
            settled = expected <= set(names) and all(t.state.is_final() for t in pipeline_tasks)
            if settled or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    assert expected <= set(names)
    assert all(names[n].state.is_completed() for n in ("train-final-model", "evaluate-held-out"))
