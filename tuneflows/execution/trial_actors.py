"""The execution handle: async methods that run trials on pooled Ray actors, hiding
``.remote``, awaiting object refs and ``RayActorError`` from the experiment loop."""

from __future__ import annotations

import asyncio
from typing import Any, Mapping, Optional

import ray

from tuneflows.execution.result_deadline import hung_message, next_wait
from tuneflows.execution.shared_strings import with_shared_strings
from tuneflows.execution.actor_pool import ActorPool
from tuneflows.execution.function_runner import FunctionTrainable, to_trainable_class
from tuneflows.model.rounds import RoundOutcome, RoundRequest
from tuneflows.trainable import TrialIdentity


#: Longest wait for a busy actor to say when its trainable last gave a result.
PROGRESS_QUESTION_TIMEOUT_S = 10.0
#: How often a trial waiting for a new actor checks whether an idle one could take it.
PENDING_ACTOR_CHECK_S = 5.0


class TrialActorDied(Exception):
    """The actor running a trial died (its process crashed or was killed)."""


class TrialHung(TrialActorDied):
    """The trial gave no result for ``max_seconds_without_result``: its actor was killed."""


class TrialActors:
    """Runs an experiment's trials, each on an actor of one pool.

    Args:
        resources: ``{"cpu": c, "gpu": g}`` of each trial.
        trainable: The experiment's trainable (function or class), put in Ray's object
            store once and shared by every actor.
        max_seconds_without_result: Kill a trial's actor when its trainable gives no
            result for this long during a round (None: wait as long as it takes).
    """

    def __init__(self, resources: Mapping[str, float], trainable: Any,
                 max_seconds_without_result: Optional[float] = None) -> None:
        self._pool = ActorPool(dict(resources))
        self._result_limit = max_seconds_without_result
        trainable_class = to_trainable_class(trainable)
        self._trainable_ref = ray.put(trainable_class)
        self._actors: dict[str, Any] = {}
        # One trainable class for all trials: a class's answer holds for every trial; a
        # function's depends on the checkpoints it reported, so it is asked each time.
        self._asks_each_time = issubclass(trainable_class, FunctionTrainable)
        self._checkpointable: Optional[bool] = None

    @property
    def count(self) -> int:
        """How many trials hold an actor."""
        return len(self._actors)

    async def start(self, trial_id: str, config: Mapping[str, Any], identity: TrialIdentity,
                    checkpoint: Optional[bytes] = None) -> tuple[Optional[str], Optional[int]]:
        """Starts (or restarts) the trial on its actor, or on a pooled one. A new actor
        that is not running after :data:`PENDING_ACTOR_CHECK_S` while an idle one is in
        the pool (a node died and the idle actor holds the CPUs left) is killed, and
        the trial starts on the idle one.

        Returns:
            ``(error, pid)``: the trainable's traceback when it failed to start (else
            None) and the actor's process id.
        """
        actor = self._actors.get(trial_id)
        new_actor = actor is None and not self._pool.has_idle
        if actor is None:
            actor = self._actors[trial_id] = self._pool.acquire()
        args = (self._trainable_ref, dict(config), identity, checkpoint)
        try:
            started = asyncio.ensure_future(actor.start_trial.remote(*args))
            while new_actor and not started.done():
                await asyncio.wait([started], timeout=PENDING_ACTOR_CHECK_S)
                if started.done() or not self._pool.has_idle:
                    continue
                # The new actor waits for resources that an idle one holds (a node died
                # and the cluster is full): the trial takes the idle one instead.
                _abandon(started)
                self._pool.discard(actor)
                actor = self._actors[trial_id] = self._pool.acquire()
                started = asyncio.ensure_future(actor.start_trial.remote(*args))
                new_actor = False
            error = await started
            pid = (await actor.node_info.remote())["pid"]
        except ray.exceptions.RayActorError as exc:
            self.discard(trial_id)
            return f"The actor of {identity.trial_name} died while starting: {exc}", None
        return error, pid

    async def run_round(self, trial_id: str, request: RoundRequest) -> RoundOutcome:
        """Plays one round on the trial's actor.

        Raises:
            TrialActorDied: The actor died during the round.
            TrialHung: No result for ``max_seconds_without_result``; the actor is killed.
        """
        actor = self._actors[trial_id]
        try:
            if self._result_limit is None:
                outcome = await actor.run_round.remote(request)
            else:
                outcome = await self._await_round(trial_id, actor, request, self._result_limit)
        except ray.exceptions.RayActorError as exc:
            raise TrialActorDied(f"Trial actor died: {exc}") from exc
        outcome.results = [with_shared_strings(r) for r in outcome.results]
        return outcome

    async def _await_round(self, trial_id: str, actor: Any, request: RoundRequest,
                           limit: float) -> RoundOutcome:
        """The round's outcome, asking the actor how long its trainable has been silent
        each time the wait runs out; kills the actor when it is hung."""
        outcome = asyncio.ensure_future(actor.run_round.remote(request))
        wait: Optional[float] = limit
        while wait is not None:
            done, _ = await asyncio.wait({outcome}, timeout=wait)
            if done:
                return outcome.result()
            wait = next_wait(limit, await self._seconds_since_result(actor))
        _abandon(outcome)
        self.discard(trial_id)
        raise TrialHung(hung_message(limit))

    @staticmethod
    async def _seconds_since_result(actor: Any) -> Optional[float]:
        """What the actor says, or None when it does not answer in time or died."""
        try:
            return await asyncio.wait_for(actor.seconds_since_result.remote(),
                                          PROGRESS_QUESTION_TIMEOUT_S)
        except (asyncio.TimeoutError, ray.exceptions.RayActorError):
            return None

    def request_stop(self, trial_id: str) -> None:
        """Asks the trial's actor, without waiting, to end the trial at its next result
        (nothing when the trial holds no actor)."""
        actor = self._actors.get(trial_id)
        if actor is not None:
            actor.request_stop.remote(trial_id)

    async def can_checkpoint(self, trial_id: str) -> bool:
        """Whether the trial can be checkpointed now: a class implementing
        ``_save``/``_restore`` (asked once: every trial runs the same class), a function
        whose newest reported checkpoint is of its latest result (asked each time)."""
        if self._asks_each_time:
            return await self._actors[trial_id].can_checkpoint.remote()
        if self._checkpointable is None:
            self._checkpointable = await self._actors[trial_id].can_checkpoint.remote()
        return self._checkpointable

    async def save(self, trial_id: str) -> bytes:
        """A checkpoint of the trial's trainable, as bytes."""
        return await self._actors[trial_id].save.remote()

    async def release(self, trial_id: str) -> None:
        """Stops the trial on its actor and returns the actor to the pool (or kills it
        when the trial would not stop cleanly)."""
        actor = self._actors.pop(trial_id, None)
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

    def discard(self, trial_id: str) -> None:
        """Kills the trial's actor (it died, or holds a trial that must not go on)."""
        actor = self._actors.pop(trial_id, None)
        if actor is not None:
            self._pool.discard(actor)

    def shutdown(self) -> None:
        """Kills every actor."""
        self._actors.clear()
        self._pool.shutdown()


def _abandon(call: asyncio.Future) -> None:
    """Cancels an actor call nobody waits for any more; the actor's death (it is about
    to be killed) that may end the call first is then retrieved, not logged as "never
    retrieved"."""
    call.cancel()
    call.add_done_callback(lambda done: done.cancelled() or done.exception())
