"""How long MLflow may make tuneflows wait: the driver's deadline on its MLflow writer
processes, and the bounded HTTP retries the writers give MLflow's own client.

MLflow's REST client retries a failed request 7 times with a doubling back-off by
default (≈ 4 minutes before it gives up on a tracking server that is gone). The writer
processes set MLflow's environment variables (``MLFLOW_HTTP_REQUEST_MAX_RETRIES``,
``MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR``, ``MLFLOW_HTTP_REQUEST_BACKOFF_JITTER``,
``MLFLOW_HTTP_REQUEST_TIMEOUT``) down before MLflow is imported, unless the user set
them; the driver never waits for a writer longer than ``TUNEFLOWS_MLFLOW_DEADLINE_S``.

Example:
    >>> writer_http_settings({"MLFLOW_HTTP_REQUEST_TIMEOUT": "60"})["MLFLOW_HTTP_REQUEST_TIMEOUT"]
    '60'
    >>> writer_http_settings({})["MLFLOW_HTTP_REQUEST_MAX_RETRIES"]
    '2'
"""

from __future__ import annotations

from typing import Mapping

from tuneflows.services.deadlines import deadline_from_env

DEADLINE_ENV = "TUNEFLOWS_MLFLOW_DEADLINE_S"
DEFAULT_DEADLINE_S = 30.0

#: MLflow's HTTP settings in the writer processes: a refused connection fails in ≈ 2 s
#: (attempts after 0 and 2 s), a tracking server that stopped answering in ≈ 32 s.
WRITER_HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0.5",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
}

#: Longest time a writer spends on its way out when the driver is gone (writing what it
#: holds, marking its open runs KILLED) before it exits anyway.
EXIT_GRACE_S = 10.0


def mlflow_deadline_s() -> float:
    """How long the driver waits for its MLflow writers when an experiment opens and
    after its last trial ends: ``TUNEFLOWS_MLFLOW_DEADLINE_S``, else 30 s.

    Raises:
        ValueError: ``TUNEFLOWS_MLFLOW_DEADLINE_S`` is not a positive number.

    Example:
        >>> mlflow_deadline_s()
        30.0
    """
    return deadline_from_env(DEADLINE_ENV, DEFAULT_DEADLINE_S)


def writer_http_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """MLflow's HTTP settings for a writer process: :data:`WRITER_HTTP_DEFAULTS` where
    ``environ`` does not set them."""
    return {key: environ.get(key, value) for key, value in WRITER_HTTP_DEFAULTS.items()}
