"""Where a user finds an experiment's records: its logdir, its MLflow runs (the UI's
URL for a tracking server, else the ``mlflow ui`` command for the local store) and its
Prefect flow run (the UI's URL when a Prefect server is set, else how to start one).

Example:
    >>> mlflow_hint("sqlite:////r/mlflow.db", "demo")
    "MLflow: `mlflow ui --backend-store-uri sqlite:////r/mlflow.db`, experiment 'demo'"
    >>> mlflow_hint("http://mlflow:5000", "demo", "7")
    "MLflow: http://mlflow:5000/#/experiments/7/runs?workflowType=machine_learning (experiment 'demo')"
    >>> prefect_hint("0193", ui_url="http://127.0.0.1:4200")
    'Prefect: http://127.0.0.1:4200/runs/flow-run/0193'
"""

from __future__ import annotations

from typing import Optional

#: The Prefect UI a local ``prefect server start`` serves.
LOCAL_PREFECT_UI = "http://127.0.0.1:4200"
#: The MLflow UI ``mlflow ui`` serves by default.
LOCAL_MLFLOW_UI = "http://127.0.0.1:5000"
#: The query that opens an MLflow 3 experiment page in its model-training view.
MODEL_TRAINING_VIEW = "workflowType=machine_learning"


def mlflow_hint(tracking_uri: str, experiment_name: str,
                experiment_id: Optional[str] = None) -> str:
    """The MLflow UI's address for an http(s) tracking URI, else the command that
    serves the store; with the MLflow experiment's id, its runs page in the
    model-training view (MLflow 3.17 otherwise opens the view a user last picked, the
    GenAI one by default, whatever the experiment's ``mlflow.experimentKind`` tag says).

    Example:
        >>> mlflow_hint("sqlite:////r/mlflow.db", "demo", "3")  # doctest: +NORMALIZE_WHITESPACE
        "MLflow: `mlflow ui --backend-store-uri sqlite:////r/mlflow.db`, then
        http://127.0.0.1:5000/#/experiments/3/runs?workflowType=machine_learning
        (experiment 'demo')"
    """
    page = f"/#/experiments/{experiment_id}/runs?{MODEL_TRAINING_VIEW}" if experiment_id else ""
    if tracking_uri.startswith(("http://", "https://")):
        if page:
            return f"MLflow: {tracking_uri.rstrip('/')}{page} (experiment {experiment_name!r})"
        return f"MLflow: {tracking_uri.rstrip('/')}, experiment {experiment_name!r}"
    command = f"`mlflow ui --backend-store-uri {tracking_uri}`"
    if page:
        return f"MLflow: {command}, then {LOCAL_MLFLOW_UI}{page} (experiment {experiment_name!r})"
    return f"MLflow: {command}, experiment {experiment_name!r}"


def mlflow_run_url(tracking_uri: str, experiment_id: str, run_id: str,
                   artifact: str = "") -> str:
    """The MLflow UI's page of a run (``artifact``: the run's artifact shown), at the
    tracking server's address, else at the address ``mlflow ui`` serves, in MLflow's
    model-training view (MLflow 3 opens a run in its GenAI view otherwise).

    Example:
        >>> mlflow_run_url("sqlite:////r/mlflow.db", "3", "ab12", "pictures/history.html")
        'http://127.0.0.1:5000/#/experiments/3/runs/ab12/artifacts/pictures/history.html?workflowType=machine_learning'
    """
    base = tracking_uri.rstrip("/") if tracking_uri.startswith(("http://", "https://")) \
        else LOCAL_MLFLOW_UI
    page = f"{base}/#/experiments/{experiment_id}/runs/{run_id}"
    return (f"{page}/artifacts/{artifact}" if artifact else page) + f"?{MODEL_TRAINING_VIEW}"


def prefect_hint(flow_run_id: Optional[str], ui_url: Optional[str]) -> str:
    """The flow run's page on the Prefect UI at ``ui_url``; with no server set (the run
    went to Prefect's ephemeral API, whose database ``tuneflows server start`` serves),
    how to open it."""
    page = f"/runs/flow-run/{flow_run_id}" if flow_run_id else "/runs"
    if ui_url:
        return f"Prefect: {ui_url.rstrip('/')}{page}"
    return (f"Prefect: run `tuneflows server start` (it serves the same local database), "
            f"then open {LOCAL_PREFECT_UI}{page}")


def configured_prefect_ui() -> Optional[str]:
    """The Prefect UI's URL when a Prefect server is configured (``PREFECT_API_URL``),
    else None (the ephemeral API has no UI)."""
    from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL

    if not PREFECT_API_URL.value():
        return None
    return PREFECT_UI_URL.value() or PREFECT_API_URL.value().rstrip("/").removesuffix("/api")
