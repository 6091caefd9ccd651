"""``tuneflows server start|stop|status``: the local Prefect server (API and UI) that runs
use when no ``PREFECT_API_URL`` is set (``tuneflows/services/local_prefect_server.py``). A run
starts it on first use; ``start`` does so ahead of time, ``stop`` ends it."""

from __future__ import annotations

import argparse
import os
from typing import Any

from tuneflows.services.local_prefect_server import (
    LOG_FILE, ensure_server, running_server, stop_server,
)


def _prefect_home() -> str:
    from prefect.settings import PREFECT_HOME

    return str(PREFECT_HOME.value())


def cmd_server(args: argparse.Namespace) -> int:
    """Runs ``tuneflows server ACTION``: exit code 0, or 1 for ``status`` with no server."""
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS

    home = _prefect_home()
    if args.action == "start":
        server, started = ensure_server(home, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value(),
                                        automations=args.automations)
        if server.owner != "tuneflows":
            print(f"Prefect UI: {server.ui_url} (`{server.owner}`, pid {server.pid}, already "
                  f"serves this PREFECT_HOME's database: tuneflows starts no second server on "
                  f"it, and runs use this one)")
        else:
            state = "started" if started else "already running"
            automations = "automations on" if server.automations else "automations off"
            print(f"Prefect UI: {server.ui_url} ({state}, pid {server.pid}, {automations}; log "
                  f"{os.path.join(home, LOG_FILE)}; `tuneflows server stop` ends it)")
        configured = PREFECT_API_URL.value()
        if configured and configured.rstrip("/") != server.api_url:
            print(f"Note: PREFECT_API_URL is set ({configured}); runs use that server, not "
                  "this one.")
        elif not configured:
            print(f"For `prefect` commands (deploy, worker, deployment run) to use this "
                  f"server too: export PREFECT_API_URL={server.api_url}")
        return 0
    if args.action == "stop":
        server = stop_server(home)
        print(f"Stopped the Prefect server at {server.ui_url} (pid {server.pid})." if server
              else f"No tuneflows Prefect server was running for PREFECT_HOME={home}.")
        return 0
    server = running_server(home)
    if server is None:
        print(f"No tuneflows Prefect server is running for PREFECT_HOME={home}.")
        return 1
    print(f"Prefect UI: {server.ui_url} (pid {server.pid})")
    return 0


def add_server_parser(sub: Any) -> None:
    """Adds ``server {start,stop,status}`` to the ``tuneflows`` command's subparsers."""
    server = sub.add_parser("server", help="start, stop or show the local Prefect server (UI)")
    server.add_argument("action", choices=["start", "stop", "status"],
                        help="start the server (if not running), stop it, or show whether it "
                             "runs")
    server.add_argument("--automations", action="store_true",
                        help="start the server with its automations on (the deployments' "
                             "event triggers need them; runs started it without)")
    server.set_defaults(handler=cmd_server)
