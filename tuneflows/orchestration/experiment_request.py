"""What one experiment's flow run executes: the experiment, its scheduler and searcher,
the resources and loop settings, and what to resume."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from tuneflows.runs.state import ExperimentState
from tuneflows.schedulers import TrialScheduler
from tuneflows.search.searcher import Searcher
from tuneflows.spec import Experiment


@dataclass
class ExperimentRequest:
    """What one experiment's flow run executes (a retry of the flow run builds a fresh
    :class:`ExperimentLoop` from it, resuming from the saved state).

    Attributes:
        experiment: The experiment.
        scheduler: Decides continue / pause / stop / clone.
        searcher: Proposes configurations.
        total_resources: The Ray cluster's ``{"cpu": n, "gpu": m}``.
        round_seconds: Wall-clock slice of a round, so metrics stream while trials run.
        max_concurrent: Most trials running at once (None: as many as resources allow).
        verbose: Display level: 0 quiet, 1 status block, 2 block and results.
        resume_state: Saved state to continue (None: start afresh).
        errored_only: On resume, re-run only the failed trials.
        fail_on_errored_trials: End the flow run Failed when a trial ends in ERROR
            (``run_experiments(raise_on_failed_trial=True)``).
        on_loop: Called with each new loop (the Client API server attaches to it).
        metric: The metric ``run_experiments`` was given (None: the scheduler's or
            searcher's, else a stop key; :func:`tuneflows.model.best_trial.experiment_metric`).
        mode: Its mode (None: ``"max"``).
        flow_run_id: The Prefect flow run that called ``run_experiments`` (kept in the
            run directory's ``run.json``, so a retry of that flow run finds its run).
        parent_tags: More tags of the MLflow parent run (e.g. where a warm start began).
    """

    experiment: Experiment
    scheduler: TrialScheduler
    searcher: Searcher
    total_resources: dict[str, float] = field(default_factory=dict)
    round_seconds: float = 5.0
    max_concurrent: Optional[int] = None
    verbose: int = 2
    resume_state: Optional[ExperimentState] = None
    errored_only: bool = False
    fail_on_errored_trials: bool = False
    on_loop: Optional[Callable[[Any], None]] = None
    metric: Optional[str] = None
    mode: Optional[str] = None
    flow_run_id: Optional[str] = None
    parent_tags: dict[str, str] = field(default_factory=dict)

    def slots(self) -> int:
        """How many trials can hold an actor at once."""
        per_trial, total = self.experiment.resources, self.total_resources
        slots = int(total.get("cpu", 0) // per_trial["cpu"]) if per_trial["cpu"] else 10**6
        if per_trial["gpu"]:
            slots = min(slots, int(total.get("gpu", 0) // per_trial["gpu"]))
        if self.max_concurrent:
            slots = min(slots, self.max_concurrent)
        return max(slots, 1)
