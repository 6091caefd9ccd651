"""``ray_address=`` (or ``RAY_ADDRESS``) runs trials on an existing Ray cluster started
with ``ray start --head`` by the test (Ray's token authentication left on)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

DRIVER = r'''
import json, sys
import ray
import tuneflows

class Steps(tuneflows.Trainable):
    def _train(self):
        return {"node": ray.get_runtime_context().get_node_id()}

kwargs = {"ray_address": sys.argv[1]} if sys.argv[1] != "env" else {}
trials = tuneflows.run_experiments(
    {sys.argv[2]: {"run": Steps, "stop": {"training_iteration": 3}}}, verbose=False, **kwargs)
print("RESULT " + json.dumps({
    "cpus": ray.cluster_resources()["CPU"],
    "gcs": ray.get_runtime_context().gcs_address,
    "status": trials[0].status,
    "iterations": trials[0].last_result["training_iteration"],
}))
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def head_node():
    port = _free_port()
    temp_dir = tempfile.mkdtemp(prefix="tfray_", dir="/tmp")
    ray_bin = os.path.join(os.path.dirname(sys.executable), "ray")
    proc = subprocess.Popen(
        [ray_bin, "start", "--head", f"--port={port}", "--num-cpus=1", "--block",
         "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp_dir}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    address = f"127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("ray start --head did not come up within 120 s")
    yield address
    os.killpg(proc.pid, signal.SIGTERM)
    try:  # the head's processes are in proc's session; whatever outlives SIGTERM is killed
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    subprocess.run(["pkill", "-f", temp_dir], check=False)


def _drive(address_arg: str, env_extra: dict, local_dir: str, mlflow_uri: str) -> dict:
    from prefect.settings import PREFECT_API_URL

    env = dict(os.environ, TUNE_RESULT_DIR=local_dir, MLFLOW_TRACKING_URI=mlflow_uri,
               PREFECT_API_URL=PREFECT_API_URL.value(), **env_extra)
    if "RAY_ADDRESS" not in env_extra:
        env.pop("RAY_ADDRESS", None)
    env.pop("RAY_AUTH_MODE", None)  # as a user's fresh shell: tuneflows must handle the token
    name = f"cluster_{uuid.uuid4().hex[:6]}"
    out = subprocess.run([sys.executable, "-c", DRIVER, address_arg, name], env=env,
                         capture_output=True, text=True, timeout=300)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, out.stdout[-3000:] + out.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT "):])


@pytest.mark.parametrize("via", ["argument", "environment"])
def test_trials_run_on_the_existing_cluster(via, head_node, prefect_server, local_dir, mlflow_uri):
    if via == "argument":
        result = _drive(head_node, {}, local_dir, mlflow_uri)
    else:
        result = _drive("env", {"RAY_ADDRESS": head_node}, local_dir, mlflow_uri)
    assert result["gcs"].endswith(head_node.split(":")[1])
    assert result["cpus"] == 1.0
    assert result["status"] == "TERMINATED" and result["iterations"] == 3
