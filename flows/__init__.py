"""Flow entry points (runnable scripts and Prefect deployment targets)."""
