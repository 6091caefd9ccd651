"""The ``tuneflows`` command (``tuneflows.cli:main``, ``python -m tuneflows.cli``): run,
resume, list and inspect experiments, replay them into MLflow, manage the local
Prefect server."""

from tuneflows.services.process_defaults import apply_defaults

apply_defaults()  # before any engine loads

from tuneflows.cli.main import main  # noqa: E402

__all__ = ["main"]
