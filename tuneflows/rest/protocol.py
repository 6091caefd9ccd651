"""The Client API's protocol: its port and route prefix, the request and response
shapes of its routes, and a trial's REST form.

Example:
    >>> AddTrialRequest(spec={"config": {"lr": 0.1}}).spec
    {'config': {'lr': 0.1}}
"""

from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, Field

from tuneflows.model.plain_json import plain_json

DEFAULT_PORT = 4321
#: Prefix of the routes with tuneflows' own shapes (the seed's are at the root).
API_PREFIX = "/api"
#: Keys a client-added trial's spec may hold at ``/api/trials``.
VALID_SPEC_KEYS = ("config",)


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


def trial_response(trial: Any, experiment: Optional[str]) -> dict[str, Any]:
    """The REST form of a Trial (called on the experiment's loop)."""
    data = trial.to_dict()
    keys = TrialResponse.model_fields.keys()
    info = {k: data[k] for k in keys if k in data}
    info["name"] = trial.name
    info["experiment"] = experiment
    return plain_json(info)
