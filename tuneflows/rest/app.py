"""The Client API's FastAPI app over a running experiment's loop: its request guards,
its error shape and two sets of routes (:mod:`tuneflows.rest.routes`,
:mod:`tuneflows.rest.seed_routes`).

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

from typing import Any, Callable, Optional

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from tuneflows.rest import routes, seed_routes
from tuneflows.rest.experiment_access import DEFAULT_MAX_CLIENT_TRIALS, ExperimentAccess
from tuneflows.rest.guards import RequestGuards


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
    app.state.experiment_access = ExperimentAccess(get_loop, max_client_trials)
    app.add_exception_handler(RequestValidationError, _bad_body)
    app.include_router(routes.router)
    app.include_router(seed_routes.router)
    return app


async def _bad_body(request: Request, exc: Exception) -> JSONResponse:
    """A body that does not fit the route's shape: a 400 listing each problem."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    problems = "; ".join(f"{'/'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}"
                         for e in errors)
    return JSONResponse(status_code=400, content={"detail": f"Invalid request: {problems}"})
