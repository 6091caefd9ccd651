"""Carries out the trial controller's actions: starts, restarts, pauses, clones and
ends trials on their Ray actors, stores checkpoints and tells the experiment recorder.

The controller decides (pure); this module does: it is the one place an
:class:`~tuneflows.control.actions.Action` meets Ray, the checkpoint store and the
recorder. The experiment loop owns the trials' asyncio tasks and hands this executor a
callback that starts one.
"""

from __future__ import annotations

import asyncio
import os
from typing import Callable, Optional, Sequence

from tuneflows.runs.checkpoint_store import CheckpointStore
from tuneflows.control.actions import (
    Action, AddTrial, CloneTrial, ContinueTrial, EndTrial, PauseTrial,
    RestartTrial, StartTrial, StoreCheckpoint,
)
from tuneflows.control.controller import TrialController
from tuneflows.error import TuneError
from tuneflows.model.codes import ActorFate, EventKind, RoundEnd
from tuneflows.execution.trial_actors import TrialActors
from tuneflows.runs.state import ExperimentState
from tuneflows.recording.experiment_recorder import ExperimentRecorder
from tuneflows.orchestration.resume import adopt_recorded_results
from tuneflows.spec import Experiment
from tuneflows.services.startup_timeline import mark
from tuneflows.trainable import TrialIdentity
from tuneflows.trial import Trial

# How a round ends, as the round task returns it.

#: Starts driving a trial (its rounds) as an asyncio task: ``(trial, parked)``.
StartDriving = Callable[[Trial, bool], None]


