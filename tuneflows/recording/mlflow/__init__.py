"""MLflow: the writer processes and what they send (records, batches, names, limits), the
store, and the readers (runs, sync from trial files, the model registry)."""
