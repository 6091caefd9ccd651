"""Runs a function trainable in a thread.

The function never returns control between results, so it runs in its own thread. In a
round (``train_round``) the thread itself completes each reported result and asks the
round whether to go on, and hands control back only when the round ends: one thread
switch per round instead of two per result (≈ 185 µs of CPU per result on a 2-core
machine, more than the rest of a no-op iteration). ``train()`` hands over each result.
Either way ``reporter(**metrics)`` blocks when control goes back, so the trial is
pausable between results and runs no iteration past the one at which it was stopped.
"""

from __future__ import annotations

import contextlib
import inspect
import queue
import shutil
import tempfile
import threading
import time
import traceback
from typing import Any, Callable, Iterator, Mapping, Optional

from tuneflows.checkpoint import Checkpoint
from tuneflows.execution.function_checkpoints import ReportedCheckpoints
from tuneflows.result import as_metrics
from tuneflows.trainable import Trainable

_current_reporter: Optional["StatusReporter"] = None

#: A config key of the seed's function runner (its batching interval), which it kept out
#: of the config a function gets; tuneflows batches on its own and does the same.
SEED_RUNNER_KEYS = ("script_min_iter_time_s",)


class StopTrial(BaseException):
    """Raised inside a function trainable's thread to end it (not an ``Exception``, so
    user ``except Exception`` blocks do not swallow it)."""


class StatusReporter:
    """The ``reporter`` passed to ``f(config, reporter)``; ``reporter(**metrics)``
    reports one result and waits until tuneflows asks for the next one."""

    def __init__(self, trainable: "FunctionTrainable") -> None:
        self._trainable = trainable
        self._results: "queue.Queue[tuple[str, Any]]" = queue.Queue()
        self._resume = threading.Semaphore(0)
        self._stopping = False
        self._failed = False
        self._accept: Optional[Callable[[dict[str, Any]], bool]] = None
        self._last_report = time.time()

    def __call__(self, result: Optional[Any] = None, /, *, checkpoint: Optional[Checkpoint] = None,
                 **metrics: Any) -> None:
        """Reports ``metrics`` as one result (one training iteration); the seed's
        ``reporter(TrainingResult(...))`` (or a dict) is accepted too, and Ray Tune 2's
        ``checkpoint`` (packed now: the function may delete its directory next)."""
        if result is not None:
            metrics = {**dict(as_metrics(result)), **metrics}
        if self._stopping:
            raise StopTrial()
        if checkpoint is not None:
            self._trainable.checkpoints.hold(checkpoint)
        now = time.time()
        metrics.setdefault("time_this_iter_s", now - self._last_report)
        if self._accept is None:
            self._results.put(("result", metrics))
        elif self._accepted(metrics, now):
            self._last_report = time.time()
            return
        else:
            self._results.put(("round_over", None))
        self._resume.acquire()
        if self._stopping:
            raise StopTrial()
        self._last_report = time.time()

    def _accepted(self, metrics: dict[str, Any], now: float) -> bool:
        """Completes a result in the round and asks whether the round goes on; a failure
        here ends the trial as an error (StopTrial is not caught by user code)."""
        try:
            return self._accept(self._trainable.complete(metrics, now))  # type: ignore[misc]
        except Exception:  # noqa: BLE001 - handed to the driver as the trial's error
            self._failed = True
            self._stopping = True
            self._results.put(("error", traceback.format_exc()))
            raise StopTrial() from None


def report(metrics: Optional[Mapping[str, Any]] = None, /, *,
           checkpoint: Optional[Checkpoint] = None, **kwargs: Any) -> None:
    """Reports one result from a function trainable written as ``f(config)``: Ray Tune
    1.x's keywords or Ray Tune 2's dict, with an optional checkpoint.

    Example:
        >>> def train(config):
        ...     for step in range(10):
        ...         tuneflows.report(mean_accuracy=step / 10)          # Ray Tune 1.x
        ...         tuneflows.report({"mean_accuracy": step / 10})      # Ray Tune 2
        >>> def train_with_checkpoints(config):
        ...     with tempfile.TemporaryDirectory() as directory:
        ...         ...                                                 # save state there
        ...         tuneflows.report({"loss": 0.1},
        ...                          checkpoint=tuneflows.Checkpoint.from_directory(directory))

    Raises:
        RuntimeError: When called outside a tuneflows trial.
        TypeError: ``checkpoint`` is not a :class:`~tuneflows.Checkpoint`.
    """
    if _current_reporter is None:
        raise RuntimeError("tuneflows.report() was called outside a tuneflows trial.")
    _current_reporter(metrics, checkpoint=checkpoint, **kwargs)


