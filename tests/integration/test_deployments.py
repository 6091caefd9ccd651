"""The project's own ``prefect.yaml``, deployed for real as deployments/README.md says: a
``tuneflows server start --automations`` (its own PREFECT_HOME, on a free loopback port;
no MLFLOW_TRACKING_URI: the results' default store), a process work pool,
``prefect deploy --all`` from a clone of the repository (committed work only) and a
``prefect worker start``; the experiments are kept tiny through the runs' parameters.

The server, worker and clone are shared by the module; nothing here touches the suite's
own Prefect test server (every setting goes to the subprocesses' environments, and the
test process talks to this server inside ``temporary_settings``).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any, Optional

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TINY = {"num_samples": 1, "stop": {"training_iteration": 2}}
DATASET = "tuneflows.dataset.digits-v2"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(check, deadline_s: float, what: str) -> Any:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(1)
    pytest.fail(f"{what} within {deadline_s:.0f} s")


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


class Stack:
    """The server, the worker's environment and the clone the deployments run from."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.clone = os.path.join(root, "clone")
        self.results = os.path.join(root, "results")
        # no MLFLOW_TRACKING_URI, as deployments/README.md: the default store of the results
        self.mlflow_uri = "sqlite:///" + os.path.join(self.results, "mlflow.db")
        self.api_url = ""  # what `tuneflows server start` prints
        bin_dir = os.path.dirname(sys.executable)
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("MLFLOW_TRACKING_URI", "PREFECT_API_URL")}
        self.env.update(
            PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""),
            PREFECT_HOME=os.path.join(root, "prefect_home"),
            TUNEFLOWS_PREFECT_PORT=str(_free_port()),  # 4200 may be taken on this machine
            TUNEFLOWS_HOME=self.clone, TUNE_RESULT_DIR=self.results,
        )
        self.processes: list[subprocess.Popen] = []

    def tuneflows_server(self, *args: str) -> str:
        """``tuneflows server ARGS`` (before PREFECT_API_URL is exported, as the guide)."""
        env = {k: v for k, v in self.env.items() if k != "PREFECT_API_URL"}
        done = subprocess.run(["tuneflows", "server", *args], cwd=self.clone, env=env,
                              capture_output=True, text=True, timeout=240)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done.stdout

    def prefect(self, *args: str, timeout: float = 120) -> str:
        done = subprocess.run(["prefect", "--no-prompt", *args], cwd=self.clone, env=self.env,
                              capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done.stdout

    def start(self, *args: str, log: str) -> None:
        with open(os.path.join(self.root, log), "w") as out:
            self.processes.append(subprocess.Popen(
                ["prefect", *args], cwd=self.clone, env=self.env, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True))

    def log(self, name: str) -> str:
        with open(os.path.join(self.root, name)) as f:
            return f.read()[-4000:]

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)

    def client(self):
        """A Prefect client of this server, for the test process only."""
        from prefect.client.orchestration import get_client
        from prefect.settings import PREFECT_API_URL, temporary_settings

        class Scoped:
            def __enter__(inner):
                inner.settings = temporary_settings({PREFECT_API_URL: self.api_url})
                inner.settings.__enter__()
                inner.client = get_client(sync_client=True)
                return inner.client.__enter__()

            def __exit__(inner, *exc):
                inner.client.__exit__(*exc)
                inner.settings.__exit__(*exc)

        return Scoped()

    def run(self, deployment: str, parameters: dict) -> str:
        """Creates a flow run of ``deployment``; returns its id."""
        with self.client() as client:
            found = client.read_deployment_by_name(deployment)
            return str(client.create_flow_run_from_deployment(found.id, parameters=parameters).id)

    def wait(self, flow_run_id: str, deadline_s: float = 240) -> Any:
        """The flow run once it is in a final state (it must complete)."""
        def final() -> Optional[Any]:
            with self.client() as client:
                run = client.read_flow_run(flow_run_id)
            return run if run.state is not None and run.state.is_final() else None

        run = _wait_for(final, deadline_s, f"flow run {flow_run_id} to end")
        assert run.state.is_completed(), (run.state, self.log("worker.log"))
        return run


