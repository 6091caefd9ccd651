"""One Prefect server per database: a ``prefect server start`` already serving the
database of PREFECT_HOME is used, not doubled by a second server; one that does not
answer is reported, not joined by another; two found side by side are warned about; a
deployment's triggers get a server with its automations on. Stand-in servers (a stdlib
HTTP server answering ``/api/health``, named as Prefect's command line names it)."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time

import pytest

from stand_in_servers import HEALTH
import tuneflows.services.local_prefect_server as lps
from tuneflows.cli import main as cli_main
from tuneflows.services.prefect_servers import database_of, servers_of

SILENT = "import sys, time; time.sleep(120)"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def home(tmp_path, monkeypatch):
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

    path = str(tmp_path / "prefect-home")
    os.makedirs(path)
    monkeypatch.setenv("PREFECT_HOME", path)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    with temporary_settings({PREFECT_HOME: path}, restore_defaults={PREFECT_API_URL}):
        yield path
    lps.stop_server(path, timeout=2)


@pytest.fixture
def prefect_server_start(home):
    """Starts a stand-in ``prefect server start --port P`` on ``home``'s database."""
    started = []

    def start(code: str = HEALTH) -> tuple[subprocess.Popen, int]:
        port = _free_port()
        process = subprocess.Popen(
            [sys.executable, "-c", code, str(port), "prefect", "server", "start", "--port",
             str(port)], env=dict(os.environ, PREFECT_HOME=home))
        started.append(process)
        deadline = time.monotonic() + 30
        database = database_of({"PREFECT_HOME": home}, "/nowhere")
        while (process.pid not in [s.pid for s in servers_of(database)] or
               code == HEALTH and not lps.api_healthy(f"http://127.0.0.1:{port}/api")):
            assert time.monotonic() < deadline, "the stand-in server did not start"
            time.sleep(0.05)
        return process, port

    yield start
    for process in started:
        process.kill()
        process.wait()


def test_a_prefect_server_start_on_the_database_is_used_not_doubled(home, prefect_server_start,
                                                                    capsys):
    process, port = prefect_server_start()
    [found] = servers_of(database_of({"PREFECT_HOME": home}, "/nowhere"))
    assert (found.pid, found.api_url) == (process.pid, f"http://127.0.0.1:{port}/api")
    server, started = lps.ensure_server(home, timeout=10)
    assert (server.pid, server.port, server.owner, started) == (
        process.pid, port, "prefect server start", False)
    assert lps.running_server(home) is None  # not recorded: `tuneflows server stop` leaves it
    assert cli_main(["server", "start"]) == 0
    out = capsys.readouterr().out
    assert f"Prefect UI: http://127.0.0.1:{port} (`prefect server start`, pid {process.pid}" in out
    assert "tuneflows starts no second server" in out


def test_a_server_on_the_database_that_does_not_answer_is_not_doubled(home, prefect_server_start):
    process, port = prefect_server_start(SILENT)
    with pytest.raises(lps.ServerStartError, match=f"pid {process.pid}.*serves the database "
                                                   f".*starts no second server"):
        lps.ensure_server(home, timeout=3)
    assert not os.path.exists(os.path.join(home, lps.STATE_FILE))


def test_two_servers_on_one_database_are_warned_about(home, prefect_server_start, monkeypatch,
                                                      caplog):
    monkeypatch.setattr(lps, "server_command",
                        lambda port: [sys.executable, "-c", HEALTH, str(port), lps.APP])
    ours, started = lps.ensure_server(home, timeout=30)
    assert started and ours.owner == "tuneflows"
    other, port = prefect_server_start()
    with caplog.at_level(logging.WARNING):
        again, started = lps.ensure_server(home, timeout=10)
    assert again == ours and not started
    assert f"Two Prefect servers serve {os.path.join(home, 'prefect.db')}" in caplog.text
    assert f"pid {other.pid}" in caplog.text


def test_automations_are_asked_of_the_server_deployments_use(home, monkeypatch, capsys):
    monkeypatch.setattr(lps, "server_command",
                        lambda port: [sys.executable, "-c", HEALTH, str(port), lps.APP])
    monkeypatch.setenv("PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED", "false")  # a run's default
    server, _ = lps.ensure_server(home, timeout=30)  # started by a run
    assert not server.automations
    with pytest.raises(lps.ServerStartError, match="tuneflows server start --automations"):
        lps.ensure_server(home, timeout=10, automations=True)
    assert cli_main(["server", "stop"]) == 0
    assert cli_main(["server", "start", "--automations"]) == 0
    out = capsys.readouterr().out
    assert "automations on" in out
    assert f"export PREFECT_API_URL={lps.running_server(home).api_url}" in out
    assert lps.running_server(home).automations