def get_checkpoint() -> Optional[Checkpoint]:
    """The checkpoint the running trial was restored from (after a failure, a pause or
    a PBT exploit), or None when it starts from scratch.

    Example:
        >>> def train(config):
        ...     checkpoint = tuneflows.get_checkpoint()
        ...     if checkpoint:
        ...         with checkpoint.as_directory() as directory:
        ...             ...                                             # load state

    Raises:
        RuntimeError: When called outside a tuneflows trial.
    """
    if _current_reporter is None:
        raise RuntimeError("tuneflows.get_checkpoint() was called outside a tuneflows trial.")
    return _current_reporter._trainable.checkpoints.restored


@contextlib.contextmanager
def checkpoint_dir(step: int) -> Iterator[str]:
    """Ray Tune 1.x's function checkpoints: the state written in the yielded directory
    is the checkpoint of the next ``report``.

    Example:
        >>> def train(config, checkpoint_dir=None):
        ...     for step in range(10):
        ...         with tuneflows.checkpoint_dir(step=step) as directory:
        ...             ...                                             # save state there
        ...         tuneflows.report(loss=1 / (step + 1))

    Raises:
        RuntimeError: When called outside a tuneflows trial.
    """
    if _current_reporter is None:
        raise RuntimeError("tuneflows.checkpoint_dir() was called outside a tuneflows trial.")
    directory = tempfile.mkdtemp(prefix=f"checkpoint_{step}_")
    try:
        yield directory
        _current_reporter._trainable.checkpoints.hold(Checkpoint(directory))
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _second_parameter(func: Callable[..., Any]) -> Optional[str]:
    """The name of ``func``'s second positional parameter (None for ``f(config)``):
    ``reporter`` in the seed's ``f(config, reporter)``, ``checkpoint_dir`` in Ray Tune
    1.x's ``f(config, checkpoint_dir=None)``."""
    params = [
        p for p in inspect.signature(func).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    return params[1].name if len(params) >= 2 else None


class FunctionTrainable(Trainable):
    """Adapts ``f(config, reporter)``, ``f(config)`` or ``f(config, checkpoint_dir=None)``
    to the Trainable interface.

    A function never returns control, so tuneflows cannot ask it for a checkpoint: it
    checkpoints what it reports (``report(..., checkpoint=...)``) and is otherwise
    pausable in memory between results. A dict it returns is its final result. The
    function gets the trial's config without the seed's ``script_min_iter_time_s``.
    """

    _function: Callable[..., Any]

    def _setup(self) -> None:
        self._reporter = StatusReporter(self)
        self._thread: Optional[threading.Thread] = None
        self._finished = False
        self.checkpoints = ReportedCheckpoints()

    def _call_function(self, config: dict[str, Any]) -> Any:
        second = _second_parameter(self._function)
        if second == "checkpoint_dir":
            restored = self.checkpoints.restored
            return self._function(config, checkpoint_dir=restored.path if restored else None)
        if second is not None:
            return self._function(config, self._reporter)
        return self._function(config)

    def _run(self) -> None:
        global _current_reporter
        _current_reporter = self._reporter
        config = {k: v for k, v in self.config.items() if k not in SEED_RUNNER_KEYS}
        try:
            returned = self._call_function(config)
            if isinstance(returned, Mapping):
                self._reporter(returned)  # Ray Tune 2: a returned dict is the final result
            self._reporter._results.put(("done", None))
        except StopTrial:
            if not self._reporter._failed:
                self._reporter._results.put(("stopped", None))
        except BaseException:  # noqa: BLE001 - handed to the driver as the trial's error
            self._reporter._results.put(("error", traceback.format_exc()))

    def _train(self) -> dict[str, Any]:
        _, payload = self._continue(accept=None)
        return dict(payload)

    def train_round(self, accept: Callable[[dict[str, Any]], bool]) -> None:
        """Runs the function until ``accept(result)`` returns False, completing each
        result in the function's thread.

        Raises:
            FunctionFinished: The function returned (or was stopped).
            TrialFunctionError: The function raised.
        """
        self._continue(accept)

    def _continue(self, accept: Optional[Callable[[dict[str, Any]], bool]]) -> tuple[str, Any]:
        """Lets the function run until it hands control back: after one result
        (``accept`` None) or at the end of the round."""
        if self._finished:
            raise FunctionFinished()
        self._reporter._accept = accept
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="tuneflows-trial", daemon=True)
            self._thread.start()
        else:
            self._reporter._resume.release()
        kind, payload = self._reporter._results.get()
        if kind in ("result", "round_over"):
            return kind, payload
        self._finished = True
        if kind == "error":
            raise TrialFunctionError(payload)
        raise FunctionFinished()

    def complete(self, metrics: Optional[Mapping[str, Any]], start: float) -> dict[str, Any]:
        """As :meth:`Trainable.complete`; a checkpoint reported with these metrics is
        tied to the completed result's iteration."""
        result = super().complete(metrics, start)
        self.checkpoints.attach(self._counters())
        return result

    def _counters(self) -> dict[str, Any]:
        return {"iteration": self.iteration, "time_total": self._time_total,
                "timesteps_total": self._timesteps_total}

    def has_new_checkpoint(self) -> bool:
        """Whether the function reported a checkpoint the driver has not taken yet."""
        return self.checkpoints.has_new

    @property
    def checkpoint_iteration(self) -> int:
        """The iteration of the newest reported (or restored) checkpoint."""
        return self.checkpoints.iteration or 0

    def checkpoint_is_current(self) -> bool:
        """Whether the newest checkpoint is of the latest result (a pause then loses
        nothing; else the trial is paused in memory)."""
        return self.checkpoints.iteration == self.iteration

    def save_to_object(self) -> bytes:
        """The newest reported (or restored) checkpoint, as bytes.

        Raises:
            ValueError: The function reported no checkpoint.
        """
        return self.checkpoints.packed()

    def restore(self, checkpoint_path: str) -> None:
        """Restores the counters and keeps the directory for ``get_checkpoint()``."""
        super().restore(checkpoint_path)
        self.checkpoints.restore_from(checkpoint_path, self._counters())

    def _restore(self, checkpoint: Any) -> None:
        """Nothing to load here: the function reads ``get_checkpoint()`` when it starts."""

    def _stop(self) -> None:
        self._reporter._stopping = True
        if self._thread is not None and self._thread.is_alive():
            self._reporter._resume.release()
            self._thread.join(timeout=5.0)
        self.checkpoints.discard()

    def stopped_cleanly(self) -> bool:
        """Whether the function's thread has ended (False: it ignores the stop)."""
        return self._thread is None or not self._thread.is_alive()


class FunctionFinished(Exception):
    """The function trainable returned: the trial is over."""


class TrialFunctionError(Exception):
    """The function trainable raised; ``args[0]`` is its formatted traceback."""


def wrap_function(func: Callable[..., Any]) -> type[FunctionTrainable]:
    """Returns a FunctionTrainable subclass running ``func``."""
    if not callable(func):
        raise TypeError(f"Trainable function must be callable, got {func!r}.")
    name = getattr(func, "__name__", "func")
    return type(name, (FunctionTrainable,), {"_function": staticmethod(func)})


def to_trainable_class(trainable: Any) -> type[Trainable]:
    """A Trainable class for a function or Trainable subclass."""
    if isinstance(trainable, type) and issubclass(trainable, Trainable):
        return trainable
    return wrap_function(trainable)

