"""tuneflows: hyperparameter tuning where every experiment is a Prefect flow, every
trial runs on Ray, and MLflow keeps every record. The API is early Ray Tune's:
replace ``ray.tune`` with ``tuneflows``."""

from tuneflows._env import apply_defaults

apply_defaults()

from tuneflows.api import run_experiments  # noqa: E402
from tuneflows.error import TuneError  # noqa: E402
from tuneflows.execution.function_runner import report  # noqa: E402
from tuneflows.registry import register_trainable  # noqa: E402
from tuneflows.search.sample import (  # noqa: E402
    choice, grid_search, loguniform, qloguniform, quniform, randint, randn, sample_from, uniform,
)
from tuneflows.spec import Experiment  # noqa: E402
from tuneflows.trainable import Trainable  # noqa: E402
from tuneflows.trial import Trial  # noqa: E402

__all__ = [
    "Experiment", "Trainable", "Trial", "TuneError", "choice", "grid_search", "loguniform",
    "qloguniform", "quniform", "randint", "randn", "register_trainable", "report",
    "run_experiments", "sample_from", "uniform",
]
