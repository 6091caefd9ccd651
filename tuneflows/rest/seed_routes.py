"""The seed's (Ray Tune 0.5) TuneServer routes, beside tuneflows' own in
:mod:`tuneflows.rest.routes`: ``GET /trials`` is ``{"trials": [info, ...]}``, ``GET
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

from typing import Any, Optional

from fastapi import APIRouter, Depends, HTTPException

from tuneflows.rest.client_trials import expand_client_spec
from tuneflows.rest.config_checks import check_resolved_config
from tuneflows.rest.experiment_access import ExperimentAccess, experiment_access, experiment_name
from tuneflows.rest.protocol import ERROR_RESPONSES, AddTrialRequest, trial_response

router = APIRouter()
Access = Depends(experiment_access)


def seed_trial_info(trial: Any, experiment: Optional[str]) -> dict[str, Any]:
    """The seed's TuneServer form of a Trial: ``id``, ``trainable_name``, ``config``,
    ``status``, ``result`` (its last result), with tuneflows' keys beside them."""
    info = trial_response(trial, experiment)
    info.update(id=trial.trial_id, trainable_name=trial.trainable_name,
                result=info.get("last_result"))
    return info


@router.get("/trials", summary="All trials (the seed's shape)")
def seed_get_all_trials(access: ExperimentAccess = Access) -> dict[str, Any]:
    """``{"trials": [info, ...]}``."""
    return access.on_loop(lambda loop: {"trials": [seed_trial_info(t, experiment_name(loop))
                                                   for t in list(loop.trials.values())]})


@router.get("/trials/{trial_id}", responses=ERROR_RESPONSES,
            summary="One trial (the seed's shape)")
def seed_get_trial(trial_id: str, access: ExperimentAccess = Access) -> dict[str, Any]:
    """``{"trial_info": info}`` (404 naming an unknown id)."""
    return access.on_loop(lambda loop: {"trial_info": seed_trial_info(
        access.lookup(loop, trial_id), experiment_name(loop))})


@router.post("/trials", status_code=201, responses=ERROR_RESPONSES,
             summary="Add the trials of a whole spec (the seed's add_trial)")
def seed_add_trials(body: AddTrialRequest, access: ExperimentAccess = Access) -> dict[str, Any]:
    """Expands ``body.spec`` as an experiment's spec and adds its trials (400 naming a
    bad key, 409 over the cap of client-added trials)."""
    def add(loop: Any) -> dict[str, Any]:
        name = experiment_name(loop)
        try:
            planned = expand_client_spec(loop.experiment, body.name, body.spec,
                                         limit=access.budget.remaining(loop))
            for trial in planned:
                check_resolved_config(trial.config)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        access.budget.take(loop, len(planned))
        added = [loop.add_trial(t.config, t.tag, t.settings) for t in planned]
        return {"trials": [seed_trial_info(t, name) for t in added]}
    return access.on_loop(add)


@router.put("/trials/{trial_id}", responses=ERROR_RESPONSES,
            summary="Stop a trial (the seed's shape)")
def seed_stop_trial(trial_id: str, access: ExperimentAccess = Access) -> dict[str, Any]:
    """Asks a trial to stop; ``{"trial_info": info}``."""
    def stop(loop: Any) -> dict[str, Any]:
        trial = access.lookup(loop, trial_id)
        loop.request_stop(trial_id)
        return {"trial_info": seed_trial_info(trial, experiment_name(loop))}
    return access.on_loop(stop)
