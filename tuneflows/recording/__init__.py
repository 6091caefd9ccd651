"""Recording: the experiment recorder and what it fans out to — per-trial files, MLflow
(through writer processes) and the status block."""
