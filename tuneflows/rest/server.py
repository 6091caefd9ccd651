"""The Client API's REST server on the running experiments (FastAPI on uvicorn).

``run_experiments(..., with_server=True, server_port=4321)`` starts a :class:`TuneServer`
(FastAPI served by uvicorn in a daemon thread) and points it at each experiment in
turn. A :class:`TuneClient`, in another process or on another machine (forward the
port, e.g. ``ssh -L 4321:localhost:4321 <address>``), then lists, inspects, adds and
stops trials of the ongoing experiment.

Endpoints (all JSON), in the seed's (Ray Tune 0.5) shapes, which the seed's client and
notebooks read:

=======================  =====================================================
``GET /trials``          ``{"trials": [info, ...]}``, each info with the seed's ``id``,
                         ``trainable_name``, ``config``, ``status``, ``result`` (and
                         tuneflows' trial_id, name, last_result, status_reason...)
``GET /trials/{id}``     ``{"trial_info": info}`` (404 naming the id if unknown)
``POST /trials``         ``{"name": <experiment>, "spec": <spec>}`` with a whole spec
                         (``run``, ``stop``, ``config`` with ``grid_search``,
                         ``repeat``...), expanded as an experiment's; returns
                         ``{"trials": [info of each added trial]}``; 400 naming the key
                         of a bad spec
``PUT /trials/{id}``     requests a stop: the trial ends TERMINATED, status_reason
                         ``"stopped by client"``, at its next result; returns
                         ``{"trial_info": info}``
``GET /status``          the experiment's ``== Status ==`` block
=======================  =====================================================

and in tuneflows' shapes under ``/api`` (``TuneClient(..., shapes="tuneflows")``):
``GET /api/trials`` is a bare list of trials, ``GET``/``PUT /api/trials/{id}`` one trial,
``POST /api/trials`` takes only ``{"config": {...}}`` with a resolved config.

Errors are ``{"detail": "<message>"}`` with status 400 (bad request, or JSON nested
deeper than 32 levels), 401 (no or a wrong bearer token), 404 (unknown trial), 409 (over
the cap of client-added trials, 100 per experiment), 413 (a body over 1 MB) or 503 (no
experiment running); a Host header naming neither a loopback name nor a configured host
gets a plain-text 400 ``Invalid host header`` (against DNS rebinding). A server bound
beyond loopback (``server_host="0.0.0.0"``) needs a token (``server_token`` or
``TUNEFLOWS_SERVER_TOKEN``), which :class:`TuneClient` sends.

Every access to the loop goes through ``loop.call_soon``, i.e. runs on the
experiment's event loop, so the server never reads a trial while the loop changes it.

Example:
    >>> server = TuneServer(port=0)          # any free port on 127.0.0.1
    >>> server.port > 0
    True
    >>> server.shutdown()
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any, Optional, Sequence

from tuneflows.error import TuneError
from tuneflows.rest.app import create_app
from tuneflows.rest.experiment_access import DEFAULT_MAX_CLIENT_TRIALS
from tuneflows.rest.protocol import DEFAULT_PORT
from tuneflows.rest.guards import RequestGuards, allowed_hosts, resolve_server_token

logger = logging.getLogger(__name__)

class TuneServer:
    """The Client API's REST server, on uvicorn in a daemon thread.

    The port is bound when the server is built, so a busy port fails at once with
    an ``OSError`` in the caller. ``port=0`` picks a free port (see :attr:`port`).

    Requests are served only with a Host header naming a loopback name, the bound
    address or one of ``hosts`` (or ``TUNEFLOWS_SERVER_HOSTS``), bodies up to 1 MB
    nested up to 32 levels, and, with a token, only with ``Authorization: Bearer
    <token>`` (see :mod:`tuneflows.rest.guards`).

    Args:
        port: TCP port (default 4321; 0 for any free port).
        host: Interface to bind (default ``127.0.0.1``: this machine only).
        token: Bearer token every request must carry (default
            ``TUNEFLOWS_SERVER_TOKEN``; required when ``host`` is not a loopback address).
        hosts: More Host header values to serve (e.g. the name clients use).
        max_client_trials: Most trials clients may add to one experiment.

    Raises:
        ValueError: A non-loopback ``host`` without a token.
        OSError: The port cannot be bound.

    Example:
        >>> server = TuneServer(port=0)          # doctest: +SKIP
        >>> server.attach(loop)                # doctest: +SKIP
        >>> TuneClient(f"localhost:{server.port}").get_all_trials()  # doctest: +SKIP
        >>> server.shutdown()                    # doctest: +SKIP
    """

    def __init__(self, port: int = DEFAULT_PORT, host: str = "127.0.0.1",
                 token: Optional[str] = None, hosts: Sequence[str] = (),
                 max_client_trials: int = DEFAULT_MAX_CLIENT_TRIALS) -> None:
        import uvicorn

        guards = RequestGuards(hosts=allowed_hosts(host, hosts),
                               token=resolve_server_token(host, token))
        self.host = host
        self._loop: Any = None
        self._lock = threading.Lock()
        self.app = create_app(self._current_loop, guards, max_client_trials)
        self._socket = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((host, port))
        except OSError as exc:
            self._socket.close()
            raise OSError(exc.errno, f"TuneServer cannot bind {host}:{port}: {exc.strerror}; "
                                     f"pass another server_port.") from exc
        self._socket.listen(128)
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", access_log=False,
                                lifespan="off", timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name=f"TuneServer:{self.port}", daemon=True)
        self._thread.start()
        self._wait_started()
        logger.info("TuneServer listening on http://%s:%d", host, self.port)

    def _wait_started(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not self._server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not self._server.started:
            self.shutdown()
            raise TuneError(f"TuneServer did not start on {self.host}:{self.port}.")

    def _current_loop(self) -> Any:
        with self._lock:
            return self._loop

    @property
    def address(self) -> str:
        """``host:port``, as TuneClient takes it."""
        return f"{self.host}:{self.port}"

    def attach(self, loop: Any) -> None:
        """Points the server at ``loop``, the experiment now running (None: none).

        Example:
            >>> server.attach(loop)  # doctest: +SKIP
        """
        with self._lock:
            self._loop = loop

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stops uvicorn and waits for its thread (idempotent).

        Example:
            >>> server.shutdown()  # doctest: +SKIP
        """
        self.attach(None)
        self._server.should_exit = True
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(timeout)
        try:
            self._socket.close()
        except OSError:
            pass

    def __enter__(self) -> "TuneServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()
