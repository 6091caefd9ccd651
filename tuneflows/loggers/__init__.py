"""Recording: per-trial files, MLflow runs (written by the MLflow writer process,
``tuneflows.loggers.mlflow_process``), and the background thread that hands both their
writes in order."""

from tuneflows.loggers.files import TrialFiles
from tuneflows.loggers.mlflow_logger import MlflowRecorder
from tuneflows.loggers.recorder import Recorder

__all__ = ["TrialFiles", "MlflowRecorder", "Recorder"]
