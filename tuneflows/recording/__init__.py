"""Recording: the experiment recorder and what it fans out to — per-trial files, MLflow
(through writer processes), Prefect reports and the status block — and their readers."""

from tuneflows.services.process_defaults import apply_defaults

apply_defaults()  # before any engine loads
