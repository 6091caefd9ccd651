"""Waiting on a running experiment's Client API from a test: a free port for its
server, and a bounded wait for what the server reports."""

import socket
import time

from tuneflows.web_server import TuneClientError


def wait_for(what, predicate, timeout=60.0):
    """``predicate()``'s first truthy value within ``timeout`` s (a 503 or an unreachable
    server counts as not yet); AssertionError naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except TuneClientError as exc:  # the server or the experiment is not up yet
            if exc.status_code not in (None, 503):
                raise
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def free_port():
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
