"""Process defaults applied before Ray, Prefect or MLflow are imported: no telemetry
(this machine has no internet) and a Prefect ephemeral-server start-up timeout long
enough for a first database migration on a slow disk. Users' own settings win."""

import os

_DEFAULTS = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
}


def apply_defaults() -> None:
    """Sets each default unless the variable is already set."""
    for key, value in _DEFAULTS.items():
        os.environ.setdefault(key, value)
