"""A Prefect server that goes away mid-run (issue 20, finding 6): the driver's Prefect
API is a TCP proxy in front of the suite's server, closed while two trials run (new
connections are refused, open ones cut). The trials go on and keep every result,
``run_experiments`` returns, the process exits, and the end says once what Prefect
missed."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from urllib.parse import urlparse

import pytest

from tuneflows import latest_run_dir
from tuneflows.recording.trial_files import count_results

DRIVER = os.path.join(os.path.dirname(__file__), "recording_driver.py")
ITERATIONS = 30


class Proxy:
    """Forwards TCP connections from a free loopback port to ``target``, until closed."""

    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            if self._closed:
                client.close()
                return
            try:
                server = socket.create_connection(self._target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        """The server is gone: refuses new connections and cuts the open ones."""
        self._closed = True
        try:  # wakes the accepting thread; a socket closed under accept() would listen on
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            for s in self._open:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()


def test_losing_the_prefect_server_costs_the_experiment_nothing(prefect_server, local_dir,
                                                                 tmp_path):
    from prefect.settings import PREFECT_API_URL

    api = urlparse(PREFECT_API_URL.value())
    proxy = Proxy((api.hostname, api.port))
    name = f"outage_{uuid.uuid4().hex[:6]}"
    env = dict(os.environ, TUNE_RESULT_DIR=local_dir,
               MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}",
               PREFECT_API_URL=f"http://127.0.0.1:{proxy.port}{api.path}",
               TUNEFLOWS_PREFECT_DEADLINE_S="3")
    driver = subprocess.Popen(
        [sys.executable, DRIVER, name, str(tmp_path / "pids.json"), "--iterations",
         str(ITERATIONS), "--sleep", "0.2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 180
        while count_results(os.path.join(local_dir, name)) < 6:
            if driver.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the driver recorded no results: " + driver.communicate()[0][-3000:])
            time.sleep(0.1)
        proxy.close()
        # Before: run_experiments returned ≈ 105 s after the last trial (Prefect's
        # retries), and the process then went on for minutes (undeliverable events).
        out, _ = driver.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        driver.kill()
        pytest.fail("the driver did not exit: " + driver.communicate()[0][-6000:])
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.communicate()
    assert driver.returncode == 0, out[-3000:]
    statuses = json.loads(out.split("STATUSES ", 1)[1].splitlines()[0])
    assert set(statuses.values()) == {"TERMINATED"}, out[-3000:]
    for trial in os.listdir(latest_run_dir(local_dir, name)):
        results = os.path.join(latest_run_dir(local_dir, name), trial, "result.json")
        if os.path.exists(results):
            with open(results) as f:
                assert len(f.readlines()) == ITERATIONS
    assert out.count("The Prefect API missed:") == 1, out[-3000:]
    missed = out.split("The Prefect API missed:", 1)[1].splitlines()[0]
    assert "the flow run's final state" in missed and "summary artifact" in missed, missed
