"""Which Prefect servers run on this machine and which database each serves, so that one
database gets one server: the local server tuneflows starts, and a ``prefect server
start`` someone ran on the same ``PREFECT_HOME``, must not both run (two servers on one
SQLite database each run the services that write it, and ``database is locked`` follows).

A server process is recognised by its command line (``prefect server start``, or
uvicorn serving Prefect's app, as the local server and ``prefect server start
--background`` run it); its database and address are read from its environment and
arguments, as Prefect reads them (settings in a Prefect profile file are not seen).
Linux only (``/proc``); elsewhere no server is found.

Example:
    >>> database_of({"PREFECT_HOME": "/h/.prefect"}, "/root")
    '/h/.prefect/prefect.db'
    >>> database_of({"PREFECT_API_DATABASE_CONNECTION_URL": "sqlite+aiosqlite:////d/p.db"}, "/root")
    '/d/p.db'
    >>> is_server_command(["/v/bin/python", "/v/bin/prefect", "server", "start", "--port", "4300"])
    True
    >>> api_url_of(["prefect", "server", "start", "--port", "4300"], {})
    'http://127.0.0.1:4300/api'
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

#: What the local server's process runs (``tuneflows.services.local_prefect_server``).
APP = "prefect.server.api.server:create_app"
_DATABASE_URL_ENVS = ("PREFECT_SERVER_DATABASE_CONNECTION_URL",
                      "PREFECT_API_DATABASE_CONNECTION_URL")


@dataclass(frozen=True)
class ServerProcess:
    """A Prefect server process: its pid, the database it serves and its API's address."""

    pid: int
    database: str
    api_url: str

    @property
    def ui_url(self) -> str:
        """The UI's address."""
        return self.api_url.removesuffix("/api")


def database_of(environ: Mapping[str, str], home: str) -> str:
    """The database a Prefect server started with ``environ`` serves: the path of a
    SQLite file, or the connection URL of another database (``home``: the user's home,
    for Prefect's default ``~/.prefect``)."""
    for name in _DATABASE_URL_ENVS:
        url = environ.get(name)
        if url:
            prefix, sep, path = url.partition(":///")
            return os.path.abspath(path) if sep and prefix.startswith("sqlite") else url
    prefect_home = environ.get("PREFECT_HOME") or os.path.join(home, ".prefect")
    return os.path.join(os.path.abspath(os.path.expanduser(prefect_home)), "prefect.db")


def is_server_command(argv: Sequence[str]) -> bool:
    """Whether a command line runs a Prefect API server."""
    if APP in argv:
        return True
    return any(os.path.basename(arg) == "prefect" and list(argv[i + 1:i + 3]) == ["server", "start"]
               for i, arg in enumerate(argv))


def api_url_of(argv: Sequence[str], environ: Mapping[str, str]) -> str:
    """The API address of a server run with ``argv`` in ``environ`` (``--host`` and
    ``--port``, else ``PREFECT_SERVER_API_HOST`` and ``_PORT``, else Prefect's defaults)."""
    def option(name: str, env: str, default: str) -> str:
        for i, arg in enumerate(argv):
            if arg == name and i + 1 < len(argv):
                return argv[i + 1]
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
        return environ.get(env) or default

    host = option("--host", "PREFECT_SERVER_API_HOST", "127.0.0.1")
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "localhost") else host
    return f"http://{host}:{option('--port', 'PREFECT_SERVER_API_PORT', '4200')}/api"


def server_processes() -> list[ServerProcess]:
    """The Prefect servers running on this machine that this user can see."""
    found = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
            if not is_server_command(argv):
                continue
            with open(f"/proc/{entry}/environ", "rb") as f:
                pairs = [item.decode(errors="replace").partition("=")
                         for item in f.read().split(b"\0") if item]
        except OSError:  # gone, or another user's
            continue
        environ = {key: value for key, _, value in pairs}
        home = environ.get("HOME") or os.path.expanduser("~")
        found.append(ServerProcess(int(entry), database_of(environ, home),
                                   api_url_of(argv, environ)))
    return sorted(found, key=lambda s: s.pid)


def servers_of(database: str, exclude_pid: Optional[int] = None) -> list[ServerProcess]:
    """The servers serving ``database`` (:func:`database_of`), but ``exclude_pid``."""
    return [s for s in server_processes() if s.database == database and s.pid != exclude_pid]
