"""A local Prefect server with its UI, started on first use and reused by later runs.

The server is Prefect's own (uvicorn serving ``prefect.server.api.server:create_app``,
what ``prefect server start --background`` runs) on ``127.0.0.1``, on the database of
``PREFECT_HOME``. It is started in its own session, so it outlives the driver that
started it and a Ctrl-C in that driver's terminal; ``tuneflows server stop`` ends it.
Which server belongs to a ``PREFECT_HOME`` is recorded in ``tuneflows-server.json``
there (pid and port); its output goes to ``tuneflows-server.log`` beside it. Two
drivers starting at once take a file lock, so only one server is started. A new
SQLite database is written from the snapshot of Prefect's migrated schema before the
server starts (:mod:`tuneflows.services.schema_snapshots`): Prefect's migrations
then find it at its revision instead of running all of theirs.

Every wait has a deadline: the lock and the health check wait at most ``timeout``
seconds, a stop waits ``STOP_TIMEOUT`` seconds before killing.

Example:
    >>> import tempfile
    >>> running_server(tempfile.mkdtemp()) is None  # nothing recorded in a new home
    True
    >>> LocalServer(pid=1, port=4200).ui_url
    'http://127.0.0.1:4200'
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from typing import Optional

from filelock import FileLock, Timeout

from tuneflows.error import TuneError
from tuneflows.services.orphan_guard import process_alive
from tuneflows.services.schema_snapshots import PREFECT
from tuneflows.services.prefect_servers import APP, database_of, servers_of
from tuneflows.services.startup_timeline import mark

logger = logging.getLogger(__name__)

PORT_ENV = "TUNEFLOWS_PREFECT_PORT"
DEFAULT_PORT = 4200  # Prefect's own default, so its docs' URLs work
STATE_FILE = "tuneflows-server.json"
LOG_FILE = "tuneflows-server.log"
LOCK_FILE = "tuneflows-server.lock"
STOP_TIMEOUT = 10.0
HOST = "127.0.0.1"

_LAUNCHED: dict[int, subprocess.Popen] = {}  # servers this process started, by pid


class ServerStartError(TuneError):
    """The local Prefect server did not become healthy (the message names its log)."""


#: The server settings a deployment's triggers need (tuneflows turns them off for the
#: servers it starts: ``tuneflows.services.process_defaults``).
AUTOMATION_SETTINGS = ("PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED",
                       "PREFECT_SERVER_EVENTS_STREAM_OUT_ENABLED",
                       "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED")


@dataclass(frozen=True)
class LocalServer:
    """A local Prefect server: its process and port, whether its automations (triggers)
    run, and who started it (``"tuneflows"``, or e.g. ``"prefect server start"``: a
    server tuneflows found serving the same database and uses, but never stops)."""

    pid: int
    port: int
    automations: bool = False
    owner: str = "tuneflows"

    @property
    def ui_url(self) -> str:
        """The UI's address (the API is under ``/api``)."""
        return f"http://{HOST}:{self.port}"

    @property
    def api_url(self) -> str:
        """The value ``PREFECT_API_URL`` takes for this server."""
        return f"{self.ui_url}/api"

    def healthy(self) -> bool:
        """The server's process runs and its API answers its health check."""
        return process_alive(self.pid) and api_healthy(self.api_url)


def preferred_port() -> int:
    """``TUNEFLOWS_PREFECT_PORT``, else 4200.

    Raises:
        ValueError: The variable is not a port number.
    """
    value = os.environ.get(PORT_ENV)
    if value is None:
        return DEFAULT_PORT
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ValueError(f"{PORT_ENV} must be a port number, got {value!r}.")
    return int(value)


def api_healthy(api_url: str, timeout: float = 2.0) -> bool:
    """Whether ``<api_url>/health`` answers 200."""
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def running_server(home: str) -> Optional[LocalServer]:
    """The server recorded in ``home`` if it is healthy; a stale record is removed."""
    server = _recorded(home)
    if server is None:
        return None
    if server.healthy():
        return server
    if not process_alive(server.pid):
        _forget(home)
    return None


