"""The Client API's routes in tuneflows' shapes, under ``/api``: ``GET /api/trials`` a
bare list of trials, ``GET``/``PUT /api/trials/{id}`` one trial (``PUT`` asks it to
stop), ``POST /api/trials`` a trial with a resolved ``{"config": ...}``; and
``/status`` (also ``/api/status``), the ``== Status ==`` block.

Example:
    >>> from fastapi.testclient import TestClient
    >>> from tuneflows.rest.app import create_app
    >>> TestClient(create_app(lambda: None)).get("/api/trials").status_code
    503
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException

from tuneflows.rest.client_trials import client_tag
from tuneflows.rest.config_checks import check_client_config
from tuneflows.rest.experiment_access import ExperimentAccess, experiment_access, experiment_name
from tuneflows.rest.protocol import (
    API_PREFIX, ERROR_RESPONSES, VALID_SPEC_KEYS, AddTrialRequest, StatusInfo, TrialResponse,
    trial_response,
)

router = APIRouter()
Access = Depends(experiment_access)


@router.get(f"{API_PREFIX}/trials", response_model=list[TrialResponse], summary="All trials")
def get_all_trials(access: ExperimentAccess = Access) -> list[dict[str, Any]]:
    """Every trial of the running experiment."""
    return access.on_loop(lambda loop: [trial_response(t, experiment_name(loop))
                                        for t in list(loop.trials.values())])


@router.get(API_PREFIX + "/trials/{trial_id}", response_model=TrialResponse,
            responses=ERROR_RESPONSES, summary="One trial, with its last result")
def get_trial(trial_id: str, access: ExperimentAccess = Access) -> dict[str, Any]:
    """One trial (404 naming an unknown id)."""
    return access.on_loop(lambda loop: trial_response(access.lookup(loop, trial_id),
                                                      experiment_name(loop)))


@router.post(f"{API_PREFIX}/trials", response_model=TrialResponse, status_code=201,
             responses=ERROR_RESPONSES, summary="Add a trial with a resolved config")
def add_trial(body: AddTrialRequest, access: ExperimentAccess = Access) -> dict[str, Any]:
    """Adds a trial with the resolved config of ``body.spec`` (400 naming a bad key)."""
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
        access.budget.take(loop, 1)
        trial = loop.add_trial(config, client_tag(body.name, name or ""))
        return trial_response(trial, name)
    return access.on_loop(add)


@router.put(API_PREFIX + "/trials/{trial_id}", response_model=TrialResponse,
            responses=ERROR_RESPONSES, summary="Stop a trial")
def stop_trial(trial_id: str, access: ExperimentAccess = Access) -> dict[str, Any]:
    """Asks a trial to stop at its next result."""
    def stop(loop: Any) -> dict[str, Any]:
        trial = access.lookup(loop, trial_id)
        loop.request_stop(trial_id)
        return trial_response(trial, experiment_name(loop))
    return access.on_loop(stop)


@router.get("/status", response_model=StatusInfo, responses=ERROR_RESPONSES,
            summary="The == Status == block")
@router.get(f"{API_PREFIX}/status", response_model=StatusInfo, responses=ERROR_RESPONSES,
            include_in_schema=False)
def get_status(access: ExperimentAccess = Access) -> dict[str, Any]:
    """The experiment's name and its ``== Status ==`` block."""
    return access.on_loop(lambda loop: {"experiment": experiment_name(loop),
                                        "status": loop.status_text()})
