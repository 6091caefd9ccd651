"""What an experiment's trials say, drawn and measured: parameter importances
(:mod:`~tuneflows.insight.importances`), the trials' histories read from a run
directory (:mod:`~tuneflows.insight.histories`) and the pictures made of them
(:mod:`~tuneflows.insight.figures`, :mod:`~tuneflows.insight.pictures`). Pure: no
engine is touched; :mod:`tuneflows.recording.pictures` logs the pictures to MLflow."""
