"""The experiment loop of one flow run: opens the run's records, fills slots, plays
each trial's rounds as Prefect task runs (the trial controller's actions carried out by
an :class:`~tuneflows.orchestration.action_executor.ActionExecutor`) and closes everything at the end,
whatever ended it."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from typing import Any, Awaitable, Callable, Mapping, Optional

from tuneflows.recording.mlflow import tags as mlflow_tags
from tuneflows.orchestration.abandoned_runs import end_abandoned_flow_run
from tuneflows.orchestration.action_executor import ActionExecutor
from tuneflows.orchestration.cancel_watch import Cancellation, CancelWatch
from tuneflows.orchestration.collector_pause import collector_paused
from tuneflows.search.concurrency import searcher_name
from tuneflows.runs.checkpoint_store import CheckpointStore
from tuneflows.control.controller import TrialController
from tuneflows.recording.round_report import RoundReport, round_report
from tuneflows.error import TuneError
from tuneflows.execution.shipping import ship_by_value_if_local
from tuneflows.execution.trial_actors import TrialActorDied, TrialActors
from tuneflows.runs.lock import ExperimentLock
from tuneflows.orchestration.experiment_request import ExperimentRequest
from tuneflows.runs.state import ExperimentState
from tuneflows.orchestration.views import ExperimentViews
from tuneflows.recording.experiment_recorder import ExperimentRecorder
from tuneflows.recording.mlflow.limits import mlflow_deadline_s
from tuneflows.recording.mlflow.writer_pool import MlflowWriterPool
from tuneflows.recording.pictures.refresher import pictures_for
from tuneflows.orchestration.resume import restore_experiment
from tuneflows.runs.run_dirs import (
    ending_words, record_run_end, record_run_start, write_run_file,
)
from tuneflows.services.startup_timeline import mark
from tuneflows.runs.state_writer import StateWriter
from tuneflows.orchestration.stop_signals import StopSignals
from tuneflows.trial import ERROR, PAUSED, PENDING, RUNNING, TERMINATED, Trial
from tuneflows.model.codes import EventKind, RoundEnd


#: Longest wait of a round for its trial's MLflow run id (its task run's tag).
RUN_ID_WAIT_S = 2.0

RoundTask = Callable[..., Awaitable[str]]


class ExperimentLoop:
    """Runs one experiment's trials to the end.

    Args:
        request: What to run.
        resume_state: Saved state to continue (overrides the request's, for retries).
    """

    def __init__(self, request: ExperimentRequest,
                 resume_state: Optional[ExperimentState] = None) -> None:
        self.request = request
        self.experiment = request.experiment
        self._resume_state = resume_state or request.resume_state
        self.experiment_id = (self._resume_state.experiment_id if self._resume_state
                              else uuid.uuid4().hex[:10])
        self.controller = TrialController(self.experiment, self.experiment_id, request.scheduler,
                                          request.searcher, request.slots(), request.round_seconds)
        self.checkpoints = CheckpointStore(self.experiment.keep_checkpoints_num,
                                           self.experiment.checkpoint_score_attr)
        self._driving: dict[str, asyncio.Task] = {}
        self._fatal: Optional[BaseException] = None
        self._stopped_by: Optional[str] = None  # the signal that stopped the experiment
        #: The cancelled flow run that stopped the experiment, if one did.
        self.cancelled: Optional[Cancellation] = None
        self._wakeup: Optional[asyncio.Event] = None
        self._event_loop: Optional[asyncio.AbstractEventLoop] = None
        self._round_task: Optional[RoundTask] = None
        self._actors: Optional[TrialActors] = None
        self._recorder: Optional[ExperimentRecorder] = None
        self._executor: Optional[ActionExecutor] = None
        self._state_writer: Optional[StateWriter] = None
        self._run_ids_late = False  # a round waited for an MLflow run id in vain
        self.views = ExperimentViews(request, self.controller,
                                     lambda: self._actors.count if self._actors else 0)

    @property
    def stopped_by(self) -> Optional[str]:
        """What stopped the loop before its end: ``"SIGINT"``, ``"SIGTERM"``,
        ``"cancel"`` (in Prefect: :attr:`cancelled` says which flow run), or None."""
        return self._stopped_by

    @property
    def trials(self) -> dict[str, Trial]:
        """Every trial of the experiment, by id."""
        return self.controller.trials

    # ------------------------------------------------------------------ lifecycle
    async def run(self, round_task: RoundTask) -> list[Trial]:
        """Runs the experiment to the end; every round is a call of ``round_task``.

        Raises:
            TuneError: Another driver runs this run of the experiment (its lock is held).
        """
        lock = ExperimentLock(self.experiment.dir)
        lock.acquire()  # before anything is written
        try:
            return await self._run_locked(round_task)
        finally:
            lock.release()

    async def _run_locked(self, round_task: RoundTask) -> list[Trial]:
        exp, ctl = self.experiment, self.controller
        self._round_task = round_task
        os.makedirs(exp.dir, exist_ok=True)
        write_run_file(exp.dir, exp.run_id, self.request.flow_run_id)
        ship_by_value_if_local(exp.trainable)
        finished = {} if self._resume_state is None else {
            t["trial_id"]: t["status"] for t in self._resume_state.trials
            if t["status"] in (TERMINATED, ERROR)}
        self._state_writer = StateWriter(exp, self.experiment_id, ctl.scheduler, ctl.searcher,
                                         appended=finished, metric=self.views.metric,
                                         mode=self.views.mode)
        mlflow = MlflowWriterPool.shared().open_experiment(
            exp.name, exp.local_dir, self.experiment_id, f"{exp.name}-{exp.run_id}",
            {mlflow_tags.SCHEDULER: type(ctl.scheduler).__name__,
             mlflow_tags.SEARCHER: searcher_name(ctl.searcher),
             mlflow_tags.LOGDIR: exp.dir, mlflow_tags.RUN_ID: exp.run_id, **self.request.parent_tags})
        mark("MLflow experiment open")
        self.views.mlflow_experiment_id = mlflow.mlflow_experiment_id
        mlflow.describe_experiment(exp, ctl.scheduler, ctl.searcher, self.views.metric,
                                   self.views.mode)
        pictures = pictures_for(exp, self.experiment_id, self.views.metric, self.views.mode)
        self._recorder = ExperimentRecorder(mlflow, self.views.board, self.views.reports,
                                            pictures)
        await self.views.reports.start()
        await self._take_over_run()
        await self.views.link_runs(mlflow)
        if pictures is not None:
            pictures.start()
        if self._resume_state is not None:
            restore_experiment(self._resume_state, ctl, self._recorder, self.checkpoints,
                               self.request.errored_only)
        self._persist(force=True)
        self._actors = TrialActors(exp.resources, exp.trainable, exp.max_seconds_without_result)
        self._executor = ActionExecutor(exp, self.experiment_id, ctl, self._actors,
                                        self.checkpoints, self._recorder, self._start_driving,
                                        self._resume_state)
        if self.request.on_loop is not None:
            self.request.on_loop(self)
        status = "FAILED"
        watch = CancelWatch(self.views.reports.flow_run_id, self.request.flow_run_id,
                            self._stop_on_cancel, self.views.reports.outage)
        # SIGINT/SIGTERM and a cancel in Prefect stop the loop; the trials, state and
        # runs then end as below.
        with StopSignals(self._stop_on_signal, grace_s=mlflow_deadline_s() + 30) as signals:
            try:
                await watch.start()
                await self._loop()
                if self._stopped_by == "SIGTERM":  # how a Prefect worker stops a cancelled run
                    self.cancelled = await watch.check_now()
                status = self._ending()
            except BaseException as exc:  # a cancelled flow run: KILLED
                status = "FAILED" if isinstance(exc, Exception) else "KILLED"
                raise
            finally:
                mark("last trial ended")
                await watch.stop()
                try:
                    await self._close(status)
                finally:
                    record_run_end(exp.dir, ending_words(
                        status, "cancelled" if self.cancelled else self._stopped_by))
                mark("experiment closed")
        if self.cancelled is None:
            signals.raise_if_received()
        if self._fatal is not None:
            raise self._fatal
        return list(self.trials.values())

    def _ending(self) -> str:
        """How the loop ended: FINISHED, FAILED, or KILLED with why (a signal, a cancel)."""
        if self.cancelled is not None:
            return f"KILLED: {self.cancelled.describe()}"
        if self._stopped_by:
            return f"KILLED: {self._stopped_by}"
        return "FINISHED" if self._fatal is None else "FAILED"

    def _stop_on_cancel(self, cancellation: Cancellation) -> None:
        """On the event loop: the flow run was cancelled in Prefect; the loop stops at
        once, as on SIGTERM."""
        self.cancelled = cancellation
        self._stopped_by = "cancel"
        if self._wakeup is not None:
            self._wakeup.set()

    def _stop_on_signal(self, signal_name: str) -> None:
        """From the signal handler: the loop stops at once (its trials end as KILLED)."""
        def stop() -> None:
            self._stopped_by = signal_name
            if self._wakeup is not None:
                self._wakeup.set()

        if self._event_loop is not None:
            self._event_loop.call_soon_threadsafe(stop)
        else:
            stop()

    async def _loop(self) -> None:
        self._event_loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        while self._fatal is None and self._stopped_by is None:
            with collector_paused():  # a suggestion's temporaries freed young
                filled = self.controller.fill_slots()
            await self._executor.carry_out_all(filled)
            if not self._driving:
                await self._executor.carry_out_all(self.controller.never_resumed())
                break
            woken = asyncio.ensure_future(self._wakeup.wait())
            done, _ = await asyncio.wait([woken, *self._driving.values()],
                                         return_when=asyncio.FIRST_COMPLETED)
            self._wakeup.clear()
            woken.cancel()
            for trial_id, task in list(self._driving.items()):
                if task in done:
                    del self._driving[trial_id]
                    if task.exception() is not None and self._fatal is None:
                        self._fatal = task.exception()
            self._recorder.show_status()

    async def _close(self, ending: str) -> None:
        """Ends the trials, the state, the MLflow runs and the reports; ``ending`` is
        FINISHED, FAILED or KILLED, the last with why (``"KILLED: SIGINT"``)."""
        status = ending.split(":", 1)[0]
        try:
            for task in self._driving.values():
                task.cancel()
            if self._driving:
                await asyncio.gather(*self._driving.values(), return_exceptions=True)
        finally:  # the MLflow runs end (with ``status``) whatever fails before
            try:
                for trial in self.trials.values():
                    if trial.status in (RUNNING, PAUSED, PENDING):
                        self._recorder.on_trial_left_running(trial, ending)
                self._persist(force=True)
                self._actors.shutdown()
            finally:
                gaps = await asyncio.to_thread(self._recorder.on_experiment_end, status,
                                               list(self.trials.values()))
                self.views.note_mlflow_gaps(gaps)
                pictures = self._recorder.pictures
                if pictures is not None:  # drawn from the trial files, all written now
                    self.views.note_pictures(await asyncio.to_thread(
                        pictures.finish, status != "KILLED"))
                await self.views.reports.finish(self.views.summary_facts(status))
        self._recorder.show_where_to_look(self.views.closing_lines())

    async def _take_over_run(self) -> None:
        """Notes this driver in ``run.json``; a flow run left Running by a driver that
        died before it is ended Crashed (:mod:`~tuneflows.orchestration.abandoned_runs`)."""
        own = self.views.reports.flow_run_id
        abandoned = record_run_start(self.experiment.dir, own, self.request.verbose)
        if abandoned is not None:
            await end_abandoned_flow_run(abandoned, own, self.views.reports.outage)

    def _persist(self, force: bool = False) -> None:
        """Saves the experiment state (throttled unless ``force``)."""
        ctl = self.controller
        self._state_writer.write(ctl.trials, self.checkpoints, ctl.scheduler, ctl.searcher,
                                 ctl.searcher_done, ctl.rounds, force=force)

    # ------------------------------------------------------------------ one trial
    def _start_driving(self, trial: Trial, parked: bool) -> None:
        self._driving[trial.trial_id] = asyncio.ensure_future(self._drive(trial, parked))

    async def _drive(self, trial: Trial, parked: bool) -> None:
        """Starts (unless parked on its actor) and plays rounds until the trial ends,
        pauses or fails for good."""
        if not parked and await self._executor.start(trial) != RoundEnd.RETRY:
            return
        while True:
            outcome = await self._round_task(
                trial_name=trial.name, round_index=self.controller.count_round(trial.trial_id),
                loop=self, trial_id=trial.trial_id)
            if outcome.ends_driving:
                return

    async def play_round(self, trial_id: str) -> RoundReport:
        """Plays one round of ``trial_id`` on its actor and carries out what the
        controller makes of it; returns how the round ended (and what its task run's
        state says). Called by the round task."""
        request = self.controller.round_request(trial_id)
        results: list[dict[str, Any]] = []
        try:
            outcome = await self._actors.run_round(trial_id, request)
        except TrialActorDied as exc:
            actions = self.controller.on_failure(trial_id, str(exc), actor_dead=True)
        else:
            results = self.controller.new_results(trial_id, outcome)
            if results:  # recorded before the scheduler sees them, which may raise
                self._recorder.on_results(self.trials[trial_id], results)
                self.views.check_stop_keys(results[0])
            actions = self.controller.on_round(trial_id, outcome, results)
        ended = await self._executor.carry_out_all(actions)
        self._persist()
        return round_report(self.trials[trial_id], results, actions, ended, self.views.rule,
                            self.views.metric, await self._mlflow_run_id(trial_id))

    async def _mlflow_run_id(self, trial_id: str) -> Optional[str]:
        """The trial's MLflow run id, for its round's tags. Its writer creates the run
        while the trial's first round plays; a round that ends first waits for the id up
        to RUN_ID_WAIT_S, until one such wait runs out (MLflow slow or down): from then
        on, rounds take the id only when it is already there."""
        deadline = time.monotonic() + (0.0 if self._run_ids_late else RUN_ID_WAIT_S)
        while True:
            run_id = self._recorder.mlflow_run_id(self.trials[trial_id])
            if run_id is not None or time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.02)
        self._run_ids_late = self._run_ids_late or run_id is None
        return run_id

    # ------------------------------------------------------------------ client API
    def call_soon(self, fn: Callable[..., Any], *args: Any, timeout: float = 30.0) -> Any:
        """Runs ``fn(*args)`` on the experiment's event loop from another thread (the
        Client API server's) and returns its result."""
        if self._event_loop is None:
            raise TuneError("The experiment is not running.")

        async def call() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(call(), self._event_loop).result(timeout)

    def request_stop(self, trial_id: str) -> None:
        """Stops a trial: at its next result if running, else at once.

        Raises:
            KeyError: No such trial.
        """
        self._recorder.on_event(self.trials[trial_id], EventKind.CLIENT_REQUEST, "stop")
        actions = self.controller.request_stop(trial_id)
        if not actions and self._actors is not None:
            self._actors.request_stop(trial_id)
        for action in actions:
            self._executor.end(action)

    def add_trial(self, config: dict[str, Any], tag: str = "",
                  settings: Optional[Mapping[str, Any]] = None) -> Trial:
        """Adds a PENDING trial with a resolved ``config`` (from the Client API);
        ``settings`` overrides the experiment's trial attributes (``stopping_criterion``,
        ``checkpoint_freq``, ``checkpoint_at_end``, ``max_failures``) for this trial."""
        trial = self.controller.add_trial(config, tag or "client")
        for name, value in (settings or {}).items():
            setattr(trial, name, value)
        self._executor.add(trial)
        self._recorder.on_event(trial, EventKind.CLIENT_REQUEST, "add trial")
        if self._wakeup is not None:
            self._wakeup.set()
        return trial

    # ------------------------------------------------------------------ display
    def status_text(self) -> str:
        """The current ``== Status ==`` block."""
        return self.views.board.text()

