"""The Client API's REST endpoints: the FastAPI app over a running experiment's loop,
its request and response models, and the checks on configs a client sends.

Two sets of routes over the same trials:

* ``/trials``, ``/trials/{id}``: the seed's (Ray Tune 0.5) TuneServer shapes, which its
  ``TuneClient`` and notebooks read: ``{"trials": [info, ...]}``, ``{"trial_info": info}``,
  each info with the seed's ``id``, ``trainable_name``, ``config``, ``status`` and
  ``result`` (plus tuneflows' keys); ``POST /trials`` takes ``{"name", "spec"}`` with a
  whole spec (``grid_search``, ``repeat``...) and returns ``{"trials": [added...]}``.
* ``/api/trials``, ``/api/trials/{id}``: tuneflows' shapes: a bare list of trials, one
  trial, and ``POST`` with a resolved ``{"config": ...}`` only.

``/status`` (and ``/api/status``) return the ``== Status ==`` block.

Every access to the experiment goes through its ``call_soon``, i.e. runs on the
experiment's event loop, so the app never reads a trial while the loop changes it.
"""

from __future__ import annotations

import concurrent.futures
import math
import weakref
from typing import Any, Callable, Mapping, Optional

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from tuneflows.rest.client_trials import client_tag
from tuneflows.error import TuneError
from tuneflows.rest.guards import RequestGuards
from tuneflows.search.config_validation import validate_config


DEFAULT_PORT = 4321
#: Prefix of the routes with tuneflows' own shapes (the seed's are at the root).
API_PREFIX = "/api"
#: Keys a client-added trial's spec may hold.
VALID_SPEC_KEYS = ("config",)
#: Longest wait for the experiment's event loop to answer one request.
CALL_TIMEOUT_S = 10.0
#: What ``call_soon`` raises when the experiment's loop has ended or does not answer.
NOT_RUNNING = (TuneError, RuntimeError, TimeoutError, concurrent.futures.TimeoutError)
#: Most trials clients may add to one experiment (409 beyond, naming the cap).
DEFAULT_MAX_CLIENT_TRIALS = 100


# ---------------------------------------------------------------------------- models
class TrialResponse(BaseModel):
    """One trial as the REST API shows it.

    Example:
        >>> TrialResponse(trial_id="3f2a1_00000", name="f_0", config={"lr": 0.1},
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
        spec: The trial spec: at ``/api/trials`` only ``{"config": {...}}`` with a
            resolved config; at the seed's ``/trials`` a whole spec.

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


#: The error statuses the routes document, each with an ErrorInfo body.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorInfo} for code in (400, 401, 404, 409, 413, 503)
}


# ---------------------------------------------------------------------------- helpers
def jsonable(value: Any) -> Any:
    """Plain JSON data: numpy scalars and arrays become Python numbers and lists,
    NaN/inf become None, other unknown objects their ``repr``."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return jsonable(value.tolist())
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
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"config key {where!r} is {value!r}; a client-added trial's config "
                         f"holds plain JSON values (finite numbers).")


def check_client_config(config: Any) -> None:
    """Checks a config a client sends to ``/api/trials``: a JSON object that the spec
    validator accepts, resolved (:func:`check_resolved_config`).

    Raises:
        ValueError: Naming the first bad key.
    """
    if not isinstance(config, dict):
        raise ValueError(f"spec['config'] must be a JSON object, got {type(config).__name__}.")
    validate_config(config)
    check_resolved_config(config)


class ClientTrialBudget:
    """How many trials clients may still add to each experiment (used on the
    experiment's loop, so checks and counts do not race).

    Example:
        >>> class Loop: ...
        >>> budget, loop = ClientTrialBudget(2), Loop()
        >>> budget.remaining(loop)
        2
        >>> budget.take(loop, 2); budget.remaining(loop)
        0
    """

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._added: "weakref.WeakKeyDictionary[Any, int]" = weakref.WeakKeyDictionary()

    def remaining(self, loop: Any) -> int:
        """How many more trials clients may add to ``loop``'s experiment."""
        return self.cap - self._added.get(loop, 0)

    def take(self, loop: Any, count: int) -> None:
        """Counts ``count`` added trials.

        Raises:
            HTTPException: 409 naming the cap, when ``count`` is over what remains.
        """
        if count > self.remaining(loop):
            raise HTTPException(409, f"The request would add {count} trial(s), over the cap "
                                     f"of {self.cap} client-added trials per experiment "
                                     f"({self._added.get(loop, 0)} added so far).")
        self._added[loop] = self._added.get(loop, 0) + count


def trial_response(trial: Any, experiment: Optional[str]) -> dict[str, Any]:
    """The REST form of a Trial (called on the experiment's loop)."""
    data = trial.to_dict()
    keys = TrialResponse.model_fields.keys()
    info = {k: data[k] for k in keys if k in data}
    info["name"] = trial.name
    info["experiment"] = experiment
    return jsonable(info)



