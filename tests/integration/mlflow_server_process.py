"""A real ``mlflow server`` on a free loopback port for tests, started in its own
process group so a test can kill it (and its uvicorn worker) by pid mid-run."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MlflowServer:
    """``mlflow server`` with a SQLite backend under ``directory``.

    Args:
        directory: Holds the server's database, artifacts and log.
        startup_s: Deadline for the server to answer ``/health``.
    """

    def __init__(self, directory: str, startup_s: float = 90.0) -> None:
        os.makedirs(directory, exist_ok=True)
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(directory, "server.log")
        mlflow_bin = os.path.join(os.path.dirname(sys.executable), "mlflow")
        env = dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
        env.pop("MLFLOW_TRACKING_URI", None)
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                [mlflow_bin, "server", "--backend-store-uri",
                 f"sqlite:///{os.path.join(directory, 'mlflow.db')}",
                 "--artifacts-destination", os.path.join(directory, "artifacts"),
                 "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"],
                stdout=log, stderr=subprocess.STDOUT, cwd=directory, env=env,
                start_new_session=True)
        deadline = time.monotonic() + startup_s
        while not self.healthy():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"mlflow server did not start: {self.log()[-2000:]}")
            time.sleep(0.3)

    def healthy(self) -> bool:
        """The server answers ``/health``."""
        try:
            with urllib.request.urlopen(self.uri + "/health", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def log(self) -> str:
        """The server's output so far."""
        with open(self.log_path) as f:
            return f.read()

    def kill(self) -> None:
        """SIGKILLs the server and its worker (its process group) and waits for it."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=30)
