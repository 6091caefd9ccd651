"""With no PREFECT_API_URL, the first run starts the local Prefect server (API and UI)
and says where to watch; the next run reuses it; ``tuneflows server stop`` ends it.
Runs in child processes with their own PREFECT_HOME, away from the suite's harness."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request

import pytest

from tuneflows.services.local_prefect_server import STATE_FILE, process_alive, running_server

DRIVER = """
import sys
import tuneflows

def one_result(config, reporter):
    reporter(score=config["x"])

tuneflows.run_experiments({sys.argv[1]: {
    "run": one_result, "config": {"x": tuneflows.grid_search([1, 2])},
    "resources_per_trial": {"cpu": 1, "gpu": 0}, "local_dir": sys.argv[2]}}, verbose=False)
"""


@pytest.fixture
def clean_env(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items()
           if k not in ("PREFECT_API_URL", "MLFLOW_TRACKING_URI", "RAY_ADDRESS",
                        "TUNEFLOWS_PREFECT_SERVER")}
    env.update(PREFECT_HOME=str(tmp_path / "prefect-home"), TUNEFLOWS_PREFECT_PORT=str(port))
    yield env
    subprocess.run([sys.executable, "-m", "tuneflows.cli", "server", "stop"], env=env,
                   capture_output=True, timeout=120)


def run(env, *args, timeout=300):
    out = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True,
                         timeout=timeout)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout


def test_first_run_starts_the_server_the_next_reuses_it_and_stop_ends_it(clean_env, tmp_path):
    home, port = clean_env["PREFECT_HOME"], clean_env["TUNEFLOWS_PREFECT_PORT"]
    results = str(tmp_path / "results")
    first = run(clean_env, "-c", DRIVER, "first", results)
    ui = f"http://127.0.0.1:{port}"
    assert f"Prefect UI: {ui} (watch the run live; a local Prefect server tuneflows started" in first
    assert f"Prefect: {ui}/runs/flow-run/" in first
    server = running_server(home)
    assert server is not None and server.port == int(port)

    second = run(clean_env, "-c", DRIVER, "second", results)
    assert f"Prefect UI: {ui} (watch the run live; the local Prefect server;" in second
    assert running_server(home) == server  # the same process served both runs

    request = urllib.request.Request(f"{ui}/api/flow_runs/filter", data=b"{}", method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        runs = json.load(response)
    assert sorted(r["name"] for r in runs) == ["first", "second"]
    assert {r["state_type"] for r in runs} == {"COMPLETED"}

    stopped = run(clean_env, "-m", "tuneflows.cli", "server", "stop", timeout=120)
    assert f"Stopped the Prefect server at {ui}" in stopped
    assert not process_alive(server.pid)
    assert not os.path.exists(os.path.join(home, STATE_FILE))
