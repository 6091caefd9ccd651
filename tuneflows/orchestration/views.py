"""What users watch of one experiment loop: the status block (and how much of it shows),
the Prefect reports, where to look once it ends, and the flow run's result (the best
trial). Every "best" here comes from :mod:`tuneflows.model.best_trial`."""

from __future__ import annotations

import logging
from typing import Any, Callable, Mapping, Optional

from tuneflows.model.best_trial import best_trial, experiment_metric, metric_value
from tuneflows.control.controller import TrialController
from tuneflows.orchestration.experiment_request import ExperimentRequest
from tuneflows.recording.experiment_report import SummaryFacts, outcome_counts
from tuneflows.recording.importance_table import importance_table
from tuneflows.recording.mlflow.gaps import MlflowGaps
from tuneflows.recording.mlflow.store import tracking_uri_for
from tuneflows.recording.mlflow.writer_pool import MlflowExperimentLog
from tuneflows.recording.run_links import RunLinks
from tuneflows.recording.prefect_reports import PrefectReports, ReportSettings
from tuneflows.recording.status_block import StatusDisplay
from tuneflows.recording.status_board import StatusBoard
from tuneflows.recording.where_to_look import (
    configured_prefect_ui, mlflow_hint, mlflow_run_url, prefect_hint,
)
from tuneflows.result import missing_keys
from tuneflows.model.plain_json import plain_json
from tuneflows.model.trial_outcome import rule_name

logger = logging.getLogger(__name__)


