"""The pictures' child process: for each job it is sent, reads the run directory's trial
files, writes the picture pages and ``importances.json``
(:func:`~tuneflows.recording.pictures.pages.write_pictures`) into ``<run dir>/pictures/``,
then logs them to the experiment's MLflow parent run as artifacts under ``pictures/``
and the importances as metrics ``importance.<parameter>`` (step: how many trials had
ended, so the metric's history shows the importances settle).

It is started with the experiment and serves until its input closes (the driver ended
it, or died), so its imports (Optuna, scikit-learn, plotly, MLflow: ≈ 2–3 s of CPU) and
its MLflow client are paid once, not at the end of the run; it runs at a lower CPU
priority than the trials.

Usage: ``python -m tuneflows.recording.pictures.publish NICE``, then one job a line on
standard input (:class:`PicturesJob` as JSON); it answers each with a line of JSON
(:class:`~tuneflows.recording.pictures.pages.Pictures`, or ``{"error": ...}``).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Iterable, Optional, Sequence, TextIO

from tuneflows.recording.mlflow.limits import writer_http_settings
from tuneflows.recording.mlflow.names import MlflowNames
from tuneflows.recording.mlflow.runs import parent_run, tracking_client
from tuneflows.recording.pictures.histories import read_histories
from tuneflows.recording.pictures.pages import IMPORTANCES_FILE, Pictures, write_pictures

logger = logging.getLogger(__name__)

#: The parent run's artifact folder of the pictures.
ARTIFACT_DIR = "pictures"
#: The metric prefix of the importances on the parent run.
IMPORTANCE_PREFIX = "importance."


@dataclass(frozen=True)
class PicturesJob:
    """What the child draws and where it logs it.

    Attributes:
        run_dir: The run directory (its trials' files are read).
        metric: The metric drawn.
        mode: ``"max"`` or ``"min"``.
        scales: The search space's ``{parameter: "log" | "linear"}``.
        experiment_name: The MLflow experiment.
        experiment_id: The tuneflows experiment id (tags its parent run).
        tracking_uri: The MLflow store.
    """

    run_dir: str
    metric: str
    mode: str
    experiment_name: str
    experiment_id: str
    tracking_uri: str
    scales: dict[str, str] = field(default_factory=dict)

    @property
    def directory(self) -> str:
        """Where the pictures are written: ``<run dir>/pictures``."""
        return os.path.join(self.run_dir, ARTIFACT_DIR)

    def to_json(self) -> str:
        """The job as the child's argument."""
        return json.dumps(asdict(self))


def publish(job: PicturesJob, clients: Optional[dict[str, Any]] = None) -> Pictures:
    """Draws the pictures and logs them to the parent run.

    Args:
        job: What to draw and where to log it.
        clients: MLflow clients by tracking URI, kept between jobs.

    Returns:
        What was made, with the parent run's id and the MLflow experiment's id when it
        was logged (as ``importances.json`` holds it).
    """
    made = write_pictures(read_histories(job.run_dir, job.metric), job.metric, job.mode,
                          job.directory, job.scales)
    clients = {} if clients is None else clients
    try:
        client = clients.get(job.tracking_uri) or tracking_client(job.tracking_uri)
        clients[job.tracking_uri] = client
        run = parent_run(client, job.experiment_name, job.experiment_id)
        logged = replace(made, mlflow_run_id=run.info.run_id,
                         mlflow_experiment_id=run.info.experiment_id)
        with open(os.path.join(job.directory, IMPORTANCES_FILE), "w") as f:
            f.write(logged.to_json())
        client.log_artifacts(run.info.run_id, job.directory, ARTIFACT_DIR)
        _log_importances(client, run.info.run_id, logged)
    except Exception as exc:  # noqa: BLE001 - no parent run (yet), a store down: files only
        logger.warning("The pictures were not logged to MLflow: %s: %s", type(exc).__name__,
                       exc)
        return made
    return logged


def _log_importances(client: Any, run_id: str, made: Pictures) -> None:
    from mlflow.entities import Metric

    stamp = int(time.time() * 1000)
    named = MlflowNames().metrics({f"{IMPORTANCE_PREFIX}{name}": share
                                   for name, share in made.importances.items()})
    if named:
        client.log_batch(run_id, metrics=[Metric(key, share, stamp, made.ended)
                                          for key, share in named.items()])


def warm_up() -> None:
    """Imports what a job needs (Optuna and scikit-learn, plotly, MLflow's client), so
    the first job, often the last one at the end of a run, does not pay for it."""
    import mlflow.tracking  # noqa: F401
    import optuna.importance  # noqa: F401
    import plotly.graph_objects  # noqa: F401
    import plotly.subplots  # noqa: F401
    import sklearn.ensemble  # noqa: F401


def serve(jobs: Iterable[str], answer: TextIO) -> None:
    """Answers each job (a line of JSON) with a line of JSON, until ``jobs`` ends."""
    clients: dict[str, Any] = {}
    for line in jobs:
        try:
            reply = asdict(publish(PicturesJob(**json.loads(line)), clients))
        except Exception as exc:  # noqa: BLE001 - told to the driver, which warns
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        answer.write(json.dumps(reply) + "\n")
        answer.flush()


def main(argv: Sequence[str]) -> int:
    """Entry point: ``NICE`` (how much lower its CPU priority is than the driver's)."""
    os.environ.update(writer_http_settings(os.environ))  # bounded waits on a dead server
    logging.basicConfig(level=logging.WARNING, format="tuneflows pictures: %(message)s")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the driver, which ends it
    if argv and int(argv[0]):
        os.nice(int(argv[0]))
    warm_up()
    serve(sys.stdin, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