def ensure_server(home: str, timeout: float, port: Optional[int] = None,
                  automations: bool = False) -> tuple[LocalServer, bool]:
    """The healthy server of ``home``'s database, started if there is none. One database
    gets one server: a Prefect server someone else started on it (``prefect server
    start``) is used rather than a second one started, and a second server found beside
    tuneflows' is warned about.

    Args:
        home: The ``PREFECT_HOME`` whose database the server serves.
        timeout: Seconds to wait for another driver's start (the lock) and for a new
            server's first health check (a new SQLite database is written from
            Prefect's schema snapshot, :mod:`tuneflows.services.schema_snapshots`;
            one Prefect migrates itself takes 10-25 s).
        port: The port to try first (default :func:`preferred_port`); a busy one is
            replaced by a free one.
        automations: Start the server with its automations on (a deployment's triggers
            need them; runs do not).

    Returns:
        The server, and whether this call started it.

    Raises:
        ServerStartError: No healthy server within ``timeout`` (names the log file); a
            server on the database that does not answer; ``automations`` asked of a
            running server without them.
    """
    os.makedirs(home, exist_ok=True)
    deadline = time.monotonic() + timeout
    database = database_of({**os.environ, "PREFECT_HOME": home}, os.path.expanduser("~"))
    try:
        with FileLock(os.path.join(home, LOCK_FILE), timeout=timeout):
            server = running_server(home)
            if server is not None:
                _warn_about_others(database, server)
                _check_automations(server, automations)
                return server, False
            recorded = _recorded(home)
            if recorded is not None:  # alive but not answering: another start in progress
                if _wait_healthy(recorded, deadline, None):
                    return recorded, False
                raise ServerStartError(f"The Prefect server (pid {recorded.pid}) recorded in "
                                       f"{home} does not answer; see {_log_path(home)} or run "
                                       "`tuneflows server stop`.")
            other = _other_server(database, deadline)
            if other is not None:
                return other, False
            new_database_from_snapshot(database)
            return _start(home, port or preferred_port(), deadline, automations), True
    except Timeout:
        raise ServerStartError(f"Another process held {os.path.join(home, LOCK_FILE)} for "
                               f"{timeout:.0f} s while starting a Prefect server.") from None


def new_database_from_snapshot(database: str) -> None:
    """Writes ``database`` (what :func:`~tuneflows.services.prefect_servers.database_of`
    names) from Prefect's schema snapshot when it is a SQLite file that does not exist yet
    (:mod:`tuneflows.services.schema_snapshots`), before a server is started on it."""
    if os.path.isabs(database) and PREFECT.create(database):
        mark("Prefect database made from its schema snapshot")


def _other_server(database: str, deadline: float) -> Optional[LocalServer]:
    """A server someone else started on ``database`` (None: none), once it answers.

    Raises:
        ServerStartError: It does not answer by ``deadline``: a second server is not
            started beside it.
    """
    others = servers_of(database)
    if not others:
        return None
    other = others[0]
    while time.monotonic() < deadline:
        if api_healthy(other.api_url, timeout=1.0):
            return LocalServer(other.pid, int(other.api_url.rsplit(":", 1)[1].split("/")[0]),
                               owner="prefect server start")
        if not process_alive(other.pid):
            return None
        time.sleep(0.2)
    raise ServerStartError(
        f"A Prefect server (pid {other.pid}) serves the database {database} but does not "
        f"answer at {other.api_url}: tuneflows starts no second server on one database. Stop "
        f"it, or set PREFECT_API_URL to its address once it answers.")


def _warn_about_others(database: str, server: LocalServer) -> None:
    for other in servers_of(database, exclude_pid=server.pid):
        logger.warning(
            "Two Prefect servers serve %s: tuneflows' (pid %d, %s) and pid %d (%s). Two "
            "servers on one SQLite database lock each other out; stop pid %d and set "
            "PREFECT_API_URL=%s (deployments/README.md).", database, server.pid,
            server.ui_url, other.pid, other.ui_url, other.pid, server.api_url)


def _check_automations(server: LocalServer, wanted: bool) -> None:
    if wanted and not server.automations and server.owner == "tuneflows":
        raise ServerStartError(
            f"The local Prefect server at {server.ui_url} (pid {server.pid}) runs without "
            "automations (a run started it), and deployments' triggers need them: run "
            "`tuneflows server stop`, then `tuneflows server start --automations`.")


