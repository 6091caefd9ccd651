"""The experiment loop: starts trials on free slots, plays their rounds, applies the
scheduler's decisions and records everything. Runs inside the experiment's flow."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Optional

import ray

from tuneflows import result as R
from tuneflows.checkpoints import CheckpointStore
from tuneflows.error import TuneError
from tuneflows.execution.actor_pool import ActorPool
from tuneflows.execution.trial_actor import RoundOutcome, RoundRequest
from tuneflows.experiment_state import ExperimentState, load_state
from tuneflows.loggers.files import TrialFiles
from tuneflows.loggers.mlflow_writers import ExperimentLog, MlflowWriters
from tuneflows.loggers.recorder import Recorder
from tuneflows.schedulers import Decision, TrialScheduler
from tuneflows.search.searcher import EARLY_STOPPED, FINISHED, Searcher
from tuneflows.spec import Experiment
from tuneflows.state_writer import StateWriter
from tuneflows.status import StatusDisplay, status_text
from tuneflows.trainable import TrialInfo
from tuneflows.trial import ERROR, PAUSED, PENDING, RUNNING, TERMINATED, Trial

logger = logging.getLogger(__name__)

# What a round ends in, as returned by the round task.
CONTINUE, PAUSE, STOP, RETRY = "CONTINUE", "PAUSE", "STOP", "RETRY"
ENDED = (PAUSE, STOP, TERMINATED, ERROR)

RoundTask = Callable[..., Awaitable[str]]


@dataclass
class RunnerSettings:
    """Knobs of the experiment loop.

    Attributes:
        round_seconds: Wall-clock slice of a round, so metrics stream while trials run.
        max_concurrent: Most trials running at once (None: as many as resources allow).
        verbose: Show the status block.
    """

    round_seconds: float = 5.0
    max_concurrent: Optional[int] = None
    verbose: bool = True
    total_resources: dict[str, float] = field(default_factory=dict)


class ExperimentRunner:
    """Runs one experiment's trials on Ray actors under a scheduler and a searcher.

    Every round is played through ``round_task`` (a Prefect task in the flow), which
    calls back :meth:`play_round`. The loop is asynchronous: each finished round is
    acted on at once.
    """

    def __init__(
        self,
        experiment: Experiment,
        scheduler: TrialScheduler,
        searcher: Searcher,
        settings: RunnerSettings,
        resume_state: Optional[ExperimentState] = None,
        errored_only: bool = False,
    ) -> None:
        self.experiment = experiment
        self.scheduler = scheduler
        self.searcher = searcher
        self.settings = settings
        self._resume_state = resume_state
        self._errored_only = errored_only
        self.experiment_id = resume_state.experiment_id if resume_state else uuid.uuid4().hex[:10]
        self.trials: dict[str, Trial] = {}
        # The unfinished trials (PENDING, RUNNING, PAUSED), in order: what slot filling
        # and the scheduler's choices walk, so their cost does not grow as trials finish.
        self._live: dict[str, Trial] = {}
        self.checkpoints = CheckpointStore(experiment.keep_checkpoints_num,
                                           experiment.checkpoint_score_attr)
        self.recorder = Recorder()
        self.display = StatusDisplay(settings.verbose)
        self.mlflow: Optional[ExperimentLog] = None
        self._files: dict[str, TrialFiles] = {}
        self._actors: dict[str, Any] = {}
        self._parked: set[str] = set()
        self._checkpointable: dict[str, bool] = {}
        self._replay_until: dict[str, int] = {}
        self._rounds: dict[str, int] = {}
        self._driving: dict[str, asyncio.Task] = {}
        self._searcher_done = False
        self._fatal: Optional[BaseException] = None
        self._pool: Optional[ActorPool] = None
        self._trainable_ref: Any = None
        self._round_task: Optional[RoundTask] = None
        self._state_writer: Optional[StateWriter] = None
        self._stop_requests: set[str] = set()
        self._wakeup: Optional[asyncio.Event] = None
        self._loop_ref: Optional[asyncio.AbstractEventLoop] = None
        total = settings.total_resources
        per_trial = experiment.resources
        slots = int(total.get("cpu", 0) // per_trial["cpu"]) if per_trial["cpu"] else 10**6
        if per_trial["gpu"]:
            slots = min(slots, int(total.get("gpu", 0) // per_trial["gpu"]))
        if settings.max_concurrent:
            slots = min(slots, settings.max_concurrent)
        self.slots = max(slots, 1)

    # ------------------------------------------------------------------ lifecycle
    async def run(self, round_task: RoundTask) -> list[Trial]:
        """Runs the experiment to the end and returns its trials."""
        from tuneflows.execution.shipping import ship_by_value_if_local

        if self._round_task is not None:  # a retry of the flow run: resume from disk
            self.__init__(self.experiment, self.scheduler, self.searcher, self.settings,  # type: ignore[misc]
                          resume_state=load_state(self.experiment.dir))
        self._round_task = round_task
        os.makedirs(self.experiment.dir, exist_ok=True)
        ship_by_value_if_local(self.experiment.trainable)
        finished = {} if self._resume_state is None else {
            t["trial_id"]: t["status"] for t in self._resume_state.trials
            if t["status"] in (TERMINATED, ERROR)}
        self._state_writer = StateWriter(self.experiment, self.experiment_id, self.scheduler,
                                         self.searcher, appended=finished)
        self.mlflow = MlflowWriters.shared().open_experiment(
            self.experiment.name, self.experiment.local_dir, self.experiment_id,
            f"{self.experiment.name}-{self.experiment_id}",
            {"tuneflows.scheduler": type(self.scheduler).__name__,
             "tuneflows.searcher": type(self.searcher).__name__,
             "tuneflows.logdir": self.experiment.dir},
        )
        await self._run_trials()
        if self._fatal is not None:
            raise self._fatal
        return list(self.trials.values())

    async def _run_trials(self) -> None:
        from tuneflows.execution.function_runner import to_trainable_class

        if self._resume_state is not None:
            self._restore(self._resume_state)
        self._persist(force=True)
        self._pool = ActorPool(self.experiment.resources)
        self._trainable_ref = ray.put(to_trainable_class(self.experiment.trainable))
        status = "FAILED"
        try:
            await self._loop()
            status = "FINISHED"
        finally:
            for task in self._driving.values():
                task.cancel()
            if self._driving:
                await asyncio.gather(*self._driving.values(), return_exceptions=True)
            self._finish_unended()
            self._persist(force=True)
            self._pool.shutdown()
            self.recorder.close()
            self.mlflow.end_experiment(status, self._summary())
            self.display.close(self.status_text())

    def _persist(self, force: bool = False) -> None:
        """Saves the experiment state (throttled unless ``force``)."""
        self._state_writer.write(self.trials, self.checkpoints, self.scheduler, self.searcher,
                                 self._searcher_done, self._rounds, force=force)

    def _restore(self, state: ExperimentState) -> None:
        """Rebuilds trials, checkpoints, scheduler and searcher from saved state.

        Finished trials stay finished; running ones restart from their latest
        checkpoint; results already on disk are not recorded again.
        """
        self.scheduler.set_state(state.scheduler_state)
        self.searcher.set_state(state.searcher_state)
        self._searcher_done = state.searcher_done or self._errored_only
        self._rounds = dict(state.rounds)
        for fields in state.trials:
            trial = Trial(**fields)
            self.trials[trial.trial_id] = trial
            if trial.trial_id in state.checkpoints:
                path, iteration = state.checkpoints[trial.trial_id]
                self.checkpoints.adopt(trial.trial_id, path, iteration)
            will_run = not trial.is_finished() or (trial.status == ERROR and self._errored_only)
            if will_run:
                self._start_run(trial)  # a no-op when the trial's run exists
            self._adopt_files(trial)
            if trial.status == RUNNING or (trial.status == PAUSED and not self._has_ckpt(trial)):
                trial.status = PENDING  # restarts from its latest checkpoint, if any
            if trial.status == ERROR and self._errored_only:
                trial.status, trial.num_failures, trial.error_msg = PENDING, 0, None
                trial.status_reason = "re-run (resume=ERRORED_ONLY)"
            if will_run:
                self._live[trial.trial_id] = trial
                self.recorder.submit(self.mlflow.reopen_trial, trial.trial_id)

    def _adopt_files(self, trial: Trial) -> None:
        """Takes over a trial directory written before a kill: repairs its files, and
        skips results already recorded when the trial replays them."""
        files = TrialFiles(trial.logdir)
        self._files[trial.trial_id] = files
        rows = files.repair()
        if rows:
            self._replay_until[trial.trial_id] = rows[-1][R.TRAINING_ITERATION]
            trial.last_result = rows[-1]
            self.recorder.submit(self.mlflow.backfill, trial.trial_id, rows)

    async def _loop(self) -> None:
        self._loop_ref = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        while self._fatal is None:
            self._fill_slots()
            if not self._driving:
                waiting = [t for t in self._live.values() if t.status in (PENDING, PAUSED)]
                if waiting:
                    for trial in waiting:
                        self._end_trial(trial, TERMINATED, "the scheduler never resumed it")
                break
            woken = asyncio.ensure_future(self._wakeup.wait())
            done, _ = await asyncio.wait(
                [woken, *self._driving.values()], return_when=asyncio.FIRST_COMPLETED
            )
            self._wakeup.clear()
            woken.cancel()
            for task in done:
                if task is woken:
                    continue
                trial_id = next(k for k, v in self._driving.items() if v is task)
                del self._driving[trial_id]
                if task.exception() is not None and self._fatal is None:
                    self._fatal = task.exception()
            self._show_status()

    def _finish_unended(self) -> None:
        for trial in self.trials.values():
            actor = self._actors.pop(trial.trial_id, None)
            if actor is not None:
                self._pool.discard(actor)
            if trial.status in (RUNNING, PAUSED, PENDING):
                self.recorder.submit(self.mlflow.end_trial, trial.trial_id, trial.status)

    # ------------------------------------------------------------------ slots
    def _busy_slots(self) -> int:
        running = sum(1 for t in self._live.values() if t.status == RUNNING)
        return running + len(self._parked)

    def _fill_slots(self) -> None:
        """Starts trials while slots are free: a new suggestion is added (as PENDING)
        before the scheduler chooses, so bracket-based schedulers see full brackets."""
        while True:
            free = self._busy_slots() < self.slots
            pending = any(t.status == PENDING for t in self._live.values())
            if free and not pending and not self._searcher_done:
                self._add_suggested_trial()
            candidates = [t for t in self._live.values() if free or t.trial_id in self._parked]
            trial_id = self.scheduler.choose_trial_to_run(
                [self._snapshot(t) for t in candidates]
            )
            self._stop_paused_losers()
            if trial_id is None:
                return
            trial = self.trials.get(trial_id)
            if trial is None or trial.status not in (PENDING, PAUSED):
                raise TuneError(
                    f"{type(self.scheduler).__name__}.choose_trial_to_run returned "
                    f"{trial_id!r}, which is not a PENDING or PAUSED trial."
                )
            trial.status = RUNNING
            self._driving[trial_id] = asyncio.ensure_future(self._drive(trial))

    def _stop_paused_losers(self) -> None:
        """Ends the PAUSED trials the scheduler has given up on (HyperBand's losers)."""
        if not any(t.status == PAUSED for t in self._live.values()):
            return  # only PAUSED trials can be ended here
        snapshots = [self._snapshot(t) for t in self._live.values()]
        for trial_id, decision in self.scheduler.paused_trials_to_stop(snapshots).items():
            trial = self.trials[trial_id]
            if trial.status != PAUSED:
                continue
            if trial_id in self._parked:
                self._parked.discard(trial_id)
                self._drop_actor(trial)
            self._mark_early_stopped(trial)
            self._end_trial(trial, TERMINATED, decision.reason)
            self.scheduler.on_trial_remove(self._snapshot(trial))

    def _snapshot(self, trial: Trial) -> Any:
        """A frozen view of ``trial`` for the scheduler."""
        return trial.snapshot(self._has_ckpt(trial))

    def _mark_early_stopped(self, trial: Trial) -> None:
        if trial.last_result is not None:
            trial.last_result[EARLY_STOPPED] = True

    def _has_ckpt(self, trial: Trial) -> bool:
        return self.checkpoints.latest(trial.trial_id) is not None

    def _add_suggested_trial(self) -> Optional[Trial]:
        index = len(self.trials)
        trial_id = f"{self.experiment_id[:5]}_{index:05d}"
        suggestion = self.searcher.suggest(trial_id)
        if suggestion == FINISHED:
            self._searcher_done = True
            return None
        if suggestion is None:
            return None
        return self._new_trial(trial_id, index, dict(suggestion),
                               self.searcher.experiment_tag(trial_id))

    def _new_trial(self, trial_id: str, index: int, config: dict[str, Any], tag: str) -> Trial:
        experiment_tag = f"{index}_{tag}" if tag else str(index)
        trial = Trial(
            trial_id=trial_id,
            experiment_tag=experiment_tag,
            config=config,
            trainable_name=self.experiment.trainable_name,
            logdir="",
            resources=dict(self.experiment.resources),
            stopping_criterion=dict(self.experiment.stop or {}),
            checkpoint_freq=self.experiment.checkpoint_freq,
            checkpoint_at_end=self.experiment.checkpoint_at_end,
            max_failures=self.experiment.max_failures,
        )
        trial.logdir = os.path.join(self.experiment.dir, _dir_name(trial.name, trial_id))
        self.trials[trial_id] = trial
        self._live[trial_id] = trial
        self._start_run(trial)
        if self._resume_state is not None and os.path.isdir(trial.logdir):
            # suggested again after a kill that the throttled state write missed
            self._adopt_files(trial)
        else:
            self._files[trial_id] = TrialFiles(trial.logdir)
        self._files[trial_id].write_params(trial.config)
        if self.experiment.restore:
            self.checkpoints.adopt(trial_id, self.experiment.restore, 0)
        self.scheduler.on_trial_add(self._snapshot(trial))
        return trial

    def _start_run(self, trial: Trial) -> None:
        """Creates the trial's MLflow run, unless it has one (from before a resume)."""
        self.recorder.submit(
            self.mlflow.start_trial, trial.trial_id, trial.name, trial.config,
            {"experiment_tag": trial.experiment_tag, "logdir": trial.logdir},
        )

    # ------------------------------------------------------------------ one trial
    async def _drive(self, trial: Trial) -> None:
        """Starts (or resumes) a trial on an actor and plays rounds until it ends,
        pauses or fails for good."""
        if trial.trial_id in self._parked:
            self._parked.discard(trial.trial_id)
        else:
            error = await self._start_on_actor(trial)
            if error is not None:
                if await self._on_failure(trial, error, actor_dead=False) != RETRY:
                    return
        while True:
            self._rounds[trial.trial_id] = self._rounds.get(trial.trial_id, 0) + 1
            outcome = await self._round_task(
                trial_name=trial.name, round_index=self._rounds[trial.trial_id],
                runner=self, trial_id=trial.trial_id,
            )
            if outcome in ENDED:
                return

    async def _start_on_actor(self, trial: Trial, checkpoint: Optional[bytes] = None) -> Optional[str]:
        actor = self._actors.get(trial.trial_id)
        if actor is None:
            actor = self._pool.acquire()
            self._actors[trial.trial_id] = actor
        if checkpoint is None and self._has_ckpt(trial):
            try:
                checkpoint = await asyncio.to_thread(self.checkpoints.load, trial.trial_id)
            except ValueError as exc:
                return f"Cannot restore {trial.name}: {exc}"
        info = TrialInfo(self.experiment_id, trial.trial_id, trial.name)
        try:
            error = await actor.start_trial.remote(self._trainable_ref, trial.config, info, checkpoint)
            trial.pid = (await actor.node_info.remote())["pid"]
        except ray.exceptions.RayActorError as exc:
            self._drop_actor(trial)
            return f"The actor of {trial.name} died while starting: {exc}"
        return error

    async def play_round(self, trial_id: str) -> str:
        """Runs one round of ``trial_id`` on its actor, records it, applies the
        scheduler's decision and saves the experiment state. Called by the round task;
        returns how the round ended."""
        ended = await self._play_round(trial_id)
        self._persist()
        return ended

    async def _play_round(self, trial_id: str) -> str:
        trial = self.trials[trial_id]
        actor = self._actors[trial_id]
        request = self._round_request(trial)
        try:
            outcome: RoundOutcome = await actor.run_round.remote(request)
        except ray.exceptions.RayActorError as exc:
            return await self._on_failure(trial, f"Trial actor died: {exc}", actor_dead=True)
        except asyncio.CancelledError:
            raise
        decision = self._take_results(trial, outcome)
        if outcome.checkpoint is not None:
            await self._save_checkpoint(trial, outcome.checkpoint, outcome.checkpoint_iteration)
        if outcome.error is not None:
            return await self._on_failure(trial, outcome.error, actor_dead=False)
        if outcome.finished:
            reason = f"{outcome.stop_key} reached" if outcome.stop_key else ""
            await self._release(trial)
            self._end_trial(trial, TERMINATED, reason)
            self.scheduler.on_trial_complete(self._snapshot(trial), trial.last_result)
            return TERMINATED
        return await self._apply(trial, decision)

    def _round_request(self, trial: Trial) -> RoundRequest:
        until: dict[str, float] = {}
        point = self.scheduler.next_decision_point(self._snapshot(trial))
        if point is not None:
            until[self.scheduler.time_attr] = point
        return RoundRequest(
            until=until,
            stop=trial.stopping_criterion,
            max_seconds=self.settings.round_seconds,
            checkpoint_freq=trial.checkpoint_freq,
            checkpoint_at_end=trial.checkpoint_at_end,
        )

    def _take_results(self, trial: Trial, outcome: RoundOutcome) -> Decision:
        """Records new results and feeds them to the searcher and scheduler."""
        replay = self._replay_until.get(trial.trial_id, 0)
        results = [r for r in outcome.results if r[R.TRAINING_ITERATION] > replay]
        decision = Decision(TrialScheduler.CONTINUE)
        if not results:
            return decision
        trial.last_result = results[-1]
        self._files[trial.trial_id].append_results(results)
        self.recorder.submit(self.mlflow.log_results, trial.trial_id, results)
        snapshot = self._snapshot(trial)
        for result in results:
            self.searcher.on_trial_result(trial.trial_id, result)
            decision = self.scheduler.on_trial_result(snapshot.with_result(result), result)
        self._show_status()
        return decision

    async def _apply(self, trial: Trial, decision: Decision) -> str:
        if trial.trial_id in self._stop_requests:
            decision = Decision(TrialScheduler.STOP, "stopped by client")
        if decision.action not in (TrialScheduler.CONTINUE, TrialScheduler.PAUSE, TrialScheduler.STOP):
            raise TuneError(f"{type(self.scheduler).__name__} returned an invalid action "
                            f"{decision.action!r} for {trial.name}.")
        if decision.clone_from is not None:
            await self._clone(trial, decision)
        if decision.action == TrialScheduler.STOP:
            await self._release(trial)
            self._mark_early_stopped(trial)
            self._end_trial(trial, TERMINATED, decision.reason)
            self.scheduler.on_trial_remove(self._snapshot(trial))
            return STOP
        if decision.action == TrialScheduler.PAUSE:
            await self._pause(trial, decision.reason)
            self._stop_paused_losers()
            return PAUSE
        if decision.save_checkpoint and await self._can_checkpoint(trial):
            blob = await self._actors[trial.trial_id].save.remote()
            await self._save_checkpoint(trial, blob, trial.iteration)
        return CONTINUE

    async def _can_checkpoint(self, trial: Trial) -> bool:
        if trial.trial_id not in self._checkpointable:
            actor = self._actors[trial.trial_id]
            self._checkpointable[trial.trial_id] = await actor.can_checkpoint.remote()
        return self._checkpointable[trial.trial_id]

    async def _clone(self, trial: Trial, decision: Decision) -> None:
        donor = self.trials[decision.clone_from]
        blob = await asyncio.to_thread(self.checkpoints.load, donor.trial_id)
        if blob is None:
            raise TuneError(f"Scheduler asked {trial.name} to clone {donor.name}, "
                            f"which has no checkpoint.")
        old_config = dict(trial.config)
        trial.config = dict(decision.new_config or trial.config)
        self._replay_until.pop(trial.trial_id, None)
        event = {"event": "perturb", "trial_id": trial.trial_id, "clone_from": donor.trial_id,
                 "old_config": old_config, "new_config": trial.config, "reason": decision.reason,
                 "iteration": trial.iteration}
        trial.status_reason = decision.reason or f"cloned from {donor.name}"
        self.recorder.submit(self._files[trial.trial_id].append_event, event)
        self._files[trial.trial_id].write_params(trial.config)
        self.recorder.submit(self.mlflow.log_params, trial.trial_id, trial.config)
        self.recorder.submit(self.mlflow.set_tags, trial.trial_id,
                             {f"perturbation/{trial.iteration}": f"from {donor.trial_id}: {decision.reason}"})
        error = await self._start_on_actor(trial, checkpoint=blob)
        if error is not None:
            raise TuneError(f"Cloning {donor.name} into {trial.name} failed:\n{error}")

    async def _pause(self, trial: Trial, reason: str) -> None:
        actor = self._actors[trial.trial_id]
        trial.status_reason = reason
        self._event(trial, "pause", reason)
        # The trial stays RUNNING (holding its slot) until its actor is back in the pool:
        # marked PAUSED earlier, a concurrent _fill_slots sees a free slot, the pool has no
        # idle actor yet, and a new actor waits forever for CPUs held by idle actors.
        if await self._can_checkpoint(trial):
            blob = await actor.save.remote()
            await self._save_checkpoint(trial, blob, trial.iteration)
            await self._release(trial)
        else:
            self._parked.add(trial.trial_id)
        trial.status = PAUSED

    async def _save_checkpoint(self, trial: Trial, blob: bytes, iteration: int) -> None:
        record = await asyncio.to_thread(
            self.checkpoints.save, trial.trial_id, trial.logdir, blob, iteration, trial.last_result
        )
        self.recorder.submit(self.mlflow.log_artifacts, trial.trial_id, record.path,
                             f"checkpoints/{os.path.basename(record.path)}")

    async def _release(self, trial: Trial) -> None:
        actor = self._actors.pop(trial.trial_id, None)
        self._parked.discard(trial.trial_id)
        if actor is None:
            return
        try:
            clean = await actor.stop_trial.remote()
        except ray.exceptions.RayActorError:
            clean = False
        if clean:
            self._pool.release(actor)
        else:
            self._pool.discard(actor)

    def _drop_actor(self, trial: Trial) -> None:
        actor = self._actors.pop(trial.trial_id, None)
        if actor is not None:
            self._pool.discard(actor)

    async def _on_failure(self, trial: Trial, error: str, actor_dead: bool) -> str:
        trial.num_failures += 1
        header = f"Failure {trial.num_failures} of {trial.name} at iteration {trial.iteration}:\n"
        files = self._files[trial.trial_id]
        trial.error_file = os.path.join(trial.logdir, "error.txt")
        self.recorder.submit(files.write_error, header + error)
        if actor_dead:
            self._drop_actor(trial)
        if trial.num_failures <= trial.max_failures:
            self._replay_until[trial.trial_id] = max(
                self._replay_until.get(trial.trial_id, 0), trial.iteration
            )
            self._event(trial, "restart", f"failure {trial.num_failures}/{trial.max_failures}")
            restart_error = await self._start_on_actor(trial)
            if restart_error is None:
                return RETRY
            return await self._on_failure(trial, restart_error, actor_dead=False)
        trial.error_msg = _last_line(error)
        await self._release(trial)
        self._end_trial(trial, ERROR, trial.error_msg)
        self.scheduler.on_trial_error(self._snapshot(trial))
        return ERROR

    def _end_trial(self, trial: Trial, status: str, reason: str) -> None:
        trial.status = status
        self._live.pop(trial.trial_id, None)
        if reason:
            trial.status_reason = reason
        if trial.last_result is not None and status == TERMINATED:
            trial.last_result[R.DONE] = True
        self.searcher.on_trial_complete(trial.trial_id, trial.last_result, error=status == ERROR)
        self._event(trial, status.lower(), reason)
        tags = {"num_failures": trial.num_failures} if trial.num_failures else {}
        self.recorder.submit(self.mlflow.end_trial, trial.trial_id, status, tags)
        self._show_status(force=True)

    def _event(self, trial: Trial, kind: str, reason: str) -> None:
        event = {"event": kind, "trial_id": trial.trial_id, "iteration": trial.iteration,
                 "reason": reason, "time": time.time()}
        self.recorder.submit(self._files[trial.trial_id].append_event, event)

    # ------------------------------------------------------------------ client API
    def call_soon(self, fn: Callable[..., Any], *args: Any, timeout: float = 30.0) -> Any:
        """Runs ``fn(*args)`` on the experiment's event loop from another thread (the
        TuneServer's) and returns its result."""
        if self._loop_ref is None:
            raise TuneError("The experiment is not running.")

        async def call() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(call(), self._loop_ref).result(timeout)

    def request_stop(self, trial_id: str) -> None:
        """Stops a trial: at the end of its current round if running, else at once.

        Raises:
            KeyError: No such trial.
        """
        trial = self.trials[trial_id]
        if trial.is_finished():
            return
        if trial.status == RUNNING:
            self._stop_requests.add(trial_id)
            return
        if trial_id in self._parked:
            self._parked.discard(trial_id)
            self._drop_actor(trial)
        self._end_trial(trial, TERMINATED, "stopped by client")
        self.scheduler.on_trial_remove(self._snapshot(trial))

    def add_trial(self, config: dict[str, Any], tag: str = "") -> Trial:
        """Adds a PENDING trial with a resolved ``config`` (from the Client API)."""
        index = len(self.trials)
        trial = self._new_trial(f"{self.experiment_id[:5]}_{index:05d}", index, dict(config),
                                tag or "client")
        if self._wakeup is not None:
            self._wakeup.set()
        return trial

    # ------------------------------------------------------------------ display
    def status_text(self) -> str:
        """The current ``== Status ==`` block."""
        used_cpu = len(self._actors) * self.experiment.resources["cpu"]
        used_gpu = len(self._actors) * self.experiment.resources["gpu"]
        return status_text(
            list(self.trials.values()),
            self.scheduler.debug_string(),
            {"cpu": used_cpu, "gpu": used_gpu},
            self.settings.total_resources,
            self.experiment.dir,
            getattr(self.scheduler, "metric", None),
        )

    def _show_status(self, force: bool = False) -> None:
        if not self.settings.verbose:
            return  # status_text walks every trial: not on each result when nothing shows
        self.display.update(self.status_text(), force=force)

    def _summary(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for trial in self.trials.values():
            counts[trial.status] = counts.get(trial.status, 0) + 1
        return {f"trials.{k}": v for k, v in counts.items()}


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "unknown error"


def _dir_name(name: str, trial_id: str) -> str:
    safe = re.sub(r"[^\w.=,+-]", "_", name)
    if len(safe) > 120:
        safe = f"{safe[:100]}_{trial_id}"
    return safe


def format_failures(trials: list[Trial]) -> str:
    """A TuneError message naming each failed trial, its exception and error file."""
    failed = [t for t in trials if t.status == ERROR]
    lines = [f"{len(failed)} trial(s) did not complete:"]
    for trial in failed:
        lines.append(f" - {trial.name}: {trial.error_msg} (see {trial.error_file})")
    return "\n".join(lines)

