"""Orchestration: the experiment as a Prefect flow run, the loop of one flow-run attempt,
the executor of the trial controller's actions, resume, signals and warm starts."""

from tuneflows.services.process_defaults import apply_defaults

apply_defaults()  # before any engine loads