@pytest.fixture(scope="module")
def stack():
    # Not under pytest's basetemp: another pytest session on the machine prunes old ones,
    # which would delete the clone and results under a running worker.
    root = tempfile.mkdtemp(prefix="tuneflows-deployments-")
    stack = Stack(root)
    subprocess.run(["git", "clone", "-q", REPO, stack.clone], check=True, timeout=60)
    try:
        started = stack.tuneflows_server("start", "--automations")  # as deployments/README.md
        stack.api_url = re.search(r"export PREFECT_API_URL=(\S+)", started).group(1)
        stack.env["PREFECT_API_URL"] = stack.api_url
        assert _healthy(stack.api_url) and "automations on" in started, started
        stack.prefect("work-pool", "create", "local", "--type", "process")
        stack.prefect("deploy", "--all", timeout=180)
        stack.start("worker", "start", "--pool", "local", log="worker.log")
        yield stack
    finally:
        stack.stop()
        stack.tuneflows_server("stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def started(stack):
    """The runs that do not depend on one another, started together (the worker runs
    them side by side)."""
    return {
        "asha": stack.run("tune-spec/on-demand-asha", TINY),
        "nightly": stack.run("tune-spec/nightly-quickstart", {"num_samples": 2, **{
            "stop": TINY["stop"]}}),
        "digits": stack.run("tune-then-train/digits-champion",
                            {"num_samples": 2, "max_iterations": 1}),
        "event": stack.prefect("event", "emit", "tuneflows.dataset.updated", "--resource-id",
                               DATASET, "--payload", '{"path": "/data/digits-v2.csv"}'),
    }


def _mlflow(stack: Stack):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=stack.mlflow_uri, registry_uri=stack.mlflow_uri)


def test_the_on_demand_asha_deployment_completes(stack, started):
    from tuneflows.recording.mlflow.runs import parent_runs
    from tuneflows.recording.trial_dirs import read_trial_dirs

    run = stack.wait(started["asha"])
    assert run.parameters["scheduler"] == "asha"
    [asha] = [r for r in parent_runs(_mlflow(stack), "yaml_quickstart")
              if r.data.tags["tuneflows.scheduler"] == "AsyncHyperBandScheduler"]
    assert asha.info.status == "FINISHED" and asha.data.tags["tuneflows.metric"] == "mean_accuracy"
    trials = read_trial_dirs(asha.data.tags["tuneflows.logdir"])  # its run directory
    assert len(trials) == 6 and {t.trial.status for t in trials} == {"TERMINATED"}


def test_the_nightly_deployment_tunes_again_warm_started_from_the_last_run(stack, started):
    from tuneflows.recording.mlflow.runs import parent_runs
    from tuneflows.runs.run_dirs import run_dirs

    stack.wait(started["nightly"])
    second = stack.run("tune-spec/nightly-quickstart", {"num_samples": 2, "stop": TINY["stop"]})
    stack.wait(second)
    runs = run_dirs(os.path.join(stack.results, "nightly_quickstart"))
    assert len(runs) == 2  # each night a run of its own
    newer, older = parent_runs(_mlflow(stack), "nightly_quickstart")
    assert newer.data.tags["tuneflows.warm_start.parent_run_id"] == older.info.run_id
    assert newer.data.tags["tuneflows.warm_start.trials"] == "2"  # TPE learned both
    assert [r.data.tags["tuneflows.run_id"] for r in (older, newer)] == [
        os.path.basename(d) for d in runs]


def test_a_dataset_event_starts_the_triggered_deployment_with_its_payload(stack, started):
    assert started["event"]

    def triggered() -> Optional[str]:
        with stack.client() as client:
            deployment = client.read_deployment_by_name("tune-spec/dataset-updated")
            from prefect.client.schemas.filters import DeploymentFilter

            runs = client.read_flow_runs(
                deployment_filter=DeploymentFilter(id={"any_": [deployment.id]}))
        return str(runs[0].id) if runs else None

    run = stack.wait(_wait_for(triggered, 60, "the event to start a flow run"))
    assert run.parameters["dataset"] == DATASET
    assert run.parameters["dataset_path"] == "/data/digits-v2.csv"
    from tuneflows.recording.mlflow.runs import parent_runs

    tagged = [r for r in parent_runs(_mlflow(stack), "yaml_quickstart")
              if r.data.tags.get("tuneflows.dataset") == DATASET]
    assert len(tagged) == 1
    assert tagged[0].data.tags["tuneflows.dataset.path"] == "/data/digits-v2.csv"


def test_tune_then_train_registers_a_version_and_moves_the_alias(stack, started):
    run = stack.wait(started["digits"])
    client = _mlflow(stack)
    [version] = client.search_model_versions("name='digits-classifier'")
    assert client.get_model_version_by_alias("digits-classifier", "champion").version == \
        version.version
    assert run.state.is_completed()
