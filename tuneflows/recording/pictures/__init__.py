"""The run's pictures and parameter importances on the MLflow parent run: made from the
trial files by a child process (:mod:`~tuneflows.recording.pictures.publish`), every few
minutes while the experiment runs and once at its end
(:mod:`~tuneflows.recording.pictures.refresher`), so no round waits for them."""