def stop_server(home: str, timeout: float = STOP_TIMEOUT) -> Optional[LocalServer]:
    """Ends the server recorded in ``home`` (SIGTERM, SIGKILL after ``timeout`` s).

    Returns:
        The server that was stopped, or None when none was running.
    """
    server = _recorded(home)
    if server is None:
        return None
    _forget(home)
    if not process_alive(server.pid) or not _is_prefect_server(server.pid):
        return None
    os.kill(server.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while process_alive(server.pid) and time.monotonic() < deadline:
        _reap(server.pid)
        time.sleep(0.05)
    if process_alive(server.pid):
        os.kill(server.pid, signal.SIGKILL)
    _reap(server.pid)
    return server


def _start(home: str, port: int, deadline: float, automations: bool = False) -> LocalServer:
    """Starts the server (on a free port if ``port`` is taken) and waits until healthy."""
    settings = {name: "true" for name in AUTOMATION_SETTINGS} if automations else {}
    on = automations or os.environ.get(AUTOMATION_SETTINGS[0], "true").lower() == "true"
    for _ in range(3):  # a port taken between the check and uvicorn's bind: another one
        if not _port_free(port):
            port = _free_port()
        process = _launch(home, port, settings)
        mark("Prefect server launched")
        server = LocalServer(process.pid, port, automations=on)
        _record(home, server)
        if _wait_healthy(server, deadline, process):
            return server
        if process.poll() is None:
            break  # running but not healthy in time
        _forget(home)
        port = _free_port()
    stop_server(home, timeout=2.0)
    raise ServerStartError(f"The local Prefect server did not start; its log: {_log_path(home)}\n"
                           + _log_tail(home))


def server_command(port: int) -> list[str]:
    """The server's command line: uvicorn serving Prefect's app (API and UI) on ``port``,
    as ``prefect server start`` runs it."""
    spec = importlib.util.find_spec("prefect")
    site = os.path.dirname(os.path.dirname(spec.origin)) if spec and spec.origin else "."
    return [sys.executable, "-m", "uvicorn", "--app-dir", site, "--factory",
            APP, "--host", HOST, "--port", str(port),
            "--log-level", "warning", "--lifespan", "on"]


def _launch(home: str, port: int, settings: Optional[dict[str, str]] = None) -> subprocess.Popen:
    env = dict(os.environ, **(settings or {}), PREFECT_HOME=home, PREFECT_SERVER_API_HOST=HOST,
               PREFECT_SERVER_API_PORT=str(port),
               PREFECT_UI_API_URL=f"http://{HOST}:{port}/api", PREFECT__SERVER_FINAL="1")
    for key in ("PREFECT_API_URL", "PREFECT_API_KEY", "TUNEFLOWS_TIMING"):
        env.pop(key, None)
    with open(_log_path(home), "w") as log:
        process = subprocess.Popen(server_command(port), cwd=home, env=env, stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    _LAUNCHED[process.pid] = process  # reaped by stop_server when stopped from here
    return process


def _wait_healthy(server: LocalServer, deadline: float,
                  process: Optional[subprocess.Popen]) -> bool:
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return False
        if process is None and not process_alive(server.pid):
            return False
        if api_healthy(server.api_url, timeout=1.0):
            return True
        time.sleep(0.1)
    return False


def _reap(pid: int) -> None:
    process = _LAUNCHED.get(pid)
    if process is not None and process.poll() is not None:
        del _LAUNCHED[pid]


def _is_prefect_server(pid: int) -> bool:
    """Guards against a recycled pid: the process runs Prefect's server app."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return APP.encode() in f.read()
    except OSError:
        return not os.path.isdir("/proc")  # no /proc to check: trust the record


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
            return True
        except OSError:
            return False


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _state_path(home: str) -> str:
    return os.path.join(home, STATE_FILE)


def _log_path(home: str) -> str:
    return os.path.join(home, LOG_FILE)


def _log_tail(home: str, lines: int = 20) -> str:
    try:
        with open(_log_path(home), errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def _recorded(home: str) -> Optional[LocalServer]:
    try:
        with open(_state_path(home)) as f:
            data = json.load(f)
        return LocalServer(pid=int(data["pid"]), port=int(data["port"]),
                           automations=bool(data.get("automations", False)))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _record(home: str, server: LocalServer) -> None:
    tmp = _state_path(home) + ".tmp"
    with open(tmp, "w") as f:
        json.dump(asdict(server), f)
    os.replace(tmp, _state_path(home))


def _forget(home: str) -> None:
    try:
        os.remove(_state_path(home))
    except FileNotFoundError:
        pass
