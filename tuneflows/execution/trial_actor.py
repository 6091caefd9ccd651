"""The Ray actor that hosts one trial's trainable at a time and runs its rounds."""

from __future__ import annotations

import os
import socket
import time
import traceback
from typing import Any, Mapping, Optional

from tuneflows import result as R
from tuneflows.execution.function_runner import (
    FunctionFinished,
    FunctionTrainable,
    TrialFunctionError,
)
from tuneflows.execution.ray_session import node_ip_address
from tuneflows.execution.working_dir import enter_trial_dir
from tuneflows.model.rounds import RoundOutcome, RoundRequest
from tuneflows.trainable import Trainable, TrialIdentity


class TrialActor:
    """Holds a trainable and runs rounds of its iterations.

    One actor serves many trials in turn (``start_trial`` replaces the trainable), so
    a Ray worker is started once per slot, not once per trial. It runs two calls at a
    time (``max_concurrency=2``), so that :meth:`request_stop` reaches a round in play.
    """

    def __init__(self) -> None:
        self._trainable: Optional[Trainable] = None
        self._trial_id: Optional[str] = None
        self._stop_requested: Optional[str] = None  # the trial a client asked to stop
        self._progress_at = time.monotonic()  # the round's start or its latest result
        R.set_node_ip(node_ip_address())

    def node_info(self) -> dict[str, Any]:
        """The pid and hostname of this actor's process: ``{"pid": ..., "hostname": ...}``."""
        return {"pid": os.getpid(), "hostname": socket.gethostname()}

    def start_trial(
        self,
        trainable_cls: type[Trainable],
        config: Mapping[str, Any],
        info: TrialIdentity,
        checkpoint: Optional[bytes] = None,
    ) -> Optional[str]:
        """Creates the trial's trainable in the trial's directory (the process's working
        directory from now on), restoring ``checkpoint`` if given.

        Returns:
            None, or the formatted traceback when setup or restore failed.
        """
        self.stop_trial()
        self._trial_id = info.trial_id
        try:
            enter_trial_dir(info)
            self._trainable = trainable_cls(config=dict(config), trial_info=info)
            if checkpoint is not None:
                self._trainable.restore_from_object(checkpoint)
        except Exception:  # noqa: BLE001 - returned to the driver as the trial's error
            return traceback.format_exc()
        return None

    def request_stop(self, trial_id: str) -> None:
        """A client asked ``trial_id`` to stop: the round in play (or the next one) ends
        the trial at its next result. Ignored once the actor hosts another trial."""
        self._stop_requested = trial_id

    def seconds_since_result(self) -> float:
        """Seconds since the round in play began or its trainable's latest result (the
        driver asks while it waits, to tell a long round from a hung trainable)."""
        return time.monotonic() - self._progress_at

    def run_round(self, request: RoundRequest) -> RoundOutcome:
        """Runs iterations until the request's limits; never raises for trainable errors."""
        trainable = self._require()
        outcome = RoundOutcome()
        started = self._progress_at = time.monotonic()

        def accept(result: dict[str, Any]) -> bool:
            """Takes one result; whether the round goes on."""
            self._progress_at = time.monotonic()
            outcome.results.append(result)
            if self._stop_requested is not None and self._stop_requested == self._trial_id:
                outcome.finished = outcome.stopped_by_client = True
                return False
            outcome.stop_key = R.reached(result, request.stop)
            if outcome.stop_key is not None or result.get(R.DONE):
                outcome.finished = True
                result[R.DONE] = True
                return False
            iteration = result[R.TRAINING_ITERATION]
            return not (
                (request.checkpoint_freq and iteration % request.checkpoint_freq == 0)
                or R.reached(result, request.until) is not None
                or time.monotonic() - started >= request.max_seconds
            )

        try:
            trainable.train_round(accept)
        except FunctionFinished:
            outcome.finished = True
        except TrialFunctionError as exc:
            outcome.error = exc.args[0]
            return outcome
        except Exception:  # noqa: BLE001 - returned to the driver as the trial's error
            outcome.error = traceback.format_exc()
            return outcome
        if outcome.results and self._checkpoint_due(outcome, request, trainable):
            try:
                outcome.checkpoint = trainable.save_to_object()
                outcome.checkpoint_iteration = trainable.checkpoint_iteration
            except Exception:  # noqa: BLE001
                outcome.error = traceback.format_exc()
        return outcome

    @staticmethod
    def _checkpoint_due(outcome: RoundOutcome, request: RoundRequest,
                        trainable: Trainable) -> bool:
        if trainable.has_new_checkpoint():  # a function reported one in this round
            return True
        last = outcome.results[-1][R.TRAINING_ITERATION]
        if request.checkpoint_freq and last % request.checkpoint_freq == 0:
            return True
        return outcome.finished and request.checkpoint_at_end

    def save(self) -> bytes:
        """A checkpoint of the current trainable, as bytes."""
        return self._require().save_to_object()

    def can_checkpoint(self) -> bool:
        """Whether the hosted trainable can be checkpointed now: a class implementing
        ``_save``/``_restore``, or a function whose newest reported checkpoint is of its
        latest result."""
        trainable = self._require()
        if isinstance(trainable, FunctionTrainable):
            return trainable.checkpoint_is_current()
        return trainable.can_checkpoint()

    def stop_trial(self) -> bool:
        """Stops the hosted trainable. Returns False when it could not be stopped
        cleanly (a function ignoring the stop); the actor must then be killed."""
        trainable, self._trainable = self._trainable, None
        if trainable is None:
            return True
        try:
            trainable.stop()
        except Exception:  # noqa: BLE001 - a failing _stop must not block reuse
            traceback.print_exc()
        if isinstance(trainable, FunctionTrainable):
            return trainable.stopped_cleanly()
        return True

    def _require(self) -> Trainable:
        if self._trainable is None:
            raise RuntimeError("No trial is running on this actor.")
        return self._trainable