class ActionExecutor:
    """Carries out :class:`~tuneflows.control.actions.Action` lists in order.

    Args:
        experiment: The experiment whose trials these are.
        experiment_id: The experiment's id (part of each trial's identity on its actor).
        controller: The trial controller that made the actions (told of checkpoints,
            released slots, pauses and failures).
        actors: The trials' Ray actors.
        checkpoints: Where checkpoints are kept.
        recorder: Where every event is recorded.
        start_driving: Starts a trial's rounds (the experiment loop's).
        resume_state: The state being resumed, if any (a trial suggested again after a
            kill adopts the results its directory already holds).
    """

    def __init__(self, experiment: Experiment, experiment_id: str, controller: TrialController,
                 actors: TrialActors, checkpoints: CheckpointStore,
                 recorder: ExperimentRecorder, start_driving: StartDriving,
                 resume_state: Optional[ExperimentState] = None) -> None:
        self.experiment = experiment
        self.experiment_id = experiment_id
        self.controller = controller
        self.actors = actors
        self.checkpoints = checkpoints
        self.recorder = recorder
        self.start_driving = start_driving
        self.resume_state = resume_state
        self.origin_dir = os.getcwd()  # the driver's: TUNE_ORIG_WORKING_DIR in each trial

    def _identity(self, trial: Trial) -> TrialIdentity:
        """Who the trial's trainable runs for, and where: its logdir is the working
        directory of its actor while it runs."""
        return TrialIdentity(self.experiment_id, trial.trial_id, trial.name, trial.logdir,
                             self.origin_dir)

    async def carry_out_all(self, actions: Sequence[Action]) -> RoundEnd:
        """Carries out ``actions`` in order; returns how the last one leaves its trial
        (a :class:`~tuneflows.model.codes.RoundEnd`)."""
        ended = RoundEnd.CONTINUE
        for action in actions:
            ended = await self._carry_out(action)
        return ended

    async def _carry_out(self, action: Action) -> RoundEnd:
        if isinstance(action, AddTrial):
            self.add(action.trial)
        elif isinstance(action, StartTrial):
            self.start_driving(action.trial, action.parked)
        elif isinstance(action, StoreCheckpoint):
            await self._store_checkpoint(action.trial, action.blob, action.iteration)
        elif isinstance(action, ContinueTrial):
            return RoundEnd.CONTINUE
        elif isinstance(action, PauseTrial):
            return await self._pause(action)
        elif isinstance(action, CloneTrial):
            await self._clone(action)
        elif isinstance(action, RestartTrial):
            self.controller.on_error_file(action.trial.trial_id,
                                          self.recorder.on_error(action.trial, action.error))
            if action.drop_actor:
                self.actors.discard(action.trial.trial_id)
            self.recorder.on_event(action.trial, EventKind.RESTART, action.reason)
            return await self.start(action.trial)
        elif isinstance(action, EndTrial):
            if action.actor == ActorFate.RELEASE:
                await self.actors.release(action.trial.trial_id)
                self.controller.release_slot(action.trial.trial_id)
            self.end(action)
            return RoundEnd.STOP if action.early_stopped else RoundEnd(action.trial.status)
        return RoundEnd.CONTINUE

    async def start(self, trial: Trial, checkpoint: Optional[bytes] = None) -> RoundEnd:
        """Starts ``trial`` on an actor (from its latest checkpoint, if any); a failure
        is handled as the controller says. Returns RETRY when the trial is ready for a
        round, else how the failure left it."""
        if checkpoint is None and self.checkpoints.latest(trial.trial_id) is not None:
            try:
                checkpoint = await asyncio.to_thread(self.checkpoints.load, trial.trial_id)
            except ValueError as exc:
                return await self.carry_out_all(self.controller.on_failure(
                    trial.trial_id, f"Cannot restore {trial.name}: {exc}", actor_dead=False))
        identity = self._identity(trial)
        error, pid = await self.actors.start(trial.trial_id, trial.config, identity, checkpoint)
        if error is not None:
            return await self.carry_out_all(
                self.controller.on_failure(trial.trial_id, error, actor_dead=False))
        self.controller.on_started(trial.trial_id, pid)
        self.recorder.on_trial_start(trial)
        mark("first trial started")
        return RoundEnd.RETRY

    def add(self, trial: Trial) -> None:
        """Records a new trial (adopting what a resumed run's directory holds of it)."""
        if self.resume_state is not None and os.path.isdir(trial.logdir):
            # suggested again after a kill that the throttled state write missed
            adopt_recorded_results(trial, self.controller, self.recorder)
        self.recorder.on_trial_add(trial)
        if self.experiment.restore:
            self.checkpoints.adopt(trial.trial_id, self.experiment.restore, 0)

    def end(self, action: EndTrial) -> None:
        """Ends a trial: its actor discarded if the action says so, its end recorded."""
        if action.actor == ActorFate.DISCARD:
            self.actors.discard(action.trial.trial_id)
            self.controller.release_slot(action.trial.trial_id)
        if action.error is not None:
            self.controller.on_error_file(action.trial.trial_id,
                                          self.recorder.on_error(action.trial, action.error))
        self.recorder.on_trial_end(action.trial, action.reason, action.tags)

    async def _store_checkpoint(self, trial: Trial, blob: Optional[bytes], iteration: int) -> None:
        if blob is None:
            if not await self.actors.can_checkpoint(trial.trial_id):
                return
            blob, iteration = await self.actors.save(trial.trial_id), trial.iteration
        record = await asyncio.to_thread(self.checkpoints.save, trial.trial_id, trial.logdir,
                                         blob, iteration, trial.last_result)
        self.controller.on_checkpoint(trial.trial_id)
        self.recorder.on_checkpoint(trial, record.path)

    async def _pause(self, action: PauseTrial) -> RoundEnd:
        trial = action.trial
        self.recorder.on_event(trial, EventKind.PAUSE, action.reason)
        # The trial holds its slot until its actor is back in the pool: freed earlier, a
        # concurrent fill_slots would start a new actor that waits for CPUs idle actors hold.
        parked = not await self.actors.can_checkpoint(trial.trial_id)
        if not parked:
            await self._store_checkpoint(trial, None, trial.iteration)
            await self.actors.release(trial.trial_id)
            self.controller.release_slot(trial.trial_id)
        await self.carry_out_all(self.controller.on_paused(trial.trial_id, parked))
        return RoundEnd.PAUSE

    async def _clone(self, action: CloneTrial) -> None:
        trial, donor = action.trial, self.controller.trials[action.donor_id]
        blob = await asyncio.to_thread(self.checkpoints.load, donor.trial_id)
        if blob is None:
            raise TuneError(f"Scheduler asked {trial.name} to clone {donor.name}, "
                            f"which has no checkpoint.")
        self.recorder.on_perturb(trial, donor, action.old_config, action.reason)
        identity = self._identity(trial)
        error, _ = await self.actors.start(trial.trial_id, trial.config, identity, blob)
        if error is not None:
            raise TuneError(f"Cloning {donor.name} into {trial.name} failed:\n{error}")
