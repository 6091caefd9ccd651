"""The ``tuneflows`` command (``tuneflows.cli:main``, ``python -m tuneflows.cli``): run,
resume, list and inspect experiments, replay them into MLflow, manage the local
Prefect server."""

from tuneflows.cli.main import main

__all__ = ["main"]
