"""The seed's (Ray Tune 0.5) TuneServer routes, beside tuneflows' own in
:mod:`tuneflows.rest.app`: ``GET /trials`` is ``{"trials": [info, ...]}``, ``GET
/trials/{id}`` and ``PUT /trials/{id}`` are ``{"trial_info": info}``, and ``POST /trials``
takes ``{"name": ..., "spec": <a whole spec>}``, expands it as an experiment's spec
(:mod:`tuneflows.rest.client_trials`; a bad spec is a 400 naming the key) and returns
``{"trials": [info of each added trial]}``.

Example:
    >>> from fastapi.testclient import TestClient
    >>> from tuneflows.rest.app import create_app
    >>> TestClient(create_app(lambda: None)).get("/trials").status_code
    503
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from fastapi import FastAPI, HTTPException

from tuneflows.rest.client_trials import expand_client_spec
from tuneflows.rest.app import (
    ERROR_RESPONSES, AddTrialRequest, ClientTrialBudget, check_resolved_config, experiment_name,
    trial_response,
)


def seed_trial_info(trial: Any, experiment: Optional[str]) -> dict[str, Any]:
    """The seed's TuneServer form of a Trial: ``id``, ``trainable_name``, ``config``,
    ``status``, ``result`` (its last result), with tuneflows' keys beside them."""
    info = trial_response(trial, experiment)
    info.update(id=trial.trial_id, trainable_name=trial.trainable_name,
                result=info.get("last_result"))
    return info


def add_seed_routes(app: FastAPI, on_loop: Callable[..., Any],
                    lookup: Callable[[Any, str], Any], budget: ClientTrialBudget) -> None:
    """Adds the seed's routes to ``app``.

    Args:
        app: The Client API's app.
        on_loop: Runs ``fn(loop, *args)`` on the running experiment's event loop.
        lookup: ``lookup(loop, trial_id)``: the trial, or a 404 naming the id.
        budget: How many trials clients may still add (409 beyond, naming the cap).
    """
    @app.get("/trials", summary="All trials (the seed's shape)")
    def seed_get_all_trials() -> dict[str, Any]:
        return on_loop(lambda r: {"trials": [seed_trial_info(t, experiment_name(r))
                                             for t in list(r.trials.values())]})

    @app.get("/trials/{trial_id}", responses=ERROR_RESPONSES,
             summary="One trial (the seed's shape)")
    def seed_get_trial(trial_id: str) -> dict[str, Any]:
        return on_loop(lambda r: {"trial_info": seed_trial_info(lookup(r, trial_id),
                                                                experiment_name(r))})

    @app.post("/trials", status_code=201, responses=ERROR_RESPONSES,
              summary="Add the trials of a whole spec (the seed's add_trial)")
    def seed_add_trials(body: AddTrialRequest) -> dict[str, Any]:
        def add(loop: Any) -> dict[str, Any]:
            name = experiment_name(loop)
            try:
                planned = expand_client_spec(loop.experiment, body.name, body.spec,
                                             limit=budget.remaining(loop))
                for trial in planned:
                    check_resolved_config(trial.config)
            except ValueError as exc:
                raise HTTPException(400, str(exc)) from None
            budget.take(loop, len(planned))
            added = [loop.add_trial(t.config, t.tag, t.settings) for t in planned]
            return {"trials": [seed_trial_info(t, name) for t in added]}
        return on_loop(add)

    @app.put("/trials/{trial_id}", responses=ERROR_RESPONSES,
             summary="Stop a trial (the seed's shape)")
    def seed_stop_trial(trial_id: str) -> dict[str, Any]:
        def stop(loop: Any) -> dict[str, Any]:
            trial = lookup(loop, trial_id)
            loop.request_stop(trial_id)
            return {"trial_info": seed_trial_info(trial, experiment_name(loop))}
        return on_loop(stop)
