"""What the Prefect UI shows of an experiment, read back with the Prefect client from
the real test server after real runs: the leaderboard, progress and summary artifacts,
the round task runs' final states and tags, the decision lines of the flow run's logs,
and the flow run's result (the best trial). Once with ``mode="max"`` (ASHA stops some
trials) and once with ``mode="min"`` (a trial restarted after a failure, one errored)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
import uuid

import pytest
import ray.cloudpickle
from mlflow import MlflowClient

import tuneflows
from tuneflows.model.best_trial import ranked_trials
from tuneflows.schedulers import AsyncHyperBandScheduler
from tuneflows.trial import ERROR, TERMINATED

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def climb(config, reporter):
    """``acc`` climbs towards 1 at rate ``lr``; ``loss = 1 - acc``. ``kind``: "ok",
    "fail_once" (raises at iteration 2 the first time) or "error" (always raises there)."""
    lr, kind = config["case"] if "case" in config else (config["lr"], "ok")
    acc = 0.0
    for step in range(1, 10):
        if step == 2 and kind == "error":
            raise ValueError("this trial always fails at iteration 2")
        if step == 2 and kind == "fail_once" and not os.path.exists(config["marker"]):
            open(config["marker"], "w").close()
            raise RuntimeError("a one-off failure")
        acc += lr * (1 - acc)
        time.sleep(0.005)
        reporter(acc=acc, loss=1 - acc)


def _flow_run_records(name, trials):
    """The flow run named ``name``: its artifacts, task runs (once every trial's rounds
    have reached the server with their final states), log messages (with their levels)
    and result."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter, ArtifactFilterFlowRunId, FlowRunFilter, FlowRunFilterName, LogFilter,
        LogFilterFlowRunId,
    )
    from prefect.client.schemas.sorting import ArtifactSort, LogSort

    async def read():
        async with get_client() as client:
            [run] = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name])))
            # Task-run states and logs reach the server as events, recorded in batches
            # behind whatever earlier tests sent to the same server.
            deadline = time.monotonic() + 90
            while True:
                task_runs = await client.read_task_runs(
                    flow_run_filter=FlowRunFilter(id={"any_": [run.id]}))
                logs = await client.read_logs(
                    log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])),
                    sort=LogSort.TIMESTAMP_ASC)
                ended = sum(1 for t in trials if t.status in (TERMINATED, ERROR))
                decisions = [log for log in logs if log.message.startswith("Trial ")]
                if _rounds_complete(task_runs, trials) and len(decisions) >= ended:
                    break
                assert time.monotonic() < deadline, (
                    f"the server's task runs after 90 s: "
                    f"{sorted((tr.name, tr.state and tr.state.name, tuple(tr.tags)) for tr in task_runs)}")
                await asyncio.sleep(0.5)
            artifacts = await client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id])),
                sort=ArtifactSort.CREATED_DESC)
            result = await run.state.aresult()
        return run, artifacts, task_runs, {log.message: log.level for log in logs}, result

    return asyncio.run(read())


def _rounds_complete(task_runs, trials):
    """Whether every round of every trial is on the server in its final state: each
    task run final and tagged with its trial (the tags arrive with the final state),
    each trial's rounds numbered 1..n without a gap, its last tagged with an outcome."""
    if not all(tr.state is not None and tr.state.is_final()
               and any(t.startswith("trial:") for t in tr.tags)
               for tr in task_runs):
        return False
    for trial in trials:
        rounds = {int(tr.name.rpartition("/round-")[2]): tr for tr in task_runs
                  if f"trial:{trial.trial_id}" in tr.tags}
        if not rounds or sorted(rounds) != list(range(1, max(rounds) + 1)):
            return False
        if not any(t.startswith("outcome:") for t in rounds[max(rounds)].tags):
            return False
    return True


def _latest(artifacts, key):
    return next(a for a in artifacts if a.key == key)  # newest first


def _last_rounds(task_runs):
    """Each trial's last round task run, by trial id (from its ``trial:`` tag)."""
    last = {}
    for tr in task_runs:
        trial_id = next(t[len("trial:"):] for t in tr.tags if t.startswith("trial:"))
        index = int(tr.name.rpartition("/round-")[2])
        if trial_id not in last or index > last[trial_id][0]:
            last[trial_id] = (index, tr)
    return {trial_id: tr for trial_id, (_, tr) in last.items()}


def _check_leaderboard_progress_summary(artifacts, name, trials, metric, mode):
    key = name.lower().replace("_", "-")
    rows = json.loads(_latest(artifacts, f"{key}-leaderboard").data)
    ranked = ranked_trials(trials, metric, mode)
    assert [row["trial_id"] for row in rows] == [t.trial_id for t in ranked]
    values = [row[metric] for row in rows]
    assert values == sorted(values, reverse=mode == "max")
    by_id = {t.trial_id: t for t in trials}
    for row in rows:
        trial = by_id[row["trial_id"]]
        assert (row["status"], row["iterations"]) == (trial.status, trial.iteration)
        assert row["reason"] == (trial.error_msg if trial.status == ERROR else trial.status_reason)
    assert _latest(artifacts, f"{key}-progress").data == 100
    summary = _latest(artifacts, f"{key}-summary").data
    best = ranked[0]
    assert f"**Best trial:** `{best.name}` (`{best.trial_id}`)" in summary
    assert f"({mode})" in summary
    return rows, summary


