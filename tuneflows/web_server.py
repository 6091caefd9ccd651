"""The Client API: a REST server on the running experiments and its Python client.

``run_experiments(..., with_server=True, server_port=4321)`` starts a :class:`TuneServer`
(FastAPI served by uvicorn in a daemon thread) and points it at each experiment in
turn. A :class:`TuneClient`, in another process or on another machine (forward the
port, e.g. ``ssh -L 4321:localhost:4321 <address>``), then lists, inspects, adds and
stops trials of the ongoing experiment.

Endpoints (all JSON):

=======================  =====================================================
``GET /trials``          every trial: trial_id, name, config, status, last_result...
``GET /trials/{id}``     one trial (404 naming the id if unknown)
``POST /trials``         ``{"name": <experiment>, "spec": {"config": {...}}}``: adds a
                         trial with that resolved config; returns it (with its trial_id)
``PUT /trials/{id}``     requests a stop: the trial ends TERMINATED, status_reason
                         ``"stopped by client"``, at the end of its current round
``GET /status``          the experiment's ``== Status ==`` block
=======================  =====================================================

Errors are ``{"detail": "<message>"}`` with status 400 (bad request), 404 (unknown
trial) or 503 (no experiment running).

Every access to the runner goes through ``runner.call_soon``, i.e. runs on the
experiment's event loop, so the server never reads a trial while the loop changes it.

Example:
    >>> from tuneflows.web_server import TuneClient
    >>> client = TuneClient("localhost:4321")               # doctest: +SKIP
    >>> [t["status"] for t in client.get_all_trials()]      # doctest: +SKIP
    ['RUNNING', 'RUNNING']
    >>> new = client.add_trial("my_experiment", {"config": {"lr": 0.1}})  # doctest: +SKIP
    >>> client.stop_trial(new["trial_id"])                  # doctest: +SKIP
"""

from __future__ import annotations

import concurrent.futures
import logging
import math
import socket
import threading
import time
from typing import Any, Callable, Mapping, Optional

import httpx
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from tuneflows.error import TuneError

logger = logging.getLogger(__name__)

DEFAULT_PORT = 4321
#: Keys a client-added trial's spec may hold.
VALID_SPEC_KEYS = ("config",)
#: Longest wait for the experiment's event loop to answer one request.
CALL_TIMEOUT_S = 10.0


# ---------------------------------------------------------------------------- models
class TrialInfo(BaseModel):
    """One trial as the REST API shows it.

    Example:
        >>> TrialInfo(trial_id="3f2a1_00000", name="f_0", config={"lr": 0.1},
        ...           status="RUNNING").status
        'RUNNING'
    """

    trial_id: str
    name: str
    experiment: Optional[str] = None
    experiment_tag: str = ""
    config: dict[str, Any] = Field(default_factory=dict)
    status: str
    status_reason: str = ""
    last_result: Optional[dict[str, Any]] = None
    error_msg: Optional[str] = None
    num_failures: int = 0
    logdir: str = ""


class AddTrialRequest(BaseModel):
    """Body of ``POST /trials``.

    Attributes:
        name: The experiment to add to (optional). Another name than the running
            experiment's becomes the new trial's tag (its name's suffix).
        spec: The trial spec; only ``{"config": {...}}`` with a resolved config.

    Example:
        >>> AddTrialRequest(spec={"config": {"lr": 0.1}}).spec
        {'config': {'lr': 0.1}}
    """

    name: Optional[str] = None
    spec: dict[str, Any] = Field(default_factory=dict)


class StatusInfo(BaseModel):
    """Body of ``GET /status``: the experiment's name and its status block."""

    experiment: Optional[str] = None
    status: str


class ErrorInfo(BaseModel):
    """Every error response: ``{"detail": "<message>"}``."""

    detail: str


_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorInfo} for code in (400, 404, 503)
}


