"""After a failed start, the next ``run_experiments`` in the same process works: a
process on Prefect's ephemeral API (``TUNEFLOWS_PREFECT_SERVER=ephemeral``, whose server
a second call could start again; the default local server is shared under a lock) runs an
experiment too big for the cluster, which fails once Ray and the API server are starting,
then a small one, which must run (the API server is not started a second time while the
first start is under way)."""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
import tuneflows

def f(config, reporter):
    for i in range(3):
        reporter(acc=i)

try:
    tuneflows.run_experiments({"big": {"run": f, "resources_per_trial": {"cpu": 64}}},
                              verbose=0)
except ValueError as exc:
    print("first:", exc, flush=True)
[trial] = tuneflows.run_experiments({"after": {"run": f}}, verbose=0)
print("second:", trial.status, trial.last_result["training_iteration"], flush=True)
"""


def test_the_next_run_after_a_failed_start_works(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(TUNE_RESULT_DIR=str(tmp_path / "results"), PREFECT_HOME=str(tmp_path / "prefect"),
               TUNEFLOWS_PREFECT_SERVER="ephemeral",
               MLFLOW_TRACKING_URI="sqlite:///" + str(tmp_path / "mlflow.db"))
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=400)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert any(line.startswith("first: Experiment 'big': each trial asks for 64 CPUs")
               for line in lines), done.stdout
    assert "second: TERMINATED 3" in lines
    assert "Failed to reach API" not in done.stderr