def test_asha_max_run_tells_its_story_in_prefect(tune_env):
    name = f"vis_max_{uuid.uuid4().hex[:6]}"
    trials = tuneflows.run_experiments({name: {
        "run": climb, "stop": {"training_iteration": 9},
        "config": {"lr": tuneflows.grid_search([0.5, 0.4, 0.3, 0.2, 0.1, 0.05])},
    }}, scheduler=AsyncHyperBandScheduler(metric="acc", mode="max", max_t=9, grace_period=1,
                                          brackets=1), verbose=False)
    stopped = [t for t in trials if t.status_reason.startswith("stopped at rung")]
    completed = [t for t in trials if t.status_reason == "training_iteration reached"]
    assert stopped and completed and len(stopped) + len(completed) == 6
    run, artifacts, task_runs, logs, result = _flow_run_records(name, trials)
    assert run.state.is_completed()

    rows, summary = _check_leaderboard_progress_summary(artifacts, name, trials, "acc", "max")
    assert rows[0]["trial_id"] == trials[0].trial_id  # lr=0.5 climbs fastest
    for row in rows:
        expected = "stopped early by ASHA" if row["trial_id"] in {t.trial_id for t in stopped} \
            else "completed"
        assert row["outcome"] == expected
    assert f"- stopped early: {len(stopped)} (ASHA: {len(stopped)})" in summary
    assert f"- completed: {len(completed)}" in summary
    # the MLflow line links the experiment's runs page in the model-training view
    experiment = MlflowClient(os.environ["MLFLOW_TRACKING_URI"]).get_experiment_by_name(name)
    assert (f"http://127.0.0.1:5000/#/experiments/{experiment.experiment_id}/runs"
            f"?workflowType=machine_learning (experiment '{name}')") in summary

    last = _last_rounds(task_runs)
    assert set(last) == {t.trial_id for t in trials}
    for trial in stopped:
        state = last[trial.trial_id].state
        assert state.is_cancelled() and state.name == "Stopped"  # grey in the timeline
        # which rung stops a trial depends on the order trials reach it (asynchronous)
        decision = "stopped by ASHA " + trial.status_reason[len("stopped "):]
        assert state.message.startswith(decision + " (iteration")
        assert {"outcome:stopped-early", "stopped-by:ASHA"} <= set(last[trial.trial_id].tags)
        assert any(trial.trial_id in line and decision in line for line in logs)
    for trial in completed:
        state = last[trial.trial_id].state
        assert state.name == "Completed"
        assert state.message.startswith("completed (training_iteration reached) (iteration")
        assert state.message.endswith(f"9, acc={trial.last_result['acc']:.4g})")
        assert "outcome:completed" in last[trial.trial_id].tags
    earlier = [tr for tr in task_runs if tr not in last.values()]
    assert earlier and all(tr.state.message.startswith("continues (") for tr in earlier)

    assert result["best_trial_id"] == trials[0].trial_id
    assert result["best_config"] == trials[0].config
    assert result["best_metric"] == pytest.approx(trials[0].last_result["acc"])
    assert (result["metric"], result["mode"], result["trials"]) == ("acc", "max", 6)


def test_min_mode_with_a_restart_and_an_error(tune_env, capsys):
    name = f"vis_min_{uuid.uuid4().hex[:6]}"
    marker = os.path.join(tune_env, "failed-once")
    os.makedirs(tune_env, exist_ok=True)
    trials = tuneflows.run_experiments({name: {
        "run": climb, "stop": {"training_iteration": 9}, "max_failures": 1,
        "config": {"case": tuneflows.grid_search([(0.3, "fail_once"), (0.2, "error"),
                                                  (0.5, "ok"), (0.1, "ok")]),
                   "marker": marker},
    }}, scheduler=AsyncHyperBandScheduler(metric="loss", mode="min", max_t=9, grace_period=3,
                                          brackets=1),
        verbose=0, raise_on_failed_trial=False)
    assert capsys.readouterr().out == ""  # verbose=0: nothing on the terminal
    restarted, errored = trials[0], trials[1]
    assert restarted.status == TERMINATED and restarted.num_failures == 1
    assert errored.status == ERROR
    run, artifacts, task_runs, logs, result = _flow_run_records(name, trials)

    rows, summary = _check_leaderboard_progress_summary(artifacts, name, trials, "loss", "min")
    assert rows[0]["trial_id"] == trials[2].trial_id  # lr=0.5: the lowest loss
    assert rows[-1]["trial_id"] == errored.trial_id and rows[-1]["outcome"] == "errored"
    assert "- errored: 1" in summary

    rounds = [tr for tr in task_runs if f"trial:{restarted.trial_id}" in tr.tags]
    [restart] = [tr for tr in rounds if tr.state.name == "Restarted"]
    assert restart.state.message.startswith(
        "restarted after failure 1/1: RuntimeError: a one-off failure (iteration 1")
    assert "decision:restart" in restart.tags and restart.state.is_crashed()
    [restart_line] = [line for line in logs if restarted.trial_id in line
                      and "restarted after failure 1/1: RuntimeError: a one-off failure" in line]
    assert logs[restart_line] == logging.WARNING
    [failed] = [tr for tr in task_runs
                if f"trial:{errored.trial_id}" in tr.tags and tr.state.is_failed()]
    assert failed.state.name == "Errored" and "outcome:errored" in failed.tags
    assert "ValueError: this trial always fails at iteration 2" in failed.state.message
    [error_line] = [line for line in logs
                    if errored.trial_id in line and "errored: ValueError" in line]
    assert logs[error_line] == logging.ERROR

    assert result["best_trial_id"] == trials[2].trial_id
    assert result["best_metric"] == pytest.approx(trials[2].last_result["loss"])
    assert result["outcomes"]["errored"] == 1
