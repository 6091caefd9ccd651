"""The local Prefect server's lifecycle, on a stand-in server (a stdlib HTTP server
answering ``/api/health``; the real one is started in
tests/integration/test_local_prefect_server.py): started once, reused, a stale record
replaced, a busy port avoided, a failed start reported with its log, every wait
bounded, stopped."""

from __future__ import annotations

import doctest
import json
import os
import socket
import sys
import time

import pytest

from stand_in_servers import HEALTH
import tuneflows.services.local_prefect_server as lps
import tuneflows.services.prefect_api as prefect_api
from tuneflows.cli import main as cli_main
from tuneflows.services.prefect_api import SERVER_ENV, PrefectApiStart, server_mode



@pytest.fixture
def fake_server(monkeypatch):
    """Servers are the stand-in (its command line names Prefect's app, as the real one's)."""
    def command(port, code=HEALTH):
        return [sys.executable, "-c", code, str(port), lps.APP]

    monkeypatch.setattr(lps, "server_command", command)
    return command


@pytest.fixture
def home(tmp_path):
    path = str(tmp_path / "prefect-home")
    yield path
    lps.stop_server(path, timeout=2)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("module", [lps, prefect_api])
def test_docstring_examples_run(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


def test_first_use_starts_a_server_that_later_calls_reuse(fake_server, home):
    port = free_port()
    server, started = lps.ensure_server(home, timeout=30, port=port)
    assert started and server.port == port and server.healthy()
    assert lps.running_server(home) == server
    again, started_again = lps.ensure_server(home, timeout=30, port=port)
    assert again == server and not started_again


def test_a_busy_port_gives_another_one(fake_server, home):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        server, _ = lps.ensure_server(home, timeout=30, port=busy)
    assert server.port != busy and server.healthy()


def test_a_dead_servers_record_is_replaced(fake_server, home):
    server, _ = lps.ensure_server(home, timeout=30, port=free_port())
    os.kill(server.pid, 9)
    deadline = time.time() + 10
    while lps.process_alive(server.pid) and time.time() < deadline:
        time.sleep(0.05)
    assert lps.running_server(home) is None
    assert not os.path.exists(os.path.join(home, lps.STATE_FILE))
    fresh, started = lps.ensure_server(home, timeout=30, port=free_port())
    assert started and fresh.pid != server.pid


def test_a_server_that_exits_is_an_error_naming_its_log(fake_server, monkeypatch, home):
    monkeypatch.setattr(lps, "server_command", lambda port: fake_server(
        port, "import sys; print('cannot open the database'); sys.exit(1)"))
    with pytest.raises(lps.ServerStartError, match="cannot open the database") as info:
        lps.ensure_server(home, timeout=30, port=free_port())
    assert lps.LOG_FILE in str(info.value)
    assert lps.running_server(home) is None


def test_a_server_that_never_answers_fails_at_the_deadline(fake_server, monkeypatch, home):
    monkeypatch.setattr(lps, "server_command", lambda port: fake_server(
        port, "import time; time.sleep(60)"))
    t0 = time.monotonic()
    with pytest.raises(lps.ServerStartError):
        lps.ensure_server(home, timeout=2, port=free_port())
    assert time.monotonic() - t0 < 15  # the deadline, and a bounded stop of the process
    assert lps.running_server(home) is None


def test_stop_ends_the_server_and_forgets_it(fake_server, home):
    server, _ = lps.ensure_server(home, timeout=30, port=free_port())
    assert lps.stop_server(home) == server
    assert not lps.process_alive(server.pid)
    assert lps.stop_server(home) is None


def test_a_record_of_a_recycled_pid_is_not_killed(home):
    os.makedirs(home)
    with open(os.path.join(home, lps.STATE_FILE), "w") as f:
        json.dump({"pid": os.getpid(), "port": free_port()}, f)  # this process: not a server
    assert lps.running_server(home) is None
    assert lps.stop_server(home) is None  # and this process is still here


def test_the_port_setting_is_checked(monkeypatch):
    monkeypatch.setenv(lps.PORT_ENV, "http")
    with pytest.raises(ValueError, match="TUNEFLOWS_PREFECT_PORT must be a port number"):
        lps.preferred_port()
    with pytest.raises(ValueError, match="TUNEFLOWS_PREFECT_PORT"):
        PrefectApiStart()


def test_the_server_setting_is_checked(monkeypatch):
    assert server_mode() == "local"
    monkeypatch.setenv(SERVER_ENV, "Ephemeral")
    assert server_mode() == "ephemeral"


def test_a_configured_prefect_api_starts_nothing(fake_server, home, monkeypatch):
    """Under a settings context (prefect_test_harness's way), seen from the thread too."""
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api", PREFECT_HOME: home}):
        api = PrefectApiStart()
        api.wait(announce=True)
    assert api.server is None and "PREFECT_API_URL" not in os.environ
    assert not os.path.exists(os.path.join(home, lps.STATE_FILE))


def test_cli_server_status_start_and_stop(fake_server, home, monkeypatch, capsys):
    from prefect.settings import PREFECT_HOME, temporary_settings

    monkeypatch.setenv(lps.PORT_ENV, str(free_port()))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    with temporary_settings({PREFECT_HOME: home}):
        run_server_commands(home, capsys)


def run_server_commands(home, capsys):
    assert cli_main(["server", "status"]) == 1
    assert "No tuneflows Prefect server is running" in capsys.readouterr().out
    assert cli_main(["server", "start"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Prefect UI: http://127.0.0.1:") and "(started, pid" in out
    assert cli_main(["server", "status"]) == 0
    assert cli_main(["server", "stop"]) == 0
    assert "Stopped the Prefect server" in capsys.readouterr().out
    assert lps.running_server(home) is None
