"""A driver stopped by a signal, as a user (or a process supervisor) stops one: SIGINT
or SIGTERM to a driver subprocess ends it cleanly and non-zero within a deadline;
SIGKILL leaves no MLflow writer behind and no MLflow run RUNNING."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from tuneflows import latest_run_dir
from tuneflows.runs.state import load_state
from tuneflows.recording.trial_files import count_results

DRIVER = os.path.join(os.path.dirname(__file__), "recording_driver.py")


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _children(pid: int) -> list[tuple[int, str]]:
    """The pids and command lines of ``pid``'s child processes (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            found.append((int(entry), cmdline))
    return found


def _start_driver(local_dir: str, tmp_path, name: str,
                  ephemeral_api: bool = False) -> tuple[subprocess.Popen, dict, str]:
    """A driver running 2 long trials, once they have recorded 10 results; its pids.
    With ``ephemeral_api`` it runs on Prefect's ephemeral API server instead of the
    suite's."""
    from prefect.settings import PREFECT_API_URL

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = dict(os.environ, TUNE_RESULT_DIR=local_dir, MLFLOW_TRACKING_URI=uri,
               PREFECT_API_URL=PREFECT_API_URL.value())
    if ephemeral_api:
        del env["PREFECT_API_URL"]
        env.update(TUNEFLOWS_PREFECT_SERVER="ephemeral", PREFECT_HOME=str(tmp_path / "prefect"),
                   TUNEFLOWS_TIMING="1")
    pids_file = tmp_path / "pids.json"
    driver = subprocess.Popen([sys.executable, DRIVER, name, str(pids_file), "--iterations", "500"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 180
    while count_results(os.path.join(local_dir, name)) < 10:
        if driver.poll() is not None or time.monotonic() > deadline:
            driver.kill()
            pytest.fail("the driver recorded no results: " + driver.communicate()[0][-3000:])
        time.sleep(0.1)
    with open(pids_file) as f:
        return driver, json.load(f), uri


def _mlflow_statuses(uri: str, name: str) -> dict[str, str]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(name)
    return {r.data.tags.get("trial_id", "parent"): r.info.status
            for r in client.search_runs([experiment.experiment_id])}


def _wait_gone(pids: list[int], within_s: float) -> list[int]:
    deadline = time.monotonic() + within_s
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return [p for p in pids if _alive(p)]


def _flow_run_state(name: str) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    with get_client(sync_client=True) as client:
        [run] = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name])))
        return run.state.type.value


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, None), (signal.SIGTERM, 143)])
def test_sigint_and_sigterm_stop_the_experiment_cleanly(signum, code, prefect_server,
                                                        local_dir, tmp_path):
    name = f"signalled_{uuid.uuid4().hex[:6]}"
    driver, pids, uri = _start_driver(local_dir, tmp_path, name)
    signalled = time.monotonic()
    os.kill(driver.pid, signum)
    try:
        out, _ = driver.communicate(timeout=60)
    finally:
        if driver.poll() is None:
            driver.kill()
    assert time.monotonic() - signalled < 60
    assert driver.returncode != 0, out[-3000:]
    if code is not None:
        assert driver.returncode == code, out[-3000:]
    assert _wait_gone(pids["writers"], 5) == []
    state = load_state(latest_run_dir(local_dir, name))
    assert [t["status"] for t in state.trials] == ["RUNNING", "RUNNING"]  # resumable
    assert set(_mlflow_statuses(uri, name).values()) == {"KILLED"}
    assert _flow_run_state(name) == "CRASHED"
    if signum == signal.SIGINT:  # Ctrl-C: one line naming the run and how to resume it
        assert "Traceback" not in out, out[-3000:]
        run_dir = latest_run_dir(local_dir, name)
        assert f"Experiment {name!r} was interrupted (Ctrl-C); its state is saved. Resume " \
               f"it: tuneflows resume {run_dir}" in out, out[-3000:]


def test_a_sigkilled_driver_leaves_no_writer_no_server_and_no_running_run(local_dir, tmp_path):
    name = f"sigkilled_{uuid.uuid4().hex[:6]}"
    driver, pids, uri = _start_driver(local_dir, tmp_path, name, ephemeral_api=True)
    [server] = [pid for pid, cmdline in _children(driver.pid) if "prefect.server" in cmdline]
    os.kill(driver.pid, signal.SIGKILL)  # the driver only, not its process group
    out = driver.communicate(timeout=30)[0]
    assert "Prefect database made from its schema snapshot" in out, out[-3000:]  # a new home
    assert _wait_gone(pids["writers"], 15) == []  # they mark their runs KILLED first
    assert _wait_gone([server], 15) == []  # Prefect's ephemeral API server, by its guard
    statuses = _mlflow_statuses(uri, name)
    assert len(statuses) == 3 and set(statuses.values()) == {"KILLED"}
