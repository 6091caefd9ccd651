"""Recording: per-trial files, MLflow runs, and the background thread that writes them."""

from tuneflows.loggers.files import TrialFiles
from tuneflows.loggers.mlflow_logger import MlflowRecorder
from tuneflows.loggers.recorder import Recorder

__all__ = ["TrialFiles", "MlflowRecorder", "Recorder"]
