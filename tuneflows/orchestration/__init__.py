"""Orchestration: the experiment as a Prefect flow run, the loop of one flow-run attempt,
the executor of the trial controller's actions, resume, signals and warm starts."""