class ExperimentViews:
    """The displays of one experiment loop.

    Args:
        request: The experiment's request (its ``verbose`` level).
        controller: The loop's trial controller (trials, scheduler, searcher).
        holding: Returns how many actors the experiment holds now.

    Attributes:
        metric: The metric trials are ranked by (None: none known).
        mode: ``"max"`` or ``"min"``.
        mlflow_gaps: What MLflow lacks of the ended experiment (None: nothing).
        pictures: What the pictures' last refresh made (importances, pages, the MLflow
            run they are on; None: none made).
        board: The status block and where it shows.
        reports: The flow run's Prefect artifacts and decision log.
    """

    def __init__(self, request: ExperimentRequest, controller: TrialController,
                 holding: Callable[[], int]) -> None:
        self._request = request
        self._stop_keys_checked = False
        self.mlflow_gaps: Optional[str] = None
        self.pictures: Optional[dict[str, Any]] = None
        self._controller = controller
        self._holding = holding
        exp = request.experiment
        self.metric, self.mode = experiment_metric(controller.scheduler, controller.searcher,
                                                   exp.stop, request.metric, request.mode)
        self.rule = rule_name(controller.scheduler)
        #: The MLflow experiment's id once its parent run is open (for the UI's URL).
        self.mlflow_experiment_id: Optional[str] = None
        #: The links between the flow run and the MLflow parent run, once both exist.
        self.links: Optional[RunLinks] = None
        self.board = StatusBoard(
            lambda: list(controller.trials.values()), controller.scheduler.debug_string,
            self._used, request.total_resources, exp.dir, self.metric, self.mode,
            StatusDisplay(request.verbose))
        self.reports = PrefectReports(
            exp.name, lambda: list(controller.trials.values()),
            lambda: controller.searcher.total_trials or 0,
            ReportSettings(self.metric, self.mode, self.rule, stop=dict(exp.stop or {})))

    def _used(self) -> dict[str, float]:
        """The resources the experiment's actors hold now."""
        holding, per_trial = self._holding(), self._request.experiment.resources
        return {"cpu": holding * per_trial["cpu"], "gpu": holding * per_trial["gpu"]}

    def where_to_look(self) -> list[str]:
        """The logdir, the MLflow UI (URL or command) and the Prefect flow run's page;
        what MLflow lacks, if anything (:meth:`note_mlflow_gaps`)."""
        exp = self._request.experiment
        lines = [f"Logdir: {exp.dir}",
                 mlflow_hint(tracking_uri_for(exp.local_dir), exp.name, self.mlflow_experiment_id),
                 prefect_hint(self.reports.flow_run_id, configured_prefect_ui())]
        if self.mlflow_gaps is not None:
            lines.append(self.mlflow_gaps)
        return lines

    async def link_runs(self, mlflow: MlflowExperimentLog) -> None:
        """Inside the flow run, once the MLflow parent run is open: links the two, both
        ways (:class:`~tuneflows.recording.run_links.RunLinks`)."""
        flow_run_id = self.reports.flow_run_id
        if flow_run_id is None or mlflow.parent_run_id is None:
            return
        exp = self._request.experiment
        self.links = RunLinks(tracking_uri_for(exp.local_dir), mlflow.mlflow_experiment_id or "",
                              mlflow.parent_run_id, flow_run_id, configured_prefect_ui())
        url = self.links.flow_run_url
        mlflow.link_parent(self.links.parent_run_tags(),
                           [f"Prefect flow run: {url}" if url else
                            f"Prefect flow run `{flow_run_id}`"])
        await self.reports.link_mlflow(self.links)

    def note_pictures(self, made: Optional[dict[str, Any]]) -> None:
        """Keeps what the pictures' last refresh made, for the summary and the terminal."""
        self.pictures = made

    @property
    def importances(self) -> dict[str, float]:
        """The parameter importances of the ended run (empty: none computed)."""
        return dict((self.pictures or {}).get("importances") or {})

    def picture_links(self) -> list[str]:
        """Where the pictures are: a markdown link per page on the MLflow parent run, and
        their folder in the run directory."""
        made = self.pictures or {}
        exp = self._request.experiment
        links = []
        if made.get("mlflow_run_id"):
            uri = tracking_uri_for(exp.local_dir)
            ids = (made["mlflow_experiment_id"], made["mlflow_run_id"])
            links.append(f"[MLflow parent run]({mlflow_run_url(uri, *ids)})")
            links += [f"[{name.removesuffix('.html').replace('_', ' ')}]"
                      f"({mlflow_run_url(uri, *ids, 'pictures/' + name)})"
                      for name in made.get("files", [])]
        if made.get("files"):
            links.append(f"files: `{exp.dir}/pictures/`")
        return links

    def closing_lines(self) -> list[str]:
        """What the terminal shows after the final status block (which names the best
        trial): the parameter importances, then where to look."""
        table = importance_table(self.importances, self.metric or "")
        return ([table] if table else []) + self.where_to_look()

    def note_mlflow_gaps(self, gaps: MlflowGaps) -> None:
        """Warns in the run's log when MLflow lacks records of the experiment (named
        trials, why, how to replay them); the where-to-look lines and the summary say it
        too."""
        if gaps.complete:
            return
        exp = self._request.experiment
        names = {t.trial_id: t.name for t in self._controller.trials.values()}
        self.mlflow_gaps = gaps.describe(names, exp.dir)
        _run_logger().warning("Experiment %r: %s", exp.name, self.mlflow_gaps)

    def summary_facts(self, status: str) -> SummaryFacts:
        """What the summary artifact says besides the trials."""
        exp = self._request.experiment
        where = [f"Logdir: `{exp.dir}`", *self.where_to_look()[1:]]
        if self.links is not None:
            where.insert(2, self.links.mlflow_line())
        return SummaryFacts(exp.name, self.metric, self.mode, self.rule, dict(exp.stop or {}),
                            where, status, self.importances, self.picture_links())

    def flow_result(self, experiment_id: str) -> dict[str, Any]:
        """The flow run's result: the best trial's id, name, config and metric, the
        trial counts by outcome, the logdir and the run id (JSON data)."""
        trials = list(self._controller.trials.values())
        best = best_trial(trials, self.metric, self.mode)
        result: dict[str, Any] = {
            "experiment": self._request.experiment.name,
            "experiment_id": experiment_id,
            "metric": self.metric,
            "mode": self.mode,
            "best_trial_id": best.trial_id if best else None,
            "best_trial_name": best.name if best else None,
            "best_config": plain_json(best.config) if best else None,
            "best_metric": metric_value(best, self.metric) if best else None,
            "best_iterations": best.iteration if best else None,
            "trials": len(trials),
            "outcomes": outcome_counts(trials, self.rule),
            "logdir": self._request.experiment.dir,
            "run_id": self._request.experiment.run_id,
        }
        return result


    def check_stop_keys(self, result: Mapping[str, Any]) -> None:
        """Warns in the run's log, once, when the first result lacks a stop key: that
        stop never fires."""
        if self._stop_keys_checked:
            return
        self._stop_keys_checked = True
        exp = self._request.experiment
        missing = missing_keys(result, exp.stop or {})
        if missing:
            reported = sorted(k for k in result if k != "config")
            _run_logger().warning(
                "Experiment %r stops on %s, which the trainable does not report (its results "
                "have %s): those stops never fire.", exp.name, missing, reported)


def _run_logger() -> Any:
    """The flow run's logger (its messages reach the Prefect UI), else this module's."""
    from prefect import get_run_logger
    from prefect.exceptions import MissingContextError

    try:
        return get_run_logger()
    except MissingContextError:
        return logger
