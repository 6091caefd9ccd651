"""The pictures' child process: reads a run directory's trial files, writes the picture
pages and ``importances.json`` (:func:`~tuneflows.recording.pictures.pages.write_pictures`) into
``<run dir>/pictures/``, then logs them to the experiment's MLflow parent run as
artifacts under ``pictures/`` and the importances as metrics ``importance.<parameter>``
(step: how many trials had ended, so the metric's history shows the importances
settle). Runs at a lower CPU priority than the trials.

Usage: ``python -m tuneflows.recording.pictures.publish '<job as JSON>'``
(:class:`PicturesJob`).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Optional, Sequence

from tuneflows.recording.mlflow.runs import parent_run, tracking_client
from tuneflows.recording.pictures.histories import read_histories
from tuneflows.recording.pictures.pages import IMPORTANCES_FILE, write_pictures

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


def publish(job: PicturesJob) -> dict[str, Any]:
    """Draws the pictures and logs them to the parent run.

    Returns:
        What was made: ``importances.json``'s content plus the parent run's id and the
        MLflow experiment's id (also written back to ``importances.json``).
    """
    made = write_pictures(read_histories(job.run_dir, job.metric), job.metric, job.mode,
                          job.directory, job.scales)
    record = asdict(made)
    run = _parent_run(job)
    if run is not None:
        record.update(mlflow_run_id=run.info.run_id, mlflow_experiment_id=run.info.experiment_id)
        with open(os.path.join(job.directory, IMPORTANCES_FILE), "w") as f:
            json.dump(record, f, indent=2)
        _log(job, run.info.run_id, made.importances, made.ended)
    return record


def _parent_run(job: PicturesJob) -> Any:
    try:
        return parent_run(tracking_client(job.tracking_uri), job.experiment_name,
                          job.experiment_id)
    except ValueError as exc:  # not created yet, or the store is gone: files only
        logger.warning("The pictures were not logged to MLflow: %s", exc)
        return None


def _log(job: PicturesJob, run_id: str, importances: dict[str, float], ended: int) -> None:
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=job.tracking_uri)
    client.log_artifacts(run_id, job.directory, ARTIFACT_DIR)
    stamp = int(time.time() * 1000)
    metrics = [Metric(f"{IMPORTANCE_PREFIX}{name}", share, stamp, ended)
               for name, share in importances.items()]
    if metrics:
        client.log_batch(run_id, metrics=metrics)


def main(argv: Sequence[str]) -> Optional[int]:
    """Entry point: one argument, the job as JSON; prints the record as JSON."""
    logging.basicConfig(level=logging.WARNING, format="tuneflows pictures: %(message)s")
    try:
        os.nice(10)  # the trials come first
    except OSError:
        pass
    record = publish(PicturesJob(**json.loads(argv[0])))
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