# ---------------------------------------------------------------------------- helpers
def _jsonable(value: Any) -> Any:
    """Plain JSON data: numpy scalars and arrays become Python numbers and lists,
    NaN/inf become None, other unknown objects their ``repr``."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return _jsonable(value.tolist())
    return repr(value)


def check_resolved_config(config: Any, path: str = "") -> None:
    """Checks that a client-added config is resolved: no ``grid_search``, no search
    domains (``tuneflows.uniform(...)``...), no ``sample_from``/lambdas.

    Args:
        config: The config to check (nested dicts and lists are walked).
        path: Where ``config`` sits, for messages (``"a/b"``).

    Raises:
        ValueError: Naming the first unresolved key.

    Example:
        >>> check_resolved_config({"lr": 0.1, "net": {"layers": [64, 64]}})
        >>> check_resolved_config({"net": {"lr": {"grid_search": [1, 2]}}})
        Traceback (most recent call last):
        ...
        ValueError: config key 'net/lr' is a grid_search; a client-added trial needs a resolved config (plain values).
    """
    from tuneflows.search.domains import Domain

    where = path or "<config>"
    if isinstance(value := config, Mapping):
        if "grid_search" in value:
            raise ValueError(f"config key {where!r} is a grid_search; a client-added trial "
                             f"needs a resolved config (plain values).")
        for k, v in value.items():
            check_resolved_config(v, f"{path}/{k}" if path else str(k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            check_resolved_config(v, f"{path}/{i}" if path else str(i))
    elif isinstance(value, Domain) or callable(value):
        raise ValueError(f"config key {where!r} is a search domain ({value!r}); a client-added "
                         f"trial needs a resolved config (plain values).")


def _trial_info(trial: Any, experiment: Optional[str]) -> dict[str, Any]:
    """The REST form of a Trial (called on the experiment's loop)."""
    data = trial.to_dict()
    keys = TrialInfo.model_fields.keys()
    info = {k: data[k] for k in keys if k in data}
    info["name"] = trial.name
    info["experiment"] = experiment
    return _jsonable(info)


# ---------------------------------------------------------------------------- app
def create_app(get_runner: Callable[[], Any]) -> FastAPI:
    """The FastAPI app of the Client API.

    Args:
        get_runner: Returns the current ExperimentRunner (or None between experiments).
            The runner must offer ``call_soon``, ``trials``, ``request_stop``,
            ``add_trial``, ``status_text`` and ``experiment.name``.

    Returns:
        The app; serve it with uvicorn or test it with ``fastapi.testclient``.

    Example:
        >>> from fastapi.testclient import TestClient
        >>> TestClient(create_app(lambda: None)).get("/trials").json()
        {'detail': 'No experiment is running.'}
    """
    app = FastAPI(title="tuneflows TuneServer",
                  description="Client API of a running tuneflows experiment.")

    @app.exception_handler(RequestValidationError)
    async def _bad_body(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'/'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()
        )
        return JSONResponse(status_code=400, content={"detail": f"Invalid request: {problems}"})

    def on_loop(fn: Callable[..., Any], *args: Any) -> Any:
        """Runs ``fn(runner, *args)`` on the current experiment's event loop."""
        runner = get_runner()
        if runner is None:
            raise HTTPException(503, "No experiment is running.")
        try:
            return runner.call_soon(fn, runner, *args, timeout=CALL_TIMEOUT_S)
        except HTTPException:
            raise
        except (TuneError, RuntimeError, TimeoutError, concurrent.futures.TimeoutError) as exc:
            name = _experiment_name(runner)
            raise HTTPException(503, f"Experiment {name!r} is not running ({exc or 'timed out'}).")

    def lookup(runner: Any, trial_id: str) -> Any:
        trial = runner.trials.get(trial_id)
        if trial is None:
            raise HTTPException(404, f"No trial {trial_id!r} in experiment "
                                     f"{_experiment_name(runner)!r}.")
        return trial

    @app.get("/trials", response_model=list[TrialInfo], summary="All trials")
    def get_all_trials() -> list[dict[str, Any]]:
        def read(runner: Any) -> list[dict[str, Any]]:
            name = _experiment_name(runner)
            return [_trial_info(t, name) for t in list(runner.trials.values())]
        return on_loop(read)

    @app.get("/trials/{trial_id}", response_model=TrialInfo, responses=_ERRORS,
             summary="One trial, with its last result")
    def get_trial(trial_id: str) -> dict[str, Any]:
        return on_loop(lambda r: _trial_info(lookup(r, trial_id), _experiment_name(r)))

    @app.post("/trials", response_model=TrialInfo, status_code=201, responses=_ERRORS,
              summary="Add a trial with a resolved config")
    def add_trial(body: AddTrialRequest) -> dict[str, Any]:
        unknown = sorted(set(body.spec) - set(VALID_SPEC_KEYS))
        if unknown:
            raise HTTPException(400, f"Unknown trial spec key(s) {unknown}; valid keys: "
                                     f"{', '.join(VALID_SPEC_KEYS)}.")
        config = body.spec.get("config") or {}
        if not isinstance(config, dict):
            raise HTTPException(400, f"spec['config'] must be a JSON object, got "
                                     f"{type(config).__name__}.")
        try:
            check_resolved_config(config)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None

        def add(runner: Any) -> dict[str, Any]:
            name = _experiment_name(runner)
            tag = "" if body.name in (None, "", name) else body.name
            trial = runner.add_trial(config, tag)
            return _trial_info(trial, name)
        return on_loop(add)

    @app.put("/trials/{trial_id}", response_model=TrialInfo, responses=_ERRORS,
             summary="Stop a trial")
    def stop_trial(trial_id: str) -> dict[str, Any]:
        def stop(runner: Any) -> dict[str, Any]:
            trial = lookup(runner, trial_id)
            runner.request_stop(trial_id)
            return _trial_info(trial, _experiment_name(runner))
        return on_loop(stop)

    @app.get("/status", response_model=StatusInfo, responses=_ERRORS,
             summary="The == Status == block")
    def get_status() -> dict[str, Any]:
        return on_loop(lambda r: {"experiment": _experiment_name(r), "status": r.status_text()})

    return app


def _experiment_name(runner: Any) -> Optional[str]:
    return getattr(getattr(runner, "experiment", None), "name", None)


# ---------------------------------------------------------------------------- server
class TuneServer:
    """The Client API's REST server, on uvicorn in a daemon thread.

    The port is bound when the server is built, so a busy port fails at once with
    an ``OSError`` in the caller. ``port=0`` picks a free port (see :attr:`port`).

    Args:
        port: TCP port (default 4321; 0 for any free port).
        host: Interface to bind (default ``127.0.0.1``: this machine only).

    Example:
        >>> server = TuneServer(port=0)          # doctest: +SKIP
        >>> server.attach(runner)                # doctest: +SKIP
        >>> TuneClient(f"localhost:{server.port}").get_all_trials()  # doctest: +SKIP
        >>> server.shutdown()                    # doctest: +SKIP
    """

    def __init__(self, port: int = DEFAULT_PORT, host: str = "127.0.0.1") -> None:
        import uvicorn

        self.host = host
        self._runner: Any = None
        self._lock = threading.Lock()
        self.app = create_app(self._current_runner)
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

    def _current_runner(self) -> Any:
        with self._lock:
            return self._runner

    @property
    def address(self) -> str:
        """``host:port``, as TuneClient takes it."""
        return f"{self.host}:{self.port}"

    def attach(self, runner: Any) -> None:
        """Points the server at ``runner``, the experiment now running (None: none).

        Example:
            >>> server.attach(runner)  # doctest: +SKIP
        """
        with self._lock:
            self._runner = runner

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


# ---------------------------------------------------------------------------- client
class TuneClientError(TuneError):
    """The TuneServer refused a request (or could not be reached).

    Attributes:
        status_code: The HTTP status (None when the server could not be reached).
        detail: The server's message.
    """

    def __init__(self, message: str, status_code: Optional[int] = None, detail: str = "") -> None:
        super().__init__(message)
        self.status_code = status_code
        self.detail = detail or message


class TuneClient:
    """Client to interact with an ongoing experiment (the seed's ``TuneClient``).

    Requires the server to be running (``run_experiments(..., with_server=True)``).

    Args:
        tune_address: ``host:port`` of the TuneServer (or a full ``http://`` URL).
        timeout: Seconds to wait for each response.

    Example:
        >>> client = TuneClient("localhost:4321")                 # doctest: +SKIP
        >>> trials = client.get_all_trials()                     # doctest: +SKIP
        >>> client.get_trial(trials[0]["trial_id"])["last_result"]["training_iteration"]  # doctest: +SKIP
        12
        >>> client.add_trial("my_experiment", {"config": {"lr": 0.3}})["status"]  # doctest: +SKIP
        'PENDING'
        >>> client.stop_trial(trials[0]["trial_id"])             # doctest: +SKIP
    """

    def __init__(self, tune_address: str = f"localhost:{DEFAULT_PORT}", timeout: float = 30.0) -> None:
        address = tune_address if "://" in tune_address else f"http://{tune_address}"
        self.tune_address = tune_address
        self._http = httpx.Client(base_url=address.rstrip("/"), timeout=timeout)

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise TuneClientError(f"Cannot reach the TuneServer at {self.tune_address}: {exc}") from exc
        if response.is_success:
            return response.json()
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        raise TuneClientError(f"TuneServer refused {method} {path} "
                              f"({response.status_code}): {detail}",
                              status_code=response.status_code, detail=str(detail))

    def get_all_trials(self) -> list[dict[str, Any]]:
        """Returns all trials: trial_id, name, config, status, last_result...

        Raises:
            TuneClientError: No experiment is running, or the server is unreachable.
        """
        return self._request("GET", "/trials")

    def get_trial(self, trial_id: str) -> dict[str, Any]:
        """Returns one trial, including its ``last_result``.

        Raises:
            TuneClientError: Unknown ``trial_id`` (status_code 404), naming it.
        """
        return self._request("GET", f"/trials/{trial_id}")

    def add_trial(self, name: Optional[str], trial_spec: Mapping[str, Any]) -> dict[str, Any]:
        """Adds a trial with a resolved config to the running experiment.

        Args:
            name: The experiment's name (None: the running one). Any other name
                becomes the new trial's tag.
            trial_spec: ``{"config": {...}}`` with plain values (no grid_search or
                search domains).

        Returns:
            The new trial (``PENDING`` until a slot is free), with its ``trial_id``.

        Raises:
            ValueError: The config holds a search domain or a function (they cannot
                be sent as JSON; the error names the key).
            TuneClientError: The server refused the spec (status_code 400), e.g. a
                ``grid_search`` or an unknown spec key.
        """
        spec = dict(trial_spec or {})
        try:
            return self._request("POST", "/trials", json={"name": name, "spec": spec})
        except TypeError:  # not JSON: name the domain or function that cannot be sent
            check_resolved_config(spec.get("config") or {})
            raise

    def stop_trial(self, trial_id: str) -> dict[str, Any]:
        """Requests to stop a trial; it ends TERMINATED (``"stopped by client"``) at the
        end of its current round. Returns the trial as it is when asked.

        Raises:
            TuneClientError: Unknown ``trial_id`` (status_code 404).
        """
        return self._request("PUT", f"/trials/{trial_id}")

    def get_status(self) -> str:
        """Returns the experiment's ``== Status ==`` block."""
        return self._request("GET", "/status")["status"]

    def close(self) -> None:
        """Closes the HTTP connection pool."""
        self._http.close()

    def __enter__(self) -> "TuneClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
