"""Starting Prefect's ephemeral API server while Ray starts.

With no ``PREFECT_API_URL``, Prefect starts a local API server (a subprocess on
SQLite) at the first flow run: ≈ 13 s here with an existing database, ≈ 24 s with a new
one. Ray's local start takes ≈ 5 s more. Both mostly wait on subprocesses, so tuneflows
starts the server on a background thread while the driver starts Ray, the way Prefect's
own client would start it (the same singleton server, which the flow then uses).
"""

from __future__ import annotations

import threading
from typing import Optional


def start_ephemeral_api_in_background() -> Optional[threading.Thread]:
    """Starts Prefect's ephemeral API server on a thread when one will be needed.

    Returns:
        The thread to join before the first flow run, or None when a Prefect server is
        configured (``PREFECT_API_URL``) or ephemeral mode is off.
    """
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    if PREFECT_API_URL.value() or not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        return None

    def start() -> None:
        from prefect.server.api.server import SubprocessASGIServer

        SubprocessASGIServer().start()

    thread = threading.Thread(target=start, name="tuneflows-prefect-api", daemon=True)
    thread.start()
    return thread