# ---------------------------------------------------------------------------- app
def create_app(get_loop: Callable[[], Any], guards: Optional[RequestGuards] = None,
               max_client_trials: int = DEFAULT_MAX_CLIENT_TRIALS) -> FastAPI:
    """The FastAPI app of the Client API.

    Args:
        get_loop: Returns the current ExperimentLoop (or None between experiments).
            The loop must offer ``call_soon``, ``trials``, ``request_stop``,
            ``add_trial``, ``status_text`` and ``experiment.name``.
        guards: Body size and depth limits, allowed hosts, token (default: the
            limits only; a TuneServer always passes its hosts).
        max_client_trials: Most trials clients may add to one experiment.

    Returns:
        The app; serve it with uvicorn or test it with ``fastapi.testclient``.

    Example:
        >>> from fastapi.testclient import TestClient
        >>> TestClient(create_app(lambda: None)).get("/trials").json()
        {'detail': 'No experiment is running.'}
    """
    app = FastAPI(title="tuneflows TuneServer",
                  description="Client API of a running tuneflows experiment.")
    (guards or RequestGuards()).install(app)
    budget = ClientTrialBudget(max_client_trials)

    @app.exception_handler(RequestValidationError)
    async def _bad_body(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'/'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()
        )
        return JSONResponse(status_code=400, content={"detail": f"Invalid request: {problems}"})

    def on_loop(fn: Callable[..., Any], *args: Any) -> Any:
        """Runs ``fn(loop, *args)`` on the current experiment's event loop."""
        loop = get_loop()
        if loop is None:
            raise HTTPException(503, "No experiment is running.")
        try:
            return loop.call_soon(fn, loop, *args, timeout=CALL_TIMEOUT_S)
        except HTTPException:
            raise
        except Exception as exc:  # noqa: BLE001 - a request's failure stays the request's
            if isinstance(exc, NOT_RUNNING) and not isinstance(exc, RecursionError):
                name = experiment_name(loop)
                raise HTTPException(503, f"Experiment {name!r} is not running "
                                         f"({exc or 'timed out'}).") from None
            raise HTTPException(500, f"The request failed: {type(exc).__name__}: {exc}") from None

    def lookup(loop: Any, trial_id: str) -> Any:
        trial = loop.trials.get(trial_id)
        if trial is None:
            raise HTTPException(404, f"No trial {trial_id!r} in experiment "
                                     f"{experiment_name(loop)!r}.")
        return trial

    @app.get(f"{API_PREFIX}/trials", response_model=list[TrialResponse], summary="All trials")
    def get_all_trials() -> list[dict[str, Any]]:
        def read(loop: Any) -> list[dict[str, Any]]:
            name = experiment_name(loop)
            return [trial_response(t, name) for t in list(loop.trials.values())]
        return on_loop(read)

    @app.get(API_PREFIX + "/trials/{trial_id}", response_model=TrialResponse,
             responses=ERROR_RESPONSES,
             summary="One trial, with its last result")
    def get_trial(trial_id: str) -> dict[str, Any]:
        return on_loop(lambda r: trial_response(lookup(r, trial_id), experiment_name(r)))

    @app.post(f"{API_PREFIX}/trials", response_model=TrialResponse, status_code=201,
              responses=ERROR_RESPONSES,
              summary="Add a trial with a resolved config")
    def add_trial(body: AddTrialRequest) -> dict[str, Any]:
        unknown = sorted(set(body.spec) - set(VALID_SPEC_KEYS))
        if unknown:
            raise HTTPException(400, f"Unknown trial spec key(s) {unknown}; valid keys: "
                                     f"{', '.join(VALID_SPEC_KEYS)}.")
        config = body.spec.get("config") or {}
        try:
            check_client_config(config)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None

        def add(loop: Any) -> dict[str, Any]:
            name = experiment_name(loop)
            budget.take(loop, 1)
            trial = loop.add_trial(config, client_tag(body.name, name or ""))
            return trial_response(trial, name)
        return on_loop(add)

    @app.put(API_PREFIX + "/trials/{trial_id}", response_model=TrialResponse,
             responses=ERROR_RESPONSES,
             summary="Stop a trial")
    def stop_trial(trial_id: str) -> dict[str, Any]:
        def stop(loop: Any) -> dict[str, Any]:
            trial = lookup(loop, trial_id)
            loop.request_stop(trial_id)
            return trial_response(trial, experiment_name(loop))
        return on_loop(stop)

    @app.get("/status", response_model=StatusInfo, responses=ERROR_RESPONSES,
             summary="The == Status == block")
    def get_status() -> dict[str, Any]:
        return on_loop(lambda r: {"experiment": experiment_name(r), "status": r.status_text()})

    app.add_api_route(f"{API_PREFIX}/status", get_status, methods=["GET"],
                      response_model=StatusInfo, responses=ERROR_RESPONSES, include_in_schema=False)

    from tuneflows.rest.seed_routes import add_seed_routes  # it builds on this module

    add_seed_routes(app, on_loop, lookup, budget)
    return app


def experiment_name(loop: Any) -> Optional[str]:
    return getattr(getattr(loop, "experiment", None), "name", None)
