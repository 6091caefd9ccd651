"""The pictures' child process: reads a run directory's trial files, writes the picture
pages and ``importances.json`` (:func:`~tuneflows.recording.pictures.pages.write_pictures`) into
``<run dir>/pictures/``, then logs them to the experiment's MLflow parent run as
artifacts under ``pictures/`` and the importances as metrics ``importance.<parameter>``
(step: how many trials had ended, so the metric's history shows the importances
settle). While trials run, it runs at a lower CPU priority than they do.

Usage: ``python -m tuneflows.recording.pictures.publish '<job as JSON>'``
(:class:`PicturesJob`).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Optional, Sequence

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
        nice: How much lower than the driver's the child's CPU priority is (while
            trials run, they come first).
    """

    run_dir: str
    metric: str
    mode: str
    experiment_name: str
    experiment_id: str
    tracking_uri: str
    scales: dict[str, str] = field(default_factory=dict)
    nice: int = 0

    @property
    def directory(self) -> str:
        """Where the pictures are written: ``<run dir>/pictures``."""
        return os.path.join(self.run_dir, ARTIFACT_DIR)

    def to_json(self) -> str:
        """The job as the child's argument."""
        return json.dumps(asdict(self))


def publish(job: PicturesJob) -> Pictures:
    """Draws the pictures and logs them to the parent run.

    Returns:
        What was made, with the parent run's id and the MLflow experiment's id when it
        was logged (as ``importances.json`` holds it).
    """
    made = write_pictures(read_histories(job.run_dir, job.metric), job.metric, job.mode,
                          job.directory, job.scales)
    try:
        client = tracking_client(job.tracking_uri)
        run = parent_run(client, job.experiment_name, job.experiment_id)
    except ValueError as exc:  # no parent run (yet): the files only
        logger.warning("The pictures were not logged to MLflow: %s", exc)
        return made
    made = replace(made, mlflow_run_id=run.info.run_id,
                   mlflow_experiment_id=run.info.experiment_id)
    with open(os.path.join(job.directory, IMPORTANCES_FILE), "w") as f:
        f.write(made.to_json())
    client.log_artifacts(run.info.run_id, job.directory, ARTIFACT_DIR)
    _log_importances(client, run.info.run_id, made)
    return made


def _log_importances(client: Any, run_id: str, made: Pictures) -> None:
    from mlflow.entities import Metric

    stamp = int(time.time() * 1000)
    named = MlflowNames().metrics({f"{IMPORTANCE_PREFIX}{name}": share
                                   for name, share in made.importances.items()})
    if named:
        client.log_batch(run_id, metrics=[Metric(key, share, stamp, made.ended)
                                          for key, share in named.items()])


def main(argv: Sequence[str]) -> Optional[int]:
    """Entry point: one argument, the job as JSON; prints the record as JSON."""
    os.environ.update(writer_http_settings(os.environ))  # bounded waits on a dead server
    logging.basicConfig(level=logging.WARNING, format="tuneflows pictures: %(message)s")
    job = PicturesJob(**json.loads(argv[0]))
    if job.nice:
        os.nice(job.nice)
    print(json.dumps(asdict(publish(job))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
