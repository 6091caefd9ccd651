"""Process defaults applied before Ray, Prefect or MLflow are imported: no telemetry
(this machine has no internet), a start-up timeout for the Prefect server tuneflows
starts (local or ephemeral) long enough for a first database migration on a slow disk,
and Prefect's console handler at WARNING; MLflow's own logging at WARNING. Users' own
settings win."""

import os
import sys

_DEFAULTS = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    # The terminal shows tuneflows' status block; Prefect's per-task-run INFO lines
    # still reach the Prefect API (and UI), just not the console.
    "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "WARNING",
    # MLflow logs its store's table creation and migrations at INFO (in the writer
    # processes too, which inherit this): nothing a user can act on.
    "MLFLOW_LOGGING_LEVEL": "WARNING",
    # For the Prefect server that tuneflows starts on a laptop, local or ephemeral (a
    # configured server keeps its own settings; a local server keeps those of the run
    # that started it): no automations, no event stream and no event table, which cut
    # its CPU per task run by about a third (benchmarks/README.md).
    # Task-run states are still recorded by the server's task-run recorder.
    "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED": "false",
    "PREFECT_SERVER_EVENTS_STREAM_OUT_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED": "false",
    # The task-run recorder writes task-run states in batches of up to 100 events, at
    # least once a second, instead of one transaction per event (Prefect's default
    # batch size is 1): two thirds less server CPU per round (benchmarks/README.md).
    # States reach the API (and UI) up to a second later; a server shutting down
    # writes what it holds.
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "100",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL": "1",
}


def apply_defaults() -> None:
    """Sets each default unless the variable is already set."""
    for key, value in _DEFAULTS.items():
        os.environ.setdefault(key, value)
    _use_ray_token_auth_if_available()


def _use_ray_token_auth_if_available() -> None:
    """Ray 2.60 starts clusters with token authentication (``ray start --head`` writes
    ``~/.ray/auth_token``), but a driver joining one by address sends the token only
    with ``RAY_AUTH_MODE=token``, read when Ray is imported. A new local cluster uses
    token mode by default anyway, so turn it on whenever a token is available and the
    user has not chosen a mode."""
    if "RAY_AUTH_MODE" in os.environ or "ray" in sys.modules:
        return  # Ray read its mode on import; ensure_ray handles that case
    token_file = os.environ.get("RAY_AUTH_TOKEN_PATH") or os.path.expanduser("~/.ray/auth_token")
    if os.environ.get("RAY_AUTH_TOKEN") or os.path.exists(token_file):
        os.environ["RAY_AUTH_MODE"] = "token"
