"""Tune-then-train run exactly as deployments/README.md says (``python -m
flows.tune_then_train`` from the project root), as a new user runs it: a HOME of its own,
no MLFLOW_TRACKING_URI, no PREFECT_API_URL, no results directory set. The run starts the
local Prefect server of that HOME; everything is then read back where the user looks:
MLflow's registry, runs and their times, Prefect's flow run, task runs and artifacts.

The one test of the suite that pays for a new Ray and a new Prefect server (≈ 30 s):
every other test of these records runs on the session's shared ones.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
#: Environment a new user does not have (the suite's own settings included).
UNSET_PREFIXES = ("MLFLOW_", "PREFECT_", "TUNE_", "TUNEFLOWS_", "RAY_ADDRESS")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def new_user(tmp_path):
    """A project checkout (``flows/``) and a fresh HOME; the user's local Prefect server
    is stopped at the end."""
    home, project = tmp_path / "home", tmp_path / "project"
    home.mkdir()
    shutil.copytree(os.path.join(REPO, "flows"), project / "flows",
                    ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(UNSET_PREFIXES)}
    # another server on this machine may hold 4200: README's TUNEFLOWS_PREFECT_PORT picks one
    env.update(HOME=str(home), TUNEFLOWS_PREFECT_PORT=str(_free_port()),
               PATH=os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""))
    yield env, home, project
    subprocess.run([sys.executable, "-m", "tuneflows.cli", "server", "stop"], env=env,
                   cwd=str(home), capture_output=True, timeout=120)


def test_tune_then_train_out_of_the_box(new_user):
    from mlflow.tracking import MlflowClient

    from tuneflows.recording.mlflow.runs import parent_run, trial_runs

    env, home, project = new_user
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "flows.tune_then_train"], cwd=str(project),
                          env=env, capture_output=True, text=True, timeout=480)
    print(f"python -m flows.tune_then_train: {time.monotonic() - started:.1f} s")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "alias 'champion' set to version 1." in done.stdout, done.stdout[-3000:]
    assert sorted(os.listdir(project)) == ["flows"]  # nothing written to the cwd

    # The model is in the store the tuning used, registered, with the alias on it.
    uri = "sqlite:///" + str(home / "ray_results" / "mlflow.db")
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    champion = client.get_model_version_by_alias("digits-classifier", "champion")
    assert str(champion.version) == "1"
    model_run = client.get_run(champion.run_id)
    tuning = parent_run(client, "digits")
    assert model_run.data.tags["tuneflows.tuning_run_id"] == tuning.info.run_id
    assert model_run.info.experiment_id == tuning.info.experiment_id

    # MLflow's trial runs last as long as their trials ran: 8 trials on 2 CPUs queue,
    # and a queued trial's run starts when the trial does, not with the experiment.
    runs = trial_runs(client, tuning)
    assert len(runs) == 8
    for run in runs:
        ran_s = (run.info.end_time - run.info.start_time) / 1000
        assert abs(ran_s - run.data.metrics["time_total_s"]) < 5.0, (
            run.info.run_name, ran_s, run.data.metrics["time_total_s"])
    first_end = min(r.info.end_time for r in runs)
    assert sum(r.info.start_time >= first_end for r in runs) >= 4  # they waited their turn

    # Prefect and MLflow point at each other.
    flow_run_id = tuning.data.tags["tuneflows.prefect.flow_run_id"]
    # the port asked for, or a free one when something took it meanwhile (Ray's workers)
    printed = re.search(r"^Prefect UI: (http://127\.0\.0\.1:\d+) \(watch the run live; a "
                        r"local Prefect server tuneflows started", done.stdout, re.M)
    assert printed, done.stdout[:3000]
    ui = printed.group(1)
    url = f"{ui}/runs/flow-run/{flow_run_id}"
    assert tuning.data.tags["tuneflows.prefect.flow_run_url"] == url
    assert url in tuning.data.tags["mlflow.note.content"]
    _check_prefect_links(f"{ui}/api", flow_run_id, tuning, runs)


def _check_prefect_links(api_url: str, flow_run_id: str, tuning, runs) -> None:
    """The flow run names the MLflow experiment and parent run (tags, a link artifact,
    the summary); each round's task run names its trial's MLflow run."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, FlowRunFilter
    from prefect.settings import PREFECT_API_URL, temporary_settings

    by_trial = {r.data.tags["trial_id"]: r.info.run_id for r in runs}
    with temporary_settings({PREFECT_API_URL: api_url}), get_client(sync_client=True) as prefect:
        flow_run = prefect.read_flow_run(flow_run_id)
        assert flow_run.name == "digits" and flow_run.state.is_completed()
        assert f"mlflow_run:{tuning.info.run_id}" in flow_run.tags
        assert f"mlflow_experiment:{tuning.info.experiment_id}" in flow_run.tags
        artifacts = prefect.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id={"any_": [flow_run_id]}))
        links = [a for a in artifacts if a.key == "digits-mlflow"]  # a markdown link
        assert links and tuning.info.run_id in links[0].data
        summary = [a for a in artifacts if a.key == "digits-summary"]
        assert summary and tuning.info.run_id in summary[-1].data
        deadline = time.monotonic() + 90  # task-run states arrive in batches
        while True:
            rounds = prefect.read_task_runs(flow_run_filter=FlowRunFilter(
                id={"any_": [flow_run_id]}))
            tagged = {t.name: t.tags for t in rounds}
            settled = rounds and all(t.state is not None and t.state.is_final() for t in rounds)
            if settled or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    assert rounds
    for name, tags in tagged.items():
        [trial] = [t.removeprefix("trial:") for t in tags if t.startswith("trial:")]
        assert f"mlflow_run:{by_trial[trial]}" in tags, (name, tags)
