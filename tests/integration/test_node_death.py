"""A Ray node dying mid-run: a two-node local cluster (``ray start --head --num-cpus 1``
and a second ``ray start --address ... --num-cpus 1`` on the same machine, Ray's token
authentication left on), a driver running one trial on each node, and the second
node's processes SIGKILLed: its trial restarts on the head node from its checkpoint,
with nothing lost or duplicated in ``result.json``. Measured here: ≈ 85 s in all, the
driver ending ≈ 33 s after the kill."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time


from mlflow_server_process import free_port
from tuneflows import latest_run_dir
from tuneflows.recording.trial_files import count_results

ITERATIONS = 40
DRIVER = r'''
import json, sys, time
import tuneflows
import ray
from tuneflows.execution.ray_session import ensure_ray

class Slow(tuneflows.Trainable):
    def _setup(self, config):
        self.count = 0
    def _train(self):
        time.sleep(0.3)
        self.count += 1
        return {"count": self.count, "node": ray.get_runtime_context().get_node_id()}
    def _save(self, checkpoint_dir):
        return {"count": self.count}
    def _restore(self, state):
        self.count = state["count"]

ensure_ray(sys.argv[1])
deadline = time.time() + 120
while ray.cluster_resources().get("CPU", 0) < 2:
    assert time.time() < deadline, "the second node did not join"
    time.sleep(0.5)
trials = tuneflows.run_experiments({"node_death": {
    "run": Slow, "config": {"i": tuneflows.grid_search([0, 1])},
    "stop": {"training_iteration": int(sys.argv[2])}, "checkpoint_freq": 5, "max_failures": 3,
}}, verbose=False, round_seconds=0.5, raise_on_failed_trial=False)
print("RESULT " + json.dumps([(t.status, t.num_failures) for t in trials]), flush=True)
'''


def _ray_start(args: list, log_path: str) -> subprocess.Popen:
    ray_bin = os.path.join(os.path.dirname(sys.executable), "ray")
    with open(log_path, "w") as log:
        return subprocess.Popen([ray_bin, "start", "--block", "--num-cpus=1",
                                 "--disable-usage-stats", *args],
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


def test_a_dead_node_s_trial_restarts_on_the_other_from_its_checkpoint(prefect_server, local_dir,
                                                                      tmp_path):
    from prefect.settings import PREFECT_API_URL

    port = free_port()
    temp_dir = tempfile.mkdtemp(prefix="tfray2_", dir="/tmp")
    head = _ray_start(["--head", f"--port={port}", "--include-dashboard=false",
                       f"--temp-dir={temp_dir}"], str(tmp_path / "head.log"))
    second = None
    try:
        deadline = time.monotonic() + 60
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            assert time.monotonic() < deadline, "ray start --head did not come up in 60 s"
            time.sleep(0.3)
        second = _ray_start([f"--address=127.0.0.1:{port}"], str(tmp_path / "second.log"))
        env = dict(os.environ, TUNE_RESULT_DIR=local_dir, PREFECT_API_URL=PREFECT_API_URL.value(),
                   MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}")
        env.pop("RAY_AUTH_MODE", None)  # tuneflows finds the cluster's token itself
        driver = subprocess.Popen([sys.executable, "-c", DRIVER, f"127.0.0.1:{port}",
                                   str(ITERATIONS)], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        experiment_dir = os.path.join(local_dir, "node_death")
        deadline = time.monotonic() + 180
        while count_results(experiment_dir) < 20 and driver.poll() is None:
            assert time.monotonic() < deadline, "no results within 180 s"
            time.sleep(0.2)
        _kill_group(second)  # the second node's raylet, its workers and `ray start`
        try:
            out, _ = driver.communicate(timeout=150)
        finally:
            if driver.poll() is None:
                driver.kill()
    finally:
        if second is not None:
            _kill_group(second)
        _kill_group(head)
    experiment_dir = latest_run_dir(local_dir, "node_death")
    [line] = [line for line in out.splitlines() if line.startswith("RESULT ")] or [out[-3000:]]
    outcomes = json.loads(line[len("RESULT "):])
    assert sorted(outcomes) == [["TERMINATED", 0], ["TERMINATED", 1]], out[-3000:]
    nodes_per_trial = []
    for entry in sorted(os.listdir(experiment_dir)):
        path = os.path.join(experiment_dir, entry, "result.json")
        if os.path.exists(path):
            with open(path) as f:
                rows = [json.loads(row) for row in f]
            assert [r["training_iteration"] for r in rows] == list(range(1, ITERATIONS + 1))
            assert [r["count"] for r in rows] == list(range(1, ITERATIONS + 1))  # restored
            nodes_per_trial.append(len({r["node"] for r in rows}))
    assert sorted(nodes_per_trial) == [1, 2]  # the restarted trial moved to the head node
