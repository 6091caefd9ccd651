"""The links between an experiment's Prefect flow run and its MLflow parent run, both
ways: the MLflow parent run is tagged with the flow run's id and page (and says so in
its description); the flow run is tagged with the MLflow experiment and parent run and
holds a link artifact to the run's page. Pure: the recorder and the Prefect reports
send them.

Example:
    >>> links = RunLinks("sqlite:////r/mlflow.db", "3", "ab12", "0193",
    ...                  "http://127.0.0.1:4200")
    >>> links.mlflow_run_url
    'http://127.0.0.1:5000/#/experiments/3/runs/ab12?workflowType=machine_learning'
    >>> links.flow_run_tags()
    ['mlflow_experiment:3', 'mlflow_run:ab12']
    >>> links.parent_run_tags()["tuneflows.prefect.flow_run_url"]
    'http://127.0.0.1:4200/runs/flow-run/0193'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from tuneflows.recording.mlflow import tags as mlflow_tags
from tuneflows.recording.where_to_look import mlflow_run_url

#: Prefix of the Prefect tags naming an MLflow run (a flow run's parent run, a round's
#: trial run) and of the one naming the MLflow experiment.
MLFLOW_RUN_PREFIX = "mlflow_run:"
MLFLOW_EXPERIMENT_PREFIX = "mlflow_experiment:"


@dataclass(frozen=True)
class RunLinks:
    """What links an experiment's MLflow parent run and its Prefect flow run.

    Attributes:
        tracking_uri: The MLflow store.
        mlflow_experiment_id: The MLflow experiment's id.
        parent_run_id: The MLflow parent run's id.
        flow_run_id: The Prefect flow run's id.
        prefect_ui: The Prefect UI's address (None: no UI, e.g. the ephemeral API).
    """

    tracking_uri: str
    mlflow_experiment_id: str
    parent_run_id: str
    flow_run_id: str
    prefect_ui: Optional[str] = None

    @property
    def mlflow_run_url(self) -> str:
        """The parent run's page on the MLflow UI."""
        return mlflow_run_url(self.tracking_uri, self.mlflow_experiment_id, self.parent_run_id)

    @property
    def flow_run_url(self) -> Optional[str]:
        """The flow run's page on the Prefect UI (None without a UI)."""
        if not self.prefect_ui:
            return None
        return f"{self.prefect_ui.rstrip('/')}/runs/flow-run/{self.flow_run_id}"

    def parent_run_tags(self) -> dict[str, str]:
        """The MLflow parent run's tags naming the flow run, and its description (which
        the summary replaces at the end, with the same link under "Where to look")."""
        url = self.flow_run_url
        tags = {mlflow_tags.FLOW_RUN_ID: self.flow_run_id}
        if url:
            tags[mlflow_tags.FLOW_RUN_URL] = url
        tags[mlflow_tags.DESCRIPTION] = (f"Prefect flow run: [{self.flow_run_id}]({url})" if url
                                 else f"Prefect flow run `{self.flow_run_id}`")
        return tags

    def flow_run_tags(self) -> list[str]:
        """The Prefect flow run's tags naming the MLflow experiment and parent run."""
        return [f"{MLFLOW_EXPERIMENT_PREFIX}{self.mlflow_experiment_id}",
                f"{MLFLOW_RUN_PREFIX}{self.parent_run_id}"]

    def mlflow_line(self) -> str:
        """The summary's line naming the MLflow parent run (markdown)."""
        how = ("" if self.tracking_uri.startswith(("http://", "https://")) else
               f" (after `mlflow ui --backend-store-uri {self.tracking_uri}`)")
        return f"MLflow parent run `{self.parent_run_id}`: {self.mlflow_run_url}{how}"
