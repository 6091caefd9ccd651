"""The experiment as the Prefect UI shows it: a leaderboard table, a progress bar and,
at the end, a summary, as artifacts of the flow run (keys derived from the experiment's
name, so the versions of every run line up on the Artifacts page), and every decision
as an INFO line of the flow run's logs.

Artifacts are written by one asyncio task of the flow run (created in the flow's
context, so each artifact belongs to the flow run, not to a round's task run): the
progress at most every ``progress_interval_s`` as trials end (its counts kept as trials
end: :class:`~tuneflows.recording.trial_counts.ProgressTally`), the leaderboard at most
every ``interval_s`` while trials change (it walks every trial, so a long build pushes
the next away: :class:`~tuneflows.model.paced_clock.PacedClock`), and all three once at
the end. A write that
fails or takes longer than the Prefect deadline is skipped and counted
(:class:`~tuneflows.services.prefect_limits.PrefectOutage`); while the API is down, writes
are skipped at once: the experiment never waits on the Prefect API for more than that.

Example:
    >>> reports = PrefectReports("demo", lambda: trials, lambda: 12,
    ...                          ReportSettings("acc", "max", "ASHA"))  # doctest: +SKIP
    >>> await reports.start()                  # inside the flow run   # doctest: +SKIP
    >>> reports.on_trial_end(trial)                                    # doctest: +SKIP
    >>> await reports.finish(summary_facts)                            # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Coroutine, Mapping, Optional, Sequence

from tuneflows.model.paced_clock import PacedClock
from tuneflows.recording.experiment_report import (
    SummaryFacts, artifact_key, leaderboard_rows, progress_percent, progress_wording,
    summary_markdown,
)
from tuneflows.recording.trial_counts import ProgressTally
from tuneflows.recording.run_links import RunLinks
from tuneflows.services.prefect_limits import PrefectOutage
from tuneflows.trial import ERROR, Trial
from tuneflows.model.codes import EventKind
from tuneflows.model.trial_outcome import decision_phrase, trial_outcome

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportSettings:
    """How trials are ranked and how often the artifacts are rewritten.

    Attributes:
        metric: The metric trials are ranked by (None: none known).
        mode: ``"max"`` or ``"min"``.
        rule: The scheduler's short name (``"ASHA"``), for stop reasons.
        interval_s: Least seconds between two leaderboard versions while running (a
            table artifact cannot be updated: each write is a new version, a card on the
            flow run's Artifacts tab, so once a minute: ≤ 60 cards an hour).
        progress_interval_s: Least seconds between two progress updates.
        max_rows: Most rows of a leaderboard (the best trials).
        stop: The experiment's stop criteria (a trial's iteration budget).
    """

    metric: Optional[str]
    mode: str
    rule: str
    interval_s: float = 60.0
    progress_interval_s: float = 2.0
    max_rows: int = 200
    stop: Mapping[str, Any] = field(default_factory=dict)


class PrefectReports:
    """The leaderboard, progress and summary artifacts and the decision log of one
    experiment's flow run.

    Args:
        experiment_name: Names the artifact keys.
        trials: Returns every trial of the experiment so far.
        budget: Returns how many trials the searcher will suggest in all (0: unknown).
        settings: Ranking and throttling.
        outage: Bounds each write and counts what the Prefect API missed.
    """

    def __init__(self, experiment_name: str, trials: Callable[[], Sequence[Trial]],
                 budget: Callable[[], int], settings: ReportSettings,
                 outage: Optional[PrefectOutage] = None) -> None:
        self._name = experiment_name
        self._trials = trials
        self._budget = budget
        self.settings = settings
        self._tally = ProgressTally(settings.rule)
        self.keys = {kind: artifact_key(experiment_name, kind)
                     for kind in ("leaderboard", "progress", "summary")}
        self.flow_run_id: Optional[str] = None
        self._log: Any = logger
        self._progress_id: Any = None
        self._board_changed = self._progress_changed = False
        self._writer: Optional[asyncio.Task] = None
        self.outage = outage or PrefectOutage()
        self._write = BoundedWrites(self.outage)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Inside the flow run: creates the progress artifact and starts writing.
        Outside a flow run, decisions go to this module's logger and nothing is written."""
        from prefect import get_run_logger
        from prefect.artifacts import acreate_progress_artifact
        from prefect.context import FlowRunContext

        context = FlowRunContext.get()
        if context is None or context.flow_run is None:
            return
        self.flow_run_id = str(context.flow_run.id)
        self._log = get_run_logger()
        ended, total, text = self._progress()
        self._progress_id = await self._write(
            "progress", acreate_progress_artifact(
                progress_percent(ended, total), key=self.keys["progress"], description=text))
        self._board_changed = True
        self._writer = asyncio.ensure_future(self._keep_up())

    async def link_mlflow(self, links: RunLinks) -> None:
        """Tags the flow run with the MLflow experiment and parent run and adds a link
        artifact to the run's page (each within ``timeout_s``)."""
        if self.flow_run_id is None:
            return
        from prefect.artifacts import acreate_link_artifact
        from prefect.client.orchestration import get_client

        async def tag() -> None:
            async with get_client() as client:
                flow_run = await client.read_flow_run(self.flow_run_id)
                await client.update_flow_run(self.flow_run_id, tags=sorted(
                    set(flow_run.tags) | set(links.flow_run_tags())))

        await self._write("flow-run tags", tag())
        await self._write("mlflow", acreate_link_artifact(
            links.mlflow_run_url, link_text=f"MLflow parent run {links.parent_run_id}",
            key=artifact_key(self._name, "mlflow"), description=links.mlflow_line()))

    async def finish(self, facts: SummaryFacts) -> None:
        """Writes the final leaderboard, progress 100 and the summary (each within the
        Prefect deadline; none while the API is down)."""
        if self._writer is None:
            return
        self._writer.cancel()
        await asyncio.gather(self._writer, return_exceptions=True)
        self._writer = None
        from prefect.artifacts import acreate_markdown_artifact

        await self._write_leaderboard()
        await self._write_progress(final=True)
        trials = list(self._trials())
        await self._write("summary", acreate_markdown_artifact(
            summary_markdown(trials, facts), key=self.keys["summary"],
            description=f"How experiment {self._name!r} ended"))

    # ------------------------------------------------------------------ events
    def on_change(self) -> None:
        """Trials changed (new results): the leaderboard is due at its next interval."""
        self._board_changed = True

    def on_trial_end(self, trial: Trial) -> None:
        """A trial ended: the outcome to the flow run's log, progress and leaderboard due."""
        self._board_changed = self._progress_changed = True
        outcome = trial_outcome(trial, self.settings.rule)
        errored = bool(trial.error_file) and trial.status == ERROR
        extra = f" (see {trial.error_file})" if errored else ""
        self._log.log(logging.ERROR if errored else logging.INFO,
                      "Trial %s (%s) %s at iteration %d%s", trial.name, trial.trial_id,
                      outcome.describe(), trial.iteration, extra)

    def on_decision(self, trial: Trial, kind: str, reason: str) -> None:
        """A pause, perturbation, restart or client request, to the flow run's log."""
        self._board_changed = True
        level = logging.WARNING if kind == EventKind.RESTART else logging.INFO
        self._log.log(level, "Trial %s (%s) %s at iteration %d", trial.name, trial.trial_id,
                      decision_phrase(kind, self.settings.rule, reason), trial.iteration)

    # ------------------------------------------------------------------ writes
    async def _keep_up(self) -> None:
        progress = PacedClock(self.settings.progress_interval_s)
        board = PacedClock(self.settings.interval_s)
        progress.ran(time.monotonic())  # start() has just written the first progress
        board.ran(time.monotonic())
        while True:
            await asyncio.sleep(max(progress.wait_s(), 0.05) if self._progress_changed
                                else self.settings.progress_interval_s)
            if self._progress_changed and progress.due():
                await self._write_progress(clock=progress)
            if self._board_changed and board.due():
                await self._write_leaderboard(clock=board)

    async def _write_leaderboard(self, clock: Optional[PacedClock] = None) -> None:
        """Writes the leaderboard; building it (a walk over every trial) is timed on
        ``clock``, which then paces the next."""
        from prefect.artifacts import acreate_table_artifact

        started = time.monotonic()
        self._board_changed = False
        settings = self.settings
        trials = list(self._trials())
        rows = leaderboard_rows(trials, settings.metric, settings.mode, settings.rule)
        shown = rows[:settings.max_rows]
        ranked_by = f"by {settings.metric} ({settings.mode})" if settings.metric else "in order"
        more = f"; the best {len(shown)} of {len(rows)} shown" if len(shown) < len(rows) else ""
        if clock is not None:
            clock.ran(started)
        await self._write("leaderboard", acreate_table_artifact(
            shown, key=self.keys["leaderboard"],
            description=f"Trials of {self._name!r}, best first {ranked_by}{more}"))

    async def _write_progress(self, final: bool = False,
                              clock: Optional[PacedClock] = None) -> None:
        """Updates the progress artifact; building it is timed on ``clock`` as the
        leaderboard's."""
        from prefect.artifacts import aupdate_progress_artifact

        started = time.monotonic()
        self._progress_changed = False
        if self._progress_id is None:
            return
        ended, total, text = self._progress()
        percent = 100.0 if final else progress_percent(ended, total)
        if clock is not None:
            clock.ran(started)
        await self._write("progress", aupdate_progress_artifact(
            self._progress_id, percent, description=text))

    def _progress(self) -> tuple[int, int, str]:
        """Trials ended, trials in all (planned, if more) and the progress text, from
        the tally (which looks only at new and unfinished trials)."""
        counts = self._tally.counts(list(self._trials()))
        planned = self._budget() or 0
        return (counts.ended, max(counts.trials, planned),
                progress_wording(counts, planned, self.settings.stop))


class BoundedWrites:
    """Awaits Prefect artifact writes through a
    :class:`~tuneflows.services.prefect_limits.PrefectOutage`: each within the Prefect
    deadline, none while the API is down; a failure is counted, never raised.

    Example:
        >>> import asyncio
        >>> writes = BoundedWrites(PrefectOutage())
        >>> async def refused():
        ...     raise ConnectionError("refused")
        >>> asyncio.run(writes("leaderboard", refused()))
        >>> asyncio.run(writes("progress", asyncio.sleep(0)))  # skipped: the API is down
        >>> writes.outage.missed
        {'leaderboard artifact': 1, 'progress artifact': 1}
        >>> from tuneflows.services.prefect_limits import restore_client_settings
        >>> restore_client_settings()
    """

    def __init__(self, outage: PrefectOutage) -> None:
        self.outage = outage

    async def __call__(self, what: str, write: Coroutine[Any, Any, Any]) -> Any:
        """The result of ``write``, or None when it failed, took too long or was skipped."""
        if self.outage.down:
            write.close()
            self.outage.skipped(f"{what} artifact")
            return None
        return await self.outage.call(f"{what} artifact", write)
